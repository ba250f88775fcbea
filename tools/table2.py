"""Table 2: the long-horizon tasks (copy, adding, forecast) per initializer, from a sweep's results.json files.

Columns: copy test per-symbol accuracy (chance 1/8), adding test MSE (the constant predictor's beside it),
forecast test MSE relative to persistence (< 1 beats it) and how many rollouts left the bounded range. A cell
is mean ± std over the finished seeds; "–" with the count when seeds diverged; "n/r" when no run is there.
A second table gives each run's largest state |h_t| (over layers) at its last validation, from metrics.jsonl:
where an explosion stays below float32's overflow it shows there rather than as a divergence.
`plot_curves` draws every row's validation curve per task (mean over seeds) with the task's baseline, and
`plot_rollouts` the forecast rollouts' largest |value| over time (from each run's rollout.npy), as PNGs.
"""

import glob
import json
import os
from collections.abc import Sequence

import numpy as np

from configs.names import LONG_HORIZON_TASKS

# task -> (the result it reports, its header, the baseline key in results.json, the baseline's name)
COLUMNS = {
    "copy": ("test_metric", "copy: per-symbol acc. (↑)", "chance_accuracy", "chance"),
    "adding": ("test_metric", "adding: MSE (↓)", "constant_one_test_mse", "constant 1"),
    "forecast": ("test_mse_over_persistence", "forecast: MSE / persistence (↓)", None, "persistence = 1"),
}


def read_metrics(metrics_path: str):
  """The records of a metrics.jsonl, in order; none if it is missing, and a line cut by a kill is skipped."""
  if not os.path.exists(metrics_path):
    return
  with open(metrics_path) as f:
    for line in f:
      try:
        yield json.loads(line)
      except json.JSONDecodeError:
        continue


def last_val_max_abs_h(metrics_path: str) -> float | None:
  """The largest `val/layer_<k>/max_abs_h` over layers at the last validation in a metrics.jsonl (None if none)."""
  largest = None
  for record in read_metrics(metrics_path):
    values = [v for k, v in record.items() if k.startswith("val/layer_") and k.endswith("/max_abs_h")]
    if values:
      largest = max(float(v) for v in values)
  return largest


def val_curve(metrics_path: str, key: str) -> tuple[list[int], list[float]]:
  """(steps, values) of `key` over a metrics.jsonl's validation records."""
  records = [r for r in read_metrics(metrics_path) if key in r]
  return [int(r["step"]) for r in records], [float(r[key]) for r in records]


def read_runs(root: str) -> list[dict]:
  """Every `<root>/<task>/<label>/seed<k>/results.json`, with its label, path and last validation's max |h|."""
  runs = []
  for path in sorted(glob.glob(os.path.join(root, "*", "*", "seed*", "results.json"))):
    with open(path) as f:
      result = json.load(f)
    seed_dir = os.path.dirname(path)
    runs.append({**result, "label": os.path.basename(os.path.dirname(seed_dir)), "path": path,
                 "val_max_abs_h": last_val_max_abs_h(os.path.join(seed_dir, "metrics.jsonl"))})
  return runs


def cell(results: Sequence[dict], key: str, digits: int) -> str:
  """mean ± std of `key` over the runs that did not diverge; '–' with the count when some diverged."""
  diverged = sum(bool(r["diverged"]) for r in results)
  if not results:
    return "n/r"
  if diverged:
    return f"– ({diverged}/{len(results)} div.)"
  values = np.array([r[key] for r in results], float)
  std = f" ± {values.std():.{digits}f}" if len(values) > 1 else ""
  return f"{values.mean():.{digits}f}{std} ({len(values)} seed{'s' if len(values) > 1 else ''})"


def rollout_cell(results: Sequence[dict]) -> str:
  """How many finished forecast runs' rollouts left the bounded range, and the earliest step they did."""
  done = [r for r in results if not r["diverged"] and r.get("rollout_left_range") is not None]
  if not done:
    return "n/r"
  left = [r["rollout_left_at_step"] for r in done if r["rollout_left_range"]]
  when = f" (from step {min(left)})" if left else f" ({done[0]['rollout_steps']} steps)"
  return f"{len(left)}/{len(done)} left{when}"


def state_cell(results: Sequence[dict]) -> str:
  """The median over seeds of the last validation's max |h|, with the range; diverged seeds are counted apart."""
  if not results:
    return "n/r"
  diverged = sum(bool(r["diverged"]) for r in results)
  values = [r["val_max_abs_h"] for r in results if not r["diverged"] and r.get("val_max_abs_h") is not None]
  parts = []
  if values:
    low, high = min(values), max(values)
    spread = f" ({low:.2g}-{high:.2g})" if len(values) > 1 else ""
    parts.append(f"{float(np.median(values)):.2g}{spread}")
  if diverged:
    parts.append(f"{diverged}/{len(results)} div.")
  return "; ".join(parts) or "n/r"


