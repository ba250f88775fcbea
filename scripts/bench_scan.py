"""Times every scan implementation (forward + backward) over L x n, one subprocess a cell, and prints a table.

  python scripts/bench_scan.py                  # the full table: L in {1024, 4096, 16384} x n in {64, 256}
  python scripts/bench_scan.py --quick          # L 1024 x n 64 only, 2 timed runs: a smoke test
  python scripts/bench_scan.py --kinds=dense --lengths=2048 --widths=192 --batch=32

The command line of tools/bench_scan.py, whose docstring says what a cell measures and how.
"""

import json
import os
import sys

from absl import app, flags

from tools import bench_scan

_QUICK = flags.DEFINE_bool("quick", False, "One small cell per implementation (L 1024, n 64), 2 timed runs.")
_KINDS = flags.DEFINE_list("kinds", ["diag", "dense"], "Recurrence kinds: diag, dense.")
_LENGTHS = flags.DEFINE_list("lengths", ["1024", "4096", "16384"], "Sequence lengths L.")
_WIDTHS = flags.DEFINE_list("widths", ["64", "256"], "Hidden widths n.")
_IMPLS = flags.DEFINE_list("impls", None, "Implementations (default: all but the oracle, plus 'authors').")
_BATCH = flags.DEFINE_integer("batch", 8, "Batch size B.")
_REPS = flags.DEFINE_integer("reps", 3, "Timed runs a cell (median).")
_TIMEOUT = flags.DEFINE_integer("cell_timeout_s", 300, "A cell that takes longer is reported as a timeout.")
_JSON = flags.DEFINE_string("json", None, "Append each cell as one JSON line to this file.")
_CELL = flags.DEFINE_string("cell", None, "Internal: run one cell 'kind,impl,L,n' and print it as JSON.")


def main(argv):
  del argv
  if _CELL.value:
    kind, impl, length, width = _CELL.value.split(",")
    print(json.dumps(bench_scan.run_cell(kind, impl, int(length), int(width), _BATCH.value, _REPS.value)))
    return
  for kind in _KINDS.value:
    if kind not in bench_scan.AUTHORS_IMPL:
      raise app.UsageError(f"--kinds: unknown kind {kind!r}; valid: {sorted(bench_scan.AUTHORS_IMPL)}")
  lengths = [1024] if _QUICK.value else [int(x) for x in _LENGTHS.value]
  widths = [64] if _QUICK.value else [int(x) for x in _WIDTHS.value]
  reps = 2 if _QUICK.value else _REPS.value
  print(f"# bench_scan: batch {_BATCH.value}, {reps} timed runs a cell, load average {os.getloadavg()}",
        flush=True)
  rows = []
  for kind in _KINDS.value:
    for width in widths:
      for length in lengths:
        for impl in _IMPLS.value or bench_scan.impls_for(kind):
          row = bench_scan.cell_in_subprocess([sys.executable, os.path.abspath(__file__)], kind, impl, length, width,
                                              _BATCH.value, reps, _TIMEOUT.value)
          rows.append(row)
          print(json.dumps(row), flush=True)
          if _JSON.value:
            with open(_JSON.value, "a") as f:
              f.write(json.dumps(row) + "\n")
  print(bench_scan.format_table(rows))
  print(f"# load average at the end {os.getloadavg()}")


if __name__ == "__main__":
  app.run(main)
