"""Times the jitted training step of any config: compile time, median step time, peak memory, GFLOP/s.

  python scripts/bench_step.py --config configs/listops.py --config.model.recurrence=dense   # one row
  python scripts/bench_step.py --table authors       # the authors' ListOps configs, each in its own process
  python scripts/bench_step.py --table authors --config configs/listops.py --config.model.remat=full   # + overrides
  python scripts/bench_step.py --table pathx         # Path-X (L 16,384) at the paper size: diag, LRU, dense n 256
  python scripts/bench_step.py --config configs/listops.py --profile out/profile   # + a Perfetto trace of a step
  python scripts/bench_step.py --config configs/listops.py --floor   # + the step's matmuls, each timed alone
  python scripts/bench_step.py --config configs/listops.py --hlo step.hlo   # + the compiled step's HLO, to diff

The batch is synthetic (random tokens or values of the task's shape and the config's batch size and length), so
no data set is needed. Peak memory is the process's peak resident set (ru_maxrss) minus its size before the model
was built, in a fresh process per row: "step peak" is the peak while the timed steps run (the kernel's VmHWM,
reset after compiling and one warm-up step), "process peak" also counts compilation. XLA's own estimate of the
step's temporaries is printed beside them. Like train.py, it re-executes itself with glibc's malloc asking for
transparent huge pages (lra/train/host_memory.py; `GLIBC_TUNABLES=glibc.malloc.hugetlb=0` keeps glibc's default, to
compare); the JSON row counts the minor page faults a step.
GFLOP/s divides XLA's flop count of the compiled step by the median step time; the peak it is compared with is a
float32 matmul measured on this machine at the shapes the model uses ((B*L, d_model) x (d_model, d_model)).
`--floor` also times every matmul of the compiled step on its own (tools/hlo_dots.py) and prints them: their sum
is a floor for the step on this machine, whatever the code around them does.
`--hlo` writes the compiled step's optimized HLO without its source locations (metadata, stack frames), so two
checkouts that compile the same program give the same file (`diff` them).
"""

import json
import os
import subprocess
import sys

from absl import app, flags
from ml_collections import config_flags

from tools import bench_step

_CONFIG = config_flags.DEFINE_config_file("config", None, "configs/<task>.py[:preset]", lock_config=True)
_STEPS = flags.DEFINE_integer("steps", 3, "Timed steps after one warm-up step.")
_TABLE = flags.DEFINE_enum("table", None, sorted(bench_step.TABLES),
                           "Run a predefined table of configs (tools/bench_step.TABLES), one process a row.")
_JSON = flags.DEFINE_string("json", None, "Append the row as JSON to this file.")
_PROFILE = flags.DEFINE_string("profile", None, "Also trace one step with jax.profiler into this directory.")
_FLOOR = flags.DEFINE_bool("floor", False, "Also time each matmul of the step alone and print their sum.")
_HLO = flags.DEFINE_string("hlo", None, "Also write the compiled step's HLO, source locations stripped, here.")

def main(argv):
  del argv
  if _TABLE.value:
    out = os.path.abspath(_JSON.value or "bench_step.jsonl")
    # Overrides given with the table apply to every row: --table authors --config.model.remat=full
    overrides = [arg for arg in sys.argv[1:] if arg.startswith("--config.")]
    print(bench_step.HEADER, flush=True)
    for config, row_overrides in bench_step.TABLES[_TABLE.value]:
      cmd = [sys.executable, os.path.abspath(__file__), "--config", config, *row_overrides, f"--json={out}",
             "--quiet_row", f"--steps={_STEPS.value}", *overrides]
      proc = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(cmd[1])))
      if proc.returncode:
        print(f"| {config} {' '.join(row_overrides)} | failed: {proc.stderr.strip().splitlines()[-1:]} |")
        continue
      print(proc.stdout.strip().splitlines()[-1], flush=True)
    return
  if _CONFIG.value is None:
    sys.exit("usage: bench_step.py --config configs/<task>.py [--config.x=...] | --table {authors,pathx}")
  row = bench_step.bench(_CONFIG.value, _STEPS.value, hlo_path=_HLO.value, profile_dir=_PROFILE.value,
                         floor=_FLOOR.value)
  if _JSON.value:
    with open(_JSON.value, "a") as f:
      f.write(json.dumps(row) + "\n")
  if not flags.FLAGS.quiet_row:
    print(bench_step.HEADER)
  print(bench_step.row_text(row))
  if _FLOOR.value:
    print()
    print(bench_step.floor_table(row))


if __name__ == "__main__":
  from lra.train import host_memory
  host_memory.reexec_with_huge_pages()
  flags.DEFINE_bool("quiet_row", False, "Print only the row (used by --table).")
  app.run(main)