def to_markdown(runs: Sequence[dict], tasks: Sequence[str] = LONG_HORIZON_TASKS) -> str:
  """The table (rows: labels seen; columns: tasks, plus the forecast rollout), the baselines, commits, CPUs."""
  labels = sorted({r["label"] for r in runs})
  header = ["row"] + [COLUMNS[t][1] for t in tasks] + (["forecast rollout"] if "forecast" in tasks else [])
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for label in labels:
    row = [label]
    for task in tasks:
      key = COLUMNS[task][0]
      row.append(cell([r for r in runs if r["task"] == task and r["label"] == label], key, 3))
    if "forecast" in tasks:
      row.append(rollout_cell([r for r in runs if r["task"] == "forecast" and r["label"] == label]))
    lines.append("| " + " | ".join(row) + " |")
  baselines = ["baseline"]
  for task in tasks:
    _, _, key, name = COLUMNS[task]
    values = [r[key] for r in runs if r["task"] == task and key and r.get(key) is not None]
    baselines.append(f"{name} {np.mean(values):.3f}" if values else name)
  if "forecast" in tasks:
    baselines.append("")
  lines.append("| " + " | ".join(baselines) + " |")
  lines += ["", "Largest state max |h_t| over layers at the last validation (median over seeds, with the range):",
            "", "| row | " + " | ".join(tasks) + " |", "|" + "---|" * (len(tasks) + 1)]
  for label in labels:
    cells = [state_cell([r for r in runs if r["task"] == task and r["label"] == label]) for task in tasks]
    lines.append(f"| {label} | " + " | ".join(cells) + " |")
  commits = sorted({(r["provenance"]["commit"][:7] + ("+dirty" if r["provenance"].get("dirty") else ""))
                    for r in runs})
  cpus = sorted({str(r["provenance"].get("cpu_model")) for r in runs})
  walls = [r["wall_s"] for r in runs if r.get("wall_s") is not None]
  wall = f"; train.py wall time {sum(walls) / 60:.0f} min in all, median {np.median(walls):.0f} s a run" if walls else ""
  lines += ["", f"Runs: {len(runs)}; commits: {', '.join(commits) or 'none'}; CPU: {', '.join(cpus) or 'none'}{wall}."]
  return "\n".join(lines) + "\n"


# task -> (metrics.jsonl key, y label, log scale, the results.json baseline key)
CURVES = {
    "copy": ("val/accuracy", "val per-symbol accuracy", False, "chance_accuracy"),
    "adding": ("val/loss", "val MSE", True, "constant_one_test_mse"),
    "forecast": ("val/loss", "val MSE", True, "persistence_test_mse"),
}


def plot_curves(runs: Sequence[dict], out_png: str, tasks: Sequence[str] = LONG_HORIZON_TASKS) -> dict:
  """One panel per task: each row's validation curve (mean over the seeds that logged it, cut to the shortest, so
  a seed that diverged ends it), the baseline dotted. Returns {(task, label): (steps, mean)} as drawn."""
  import matplotlib
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt

  labels = sorted({r["label"] for r in runs})
  colors = {label: plt.get_cmap("tab10")(i % 10) for i, label in enumerate(labels)}
  fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
  drawn = {}
  for ax, task in zip(axes[0], tasks):
    key, ylabel, log, baseline_key = CURVES[task]
    task_runs = [r for r in runs if r["task"] == task]
    for label in labels:
      curves = [val_curve(os.path.join(os.path.dirname(r["path"]), "metrics.jsonl"), key)
                for r in task_runs if r["label"] == label]
      curves = [c for c in curves if c[0]]
      if not curves:
        continue
      length = min(len(steps) for steps, _ in curves)
      mean = np.nanmean([values[:length] for _, values in curves], axis=0)
      drawn[task, label] = (curves[0][0][:length], mean.tolist())
      ax.plot(curves[0][0][:length], mean, color=colors[label], label=label,
              linestyle="--" if label.startswith("dense") else "-")
    baselines = [r[baseline_key] for r in task_runs if r.get(baseline_key) is not None]
    if baselines:
      ax.axhline(float(np.mean(baselines)), color="black", linestyle=":", label="baseline")
    if log:
      ax.set_yscale("log")
    ax.set(title=f"{task} (mean over seeds)", xlabel="step", ylabel=ylabel)
  handles, names = axes[0][0].get_legend_handles_labels()
  for ax in axes[0][1:]:
    for h, n in zip(*ax.get_legend_handles_labels()):
      if n not in names:
        handles.append(h)
        names.append(n)
  fig.legend(handles, names, loc="center right", fontsize=8)
  fig.tight_layout(rect=(0, 0, 0.82, 1))
  fig.savefig(out_png, dpi=110)
  plt.close(fig)
  return drawn


def plot_rollouts(runs: Sequence[dict], out_png: str) -> dict:
  """The forecast rollouts: per row, the largest |forecast| over its examples and seeds at each step (log scale),
  and the bounded range's edge dotted. Returns {label: envelope (steps,)} as drawn; rows without rollout.npy are
  left out."""
  import matplotlib
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt

  envelopes, bounds = {}, []
  for label in sorted({r["label"] for r in runs if r["task"] == "forecast"}):
    arrays = []
    for r in runs:
      path = os.path.join(os.path.dirname(r["path"]), "rollout.npy")
      if r["task"] == "forecast" and r["label"] == label and os.path.exists(path):
        arrays.append(np.abs(np.load(path)).max(axis=1))
        bounds.append(r["rollout_bound"])
    if arrays:
      length = min(len(a) for a in arrays)
      envelopes[label] = np.max([a[:length] for a in arrays], axis=0)
  fig, ax = plt.subplots(figsize=(7, 4))
  for i, (label, envelope) in enumerate(envelopes.items()):
    ax.plot(np.arange(1, len(envelope) + 1), np.where(np.isfinite(envelope), envelope, np.nan), label=label,
            color=plt.get_cmap("tab10")(i % 10), linestyle="--" if label.startswith("dense") else "-")
  if bounds:
    ax.axhline(float(np.mean(bounds)), color="black", linestyle=":", label="bounded range")
  ax.set(yscale="log", xscale="log", xlabel="rollout step", ylabel="largest |forecast| (examples, seeds)",
         title="forecast: autoregressive rollout")
  ax.legend(fontsize=8, loc="upper left")
  fig.tight_layout()
  fig.savefig(out_png, dpi=110)
  plt.close(fig)
  return envelopes
