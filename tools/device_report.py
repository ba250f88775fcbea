"""The report of scripts/device_check.sh: its stages' JSON rows, metrics.jsonl and results.json as Markdown.

`render(work, prov, tiny, total_s)` reads what the stages left in the work folder:

- status.txt: one line a stage, `NAME HOW SECONDS` (HOW: ok, stopped_at_budget, exit_N, skipped_no_budget);
- NAME.log: a stage's output (its last line is quoted for a stage that did not end ok);
- scan.jsonl, step.jsonl, pathx.jsonl: the rows of scripts/bench_scan.py and scripts/bench_step.py (`--json`; the
  ListOps and the Path-X paper configs);
- train/metrics.jsonl, train/results.json: the train.py run.

Its command line is scripts/device_report.py, which device_check.sh calls once the stages are done.
"""

import json
import os
import statistics

SCAN_HEADER = ["## Scans (`scripts/bench_scan.py`): forward + backward seconds / peak MB", "",
               "| kind | L | n | B | impl | auto | seconds | peak MB | finite |",
               "|---|---|---|---|---|---|---|---|---|"]
STEP_KEYS = ("recurrence", "n_layers", "d_model", "d_hidden", "batch_size", "length", "scan", "remat")
STEP_NUMBERS = ("compile_s", "step_s", "peak_gb")


def read_rows(path: str) -> list[dict]:
  """The JSON lines of `path`; [] if it does not exist (a stage that wrote nothing)."""
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def read_status(work: str) -> list[list[str]]:
  """status.txt's lines as [name, how, seconds]."""
  with open(os.path.join(work, "status.txt")) as f:
    return [line.split() for line in f if line.strip()]


def scan_lines(rows: list[dict]) -> list[str]:
  """One table line a scan cell; a cell that failed shows its error instead of its numbers."""
  lines = []
  for r in rows:
    if "error" in r:
      lines.append(f"| {r['kind']} | {r['length']} | {r['width']} | {r['batch']} | {r['impl']} | | "
                   f"({r['error'][:60]}) | | |")
    else:
      lines.append(f"| {r['kind']} | {r['length']} | {r['width']} | {r['batch']} | {r['impl']} | {r.get('auto', '')} "
                   f"| {r['seconds']:.4f} | {r['peak_mb']:.0f} | {r['finite']} |")
  return lines


def step_lines(rows: list[dict]) -> list[str]:
  """One table line a bench_step row: its shape, then compile / step seconds and peak GB (blank if missing)."""
  lines = []
  for r in rows:
    cells = [str(r.get(k, "")) for k in STEP_KEYS]
    cells += [f"{r[k]:.3f}" if isinstance(r.get(k), (int, float)) else "" for k in STEP_NUMBERS]
    lines.append("| " + " | ".join(cells) + " |")
  return lines


def train_lines(metrics: list[dict], results: dict | None) -> list[str]:
  """Tokens a second at each log step, their median after the first (which includes compiling), and the end."""
  metrics = [m for m in metrics if "train/tokens_per_s" in m]
  lines = []
  if metrics:
    lines.append("tokens/s at each log step: " + ", ".join(f"{m['step']}: {m['train/tokens_per_s']:.0f}"
                                                          for m in metrics))
    steady = [m["train/tokens_per_s"] for m in metrics[1:]] or [metrics[0]["train/tokens_per_s"]]
    lines.append(f"\n**{statistics.median(steady):,.0f} tokens/s** (median over the log steps after the first, "
                 f"which includes compilation)")
  else:
    lines.append("no training metrics (see the train stage above)")
  if results is not None:
    lines.append(f"\nsteps {results['steps']}, wall {results['wall_s']:.1f} s, diverged {results['diverged']}, "
                 f"test accuracy {results['test_metric']}")
  return lines


def render(work: str, prov: dict, tiny: bool, total_s: int) -> str:
  """The whole report, from the work folder and a `lra.provenance.collect()` record."""
  from lra import provenance
  device = prov["gpu_model"] or f"{prov['device_kind']} ({prov['cpu_model']})"
  status = read_status(work)
  lines = [f"# Device check: {device}" + (" (--tiny, CPU)" if tiny else ""), "",
           "Written by `scripts/device_check.sh" + (" --tiny" if tiny else "") + f"` in {total_s} s.", "",
           f"- device: {provenance.describe_devices(prov)}, host CPU {prov['cpu_model']}",
           f"- commit: {provenance.describe_commit(prov)}",
           "- versions: " + ", ".join(f"{k} {v}" for k, v in prov["versions"].items()),
           "- stages (name, how it ended, seconds): " + "; ".join(" ".join(s) for s in status)]
  for name, how, _ in status:
    log = os.path.join(work, f"{name}.log")
    if how != "ok" and os.path.exists(log):
      with open(log) as f:
        last = [line.strip() for line in f if line.strip()][-1:] or ["(no output)"]
      lines.append(f"- {name} {how}: `{last[0][:200]}`")
  lines.append("")
  lines += SCAN_HEADER + scan_lines(read_rows(os.path.join(work, "scan.jsonl")))
  lines += ["", "## Training step (`scripts/bench_step.py`), ListOps paper config" + (" (tiny)" if tiny else ""), "",
            "| recurrence | layers | d_model | n | batch | L | scan | remat | compile s | step s | peak GB |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
  lines += step_lines(read_rows(os.path.join(work, "step.jsonl")))
  lines += ["", "## Training step (`scripts/bench_step.py`), Path-X paper config" + (" (tiny)" if tiny else ""), "",
            "| recurrence | layers | d_model | n | batch | L | scan | remat | compile s | step s | peak GB |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
  lines += step_lines(read_rows(os.path.join(work, "pathx.jsonl")))
  lines += ["", "## train.py, ListOps paper config" + (" (tiny)" if tiny else ", 200 steps"), ""]
  results_path = os.path.join(work, "train", "results.json")
  results = None
  if os.path.exists(results_path):
    with open(results_path) as f:
      results = json.load(f)
  lines += train_lines(read_rows(os.path.join(work, "train", "metrics.jsonl")), results)
  return "\n".join(lines) + "\n"
