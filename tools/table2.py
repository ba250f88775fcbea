"""Table 2: the long-horizon tasks (copy, adding, forecast) per initializer, from a sweep's results.json files.

Columns: copy test per-symbol accuracy (chance 1/8), adding test MSE (the constant predictor's beside it),
forecast test MSE relative to persistence (< 1 beats it) and how many rollouts left the bounded range. A cell
is mean ± std over the finished seeds; "–" with the count (and the steps) when seeds diverged; "n/r" when no run
is there.
A second table gives each run's largest state |h_t| (over layers) at its last validation, from metrics.jsonl:
where an explosion stays below float32's overflow it shows there rather than as a divergence.
`plot_curves` draws every row's validation curve per task (mean over seeds) with the task's baseline, and
`plot_rollouts` the forecast rollouts' largest |value| over time (from each run's rollout.npy), as PNGs.
The "memory at init" column is `inits.stability`'s median memory length -1/log(rho) of the slowest mode at
initialization for the row's initializer and parameters, at the runs' width (d_hidden) and length; `plot_memory`
draws each run's memory at initialization against its copy accuracy and forecast ratio, with Spearman's rank
correlation.
"""

import functools
import glob
import json
import math
import os
from collections.abc import Sequence

import numpy as np

from tools import cells

LONG_HORIZON_TASKS = ("copy", "adding", "forecast")  # Table 2's columns


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


def set_init_params(config_path: str) -> dict:
  """The set (not None) `model.init_params` of a run's config.json ({} when it has none)."""
  if not os.path.exists(config_path):
    return {}
  with open(config_path) as f:
    params = json.load(f).get("model", {}).get("init_params", {})
  return {key: value for key, value in params.items() if value is not None}


def read_runs(root: str) -> list[dict]:
  """Every `<root>/<task>/<label>/seed<k>/results.json`, with its label, path, last validation's max |h| and the
  set init_params of its config.json."""
  runs = []
  for path in sorted(glob.glob(os.path.join(root, "*", "*", "seed*", "results.json"))):
    with open(path) as f:
      result = json.load(f)
    seed_dir = os.path.dirname(path)
    runs.append({**result, "label": os.path.basename(os.path.dirname(seed_dir)), "path": path,
                 "val_max_abs_h": last_val_max_abs_h(os.path.join(seed_dir, "metrics.jsonl")),
                 "init_params": set_init_params(os.path.join(seed_dir, "config.json"))})
  return runs


@functools.lru_cache(maxsize=None)
def _predicted_memory(init, params_key, n, length, recurrence):
  from inits import stability  # here: the table itself needs no JAX
  try:
    return stability.predict(init, n, length, "dense" if recurrence == "dense" else "diag", dict(params_key),
                             n_layers=1)["memory_length"]
  except ValueError:  # the init has no value at this width (e.g. rescaled_glorot at n <= 163)
    return None


def memory_at_init(run: dict) -> float | None:
  """The predictor's median memory length (steps) at initialization for this run's init and init_params, at its
  d_hidden and max_length (None where the run does not say them or the init does not apply there)."""
  if any(run.get(key) is None for key in ("init", "d_hidden", "max_length", "recurrence")):
    return None
  params_key = tuple(sorted(run.get("init_params", {}).items()))
  return _predicted_memory(run["init"], params_key, int(run["d_hidden"]), int(run["max_length"]), run["recurrence"])


def memory_cell(results: Sequence[dict]) -> str:
  """The row's memory at initialization (one value, or the range over its runs' widths and lengths)."""
  values = {memory_at_init(r) for r in results}
  finite = sorted(v for v in values if v is not None)
  if not finite:
    return "n/r"
  text = [("∞" if math.isinf(v) else f"{v:.3g}") for v in (finite[0], finite[-1])]
  return text[0] if text[0] == text[1] else f"{text[0]}-{text[1]}"


def cell(results: Sequence[dict], key: str, digits: int) -> str:
  """mean ± std of `key` over the runs that did not diverge; '–' with the count and steps when some diverged."""
  diverged = [r for r in results if r["diverged"]]
  if not results:
    return "n/r"
  if diverged:
    return cells.diverged_cell(len(diverged), len(results), [r.get("diverged_step") for r in diverged])
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
  header = (["row"] + [COLUMNS[t][1] for t in tasks] + (["forecast rollout"] if "forecast" in tasks else [])
            + ["memory at init (steps)"])
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for label in labels:
    row = [label]
    for task in tasks:
      key = COLUMNS[task][0]
      row.append(cell([r for r in runs if r["task"] == task and r["label"] == label], key, 3))
    if "forecast" in tasks:
      row.append(rollout_cell([r for r in runs if r["task"] == "forecast" and r["label"] == label]))
    row.append(memory_cell([r for r in runs if r["label"] == label]))
    lines.append("| " + " | ".join(row) + " |")
  baselines = ["baseline"]
  for task in tasks:
    _, _, key, name = COLUMNS[task]
    values = [r[key] for r in runs if r["task"] == task and key and r.get(key) is not None]
    baselines.append(f"{name} {np.mean(values):.3f}" if values else name)
  if "forecast" in tasks:
    baselines.append("")
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


# task -> (results.json key, y label, log scale) of the memory figure
MEMORY_PANELS = {
    "copy": ("test_metric", "copy: test per-symbol accuracy", False),
    "forecast": ("test_mse_over_persistence", "forecast: test MSE / persistence", True),
}


def plot_memory(runs: Sequence[dict], out_png: str, tasks: Sequence[str] = ("copy", "forecast")) -> dict:
  """Each finished run's memory at initialization (x, log; an infinite memory drawn at the right edge, "∞")
  against its task's result (y), a point per run coloured by row (rows of one memory drawn side by side, a few
  percent apart), with Spearman's rank correlation over the runs
  (infinite memories rank above every finite one). Diverged runs and runs without a memory are left out (counted
  in the title). Returns {task: (spearman rho, p-value, number of runs)}; rho is None below 3 runs."""
  import matplotlib
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt
  from scipy import stats

  labels = sorted({r["label"] for r in runs})
  palette = "tab10" if len(labels) <= 10 else "tab20"
  colors = {label: plt.get_cmap(palette)(i % 20) for i, label in enumerate(labels)}
  fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks) + 2, 4.5), squeeze=False, layout="constrained")
  correlations = {}
  for ax, task in zip(axes[0], tasks):
    key, ylabel, log = MEMORY_PANELS[task]
    points = [(memory_at_init(r), r[key], r["label"]) for r in runs
              if r["task"] == task and not r["diverged"] and r.get(key) is not None]
    points = [p for p in points if p[0] is not None]
    left_out = sum(r["task"] == task for r in runs) - len(points)
    finite = [m for m, _, _ in points if math.isfinite(m)]
    infinity = 10 * max(finite) if finite else 1.0  # where an infinite memory is drawn
    drawn = [infinity if math.isinf(m) else m for m, _, _ in points]
    place = [round(math.log10(x), 2) for x in drawn]  # within 2%: one place
    for x, at, (_, value, label) in zip(drawn, place, points):
      # Rows that share a memory (s4d_lin / s4d_inv / hippo_n; every infinite one) are drawn side by side.
      same = sorted({lab for other, (_, _, lab) in zip(place, points) if other == at})
      shift = 10 ** (0.06 * (same.index(label) - (len(same) - 1) / 2))
      ax.scatter(x * shift, value, color=colors[label], s=24, marker="s" if label.startswith("dense") else "o")
    if len(points) >= 3:
      rho, p_value = stats.spearmanr([m for m, _, _ in points], [v for _, v, _ in points])
      correlations[task] = (float(rho), float(p_value), len(points))
      text = f"Spearman ρ = {rho:.2f} (p = {p_value:.2g}, {len(points)} runs)"
    else:
      correlations[task] = (None, None, len(points))
      text = f"{len(points)} runs: too few for a rank correlation"
    if any(math.isinf(m) for m, _, _ in points):
      ax.axvline(infinity, color="grey", linestyle=":", linewidth=0.8)
      ax.text(infinity, 0.02, " ∞", transform=ax.get_xaxis_transform(), color="grey")
    ax.set(xscale="log", yscale="log" if log else "linear", xlabel="memory at initialization -1/log ρ (steps)",
           ylabel=ylabel)
    ax.set_title(task + (f" ({left_out} diverged or unpredicted runs left out)" if left_out else "") + "\n" + text,
                 fontsize=10)
  handles = [plt.Line2D([], [], color=colors[label], marker="s" if label.startswith("dense") else "o",
                        linestyle="", label=label) for label in labels]
  fig.legend(handles=handles, loc="outside right center", fontsize=7)
  fig.savefig(out_png, dpi=110)
  plt.close(fig)
  return correlations
