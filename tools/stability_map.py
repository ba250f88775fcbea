"""The stability phase diagram: predicted p_diverge over width n and length L per initializer, real training on top.

The logic of `python scripts/stability_map.py` (its command line: scripts/stability_map.py; `run` here makes every
output).

For each initializer and recurrence (dense, diag): `inits.stability.predict` at every (n, L) of a log grid, for a
2-layer model (p_diverge = 1 - (1 - p)^2); a memory_length panel over n; and the first training steps of real
2-layer ListOps models (`lra`'s training loop, as `train.py` runs it: max_steps 2, d_model 16, batch 2, sequences
of 0.9 L to L tokens, several seeds) at the observation points, drawn on top. Writes stability_map.png,
stability_map.csv (predictions), stability_map_observations.csv (runs), stability_map.md (the confusion table,
the points where the predictor is wrong, machine and commit) and stability_map_meta.json under the output folder.
"""

import json
import math
import os
import pathlib
import platform
import shutil
import tempfile
import time

import jax
import numpy as np

from inits import stability
from inits import theory
from lra import provenance
from tools import csv_rows

N_LAYERS = 2  # the trained models' depth; the maps show p_diverge for this many independent recurrences
SEQUENCE_FILL = 0.9  # ListOps expressions of SEQUENCE_FILL * L to L tokens, so every run really sees ~L steps
MAP_INITS = ("glorot", "glorot_half", "truncated_glorot", "rescaled_glorot", "calibrated_glorot", "spectral_glorot",
             "orthogonal", "diag_uniform", "lru_ring", "s4d_lin", "s4d_inv", "hippo_n")
RECURRENCES = ("dense", "diag")
CALIBRATED_MAX_N = 256  # its calibration decomposes 1000 draws per n
NORMAL_DENSE_MAX_N = 512  # a dense normal init costs one eigendecomposition per draw and is never unstable
LARGE_N = 1024  # above it, only these dense-family inits (two eigendecompositions and doublings a draw cost minutes)
LARGE_N_INITS = ("glorot", "rescaled_glorot", "spectral_glorot")

# Observation points: (recurrence, n, L) shapes, each trained with glorot and two other initializers (one
# compilation per shape serves them all through the persistent compilation cache).
OBSERVATIONS = {
    ("dense", 64, 256): ("glorot", "glorot_half", "orthogonal"),
    ("dense", 64, 1024): ("glorot", "calibrated_glorot", "truncated_glorot"),
    ("dense", 64, 4096): ("glorot", "spectral_glorot", "diag_uniform"),
    ("dense", 256, 256): ("glorot", "rescaled_glorot", "orthogonal"),
    ("dense", 256, 1024): ("glorot", "truncated_glorot", "spectral_glorot"),
    ("dense", 256, 4096): ("glorot", "rescaled_glorot", "glorot_half"),
    ("diag", 64, 256): ("glorot", "s4d_lin", "orthogonal"),
    ("diag", 64, 1024): ("glorot", "calibrated_glorot", "hippo_n"),
    ("diag", 64, 4096): ("glorot", "diag_uniform", "truncated_glorot"),
    ("diag", 256, 256): ("glorot", "rescaled_glorot", "lru_ring"),
    ("diag", 256, 1024): ("glorot", "s4d_inv", "glorot_half"),
    ("diag", 256, 4096): ("glorot", "rescaled_glorot", "spectral_glorot"),
}


def sizes(quick):
  """The run's grids, draws per n, observation points and seeds."""
  if quick:
    return dict(ns=[16], lengths=[256, 1024], draws={16: 8}, inits=("glorot", "orthogonal"),
                observations={("dense", 16, 1024): ("glorot",)}, seeds=[0])
  return dict(ns=[64, 128, 256, 512, 1024, 2048], lengths=[128, 256, 512, 1024, 2048, 4096, 8192, 16384],
              draws={64: 32, 128: 32, 256: 24, 512: 8, 1024: 4, 2048: 2}, inits=MAP_INITS,
              observations=OBSERVATIONS, seeds=[0, 1, 2])


def computed(init, recurrence, n):
  """Whether the map computes this cell (see the constants above for why some are left out)."""
  if init == "rescaled_glorot" and n < theory.rescaled_glorot_min_width():
    return False
  if init == "calibrated_glorot" and n > CALIBRATED_MAX_N:
    return False
  if recurrence == "dense" and init in stability.NORMAL_INITS and n > NORMAL_DENSE_MAX_N:
    return False
  if n > LARGE_N and init not in stability.NORMAL_INITS and init not in LARGE_N_INITS:
    return False
  return True


def predictions(size, extra_points=()):
  """One row per (init, recurrence, n, L) of the grid (and of `extra_points`), from `stability.predict`."""
  rows = []
  points = [(init, recurrence, n, length) for init in size["inits"] for recurrence in RECURRENCES
            for n in size["ns"] for length in size["lengths"]]
  points += [point for point in extra_points if point not in points]
  for init, recurrence, n, length in points:
    if not computed(init, recurrence, n):
      continue
    draws = size["draws"].get(n, stability.default_draws(n))
    result = stability.predict(init, n, length, recurrence, n_layers=N_LAYERS, n_draws=draws)
    rows.append(dict(
        init=init, recurrence=recurrence, n=n, length=length, n_draws=draws, p_diverge=result["p_diverge"],
        p_diverge_se=result["p_diverge_se"], p_diverge_one_layer=result["p_diverge_per_layer"],
        p_radius_above_1=result["p_radius_above_1"], growth=result["growth"],
        log10_growth_q05=result["log10_growth_quantiles"]["q05"],
        log10_growth_q95=result["log10_growth_quantiles"]["q95"], length_to_overflow=result["length_to_overflow"],
        memory_length=result["memory_length"], memory_q05=result["memory_length_quantiles"]["q05"],
        memory_q95=result["memory_length_quantiles"]["q95"],
        radius_median=result["spectral_radius_quantiles"]["q50"]))
  return rows


def observation_config(recurrence, n, length, init, seed, data_dir):
  """The `:cpu` ListOps config shrunk to a first-steps probe (the same fields train.py's flags set)."""
  from configs import listops
  c = listops.get_config("cpu")
  c.seed = seed
  c.model.update(recurrence=recurrence, init=init, d_model=16, d_hidden=n, n_layers=N_LAYERS)
  c.train.update(batch_size=2, max_steps=2, log_every_steps=1, ckpt_every_steps=1000)
  c.data.max_length = length
  c.data.listops.update(num_train=4, num_val=2, num_test=2, min_tokens=int(SEQUENCE_FILL * length),
                        max_tokens=length, max_depth=10)
  c.data.cache_dir = str(data_dir)
  c.wandb.mode = "disabled"
  return c


def train_once(config, workdir):
  """results.json of one run of the training loop (what `python train.py --config ... --workdir W` writes)."""
  from lra.train import loop
  loop.run(config, str(workdir))
  return json.loads((pathlib.Path(workdir) / "results.json").read_text())


def first_step_max_abs_h(workdir):
  """The largest max |h_t| over layers at step 1 in the run's metrics.jsonl (inf where a state overflowed), or None."""
  try:
    with open(pathlib.Path(workdir) / "metrics.jsonl") as file:
      for line in file:
        record = json.loads(line)
        if record.get("step") == 1:
          values = [float(v) for k, v in record.items() if k.endswith("max_abs_h") and k.startswith("train/")]
          return max(values) if values else None
  except (OSError, ValueError):
    pass
  return None


def observe(size, runs_dir):
  """Trains every observation point for every seed; returns one row per run."""
  rows = []
  for (recurrence, n, length), names in size["observations"].items():
    for init in names:
      for seed in size["seeds"]:
        workdir = runs_dir / f"{recurrence}_n{n}_L{length}_{init}_s{seed}"
        shutil.rmtree(workdir, ignore_errors=True)
        start = time.perf_counter()
        config = observation_config(recurrence, n, length, init, seed, runs_dir / "data")
        results = train_once(config, workdir)
        rows.append(dict(init=init, recurrence=recurrence, n=n, length=length, seed=seed,
                         diverged=bool(results["diverged"]), diverged_step=results.get("diverged_step"),
                         steps=results.get("steps"), max_abs_h_step1=first_step_max_abs_h(workdir),
                         loop_predicted_p_diverge=results.get("predicted_p_diverge"),
                         seconds=round(time.perf_counter() - start, 2)))
        print(f"observed {recurrence} n={n} L={length} {init} seed {seed}: "
              f"{'diverged at step %s' % results.get('diverged_step') if results['diverged'] else 'finite'}",
              flush=True)
  return rows


def read_observations(path):
  """Rows of a previous stability_map_observations.csv, typed as `observe` returns them."""
  return [dict(row, n=int(row["n"]), length=int(row["length"]), seed=int(row["seed"]),
               diverged=row["diverged"] == "True",
               max_abs_h_step1=float(row["max_abs_h_step1"]) if row.get("max_abs_h_step1") else None)
          for row in csv_rows.read(path)]


def confusion(prediction_rows, observation_rows):
  """Per observation point: predicted (p_diverge > 0.5) against observed (at least half the seeds diverged)."""
  predicted = {(r["init"], r["recurrence"], r["n"], r["length"]): r for r in prediction_rows}
  points = {}
  for row in observation_rows:
    points.setdefault((row["init"], row["recurrence"], row["n"], row["length"]), []).append(row)
  table = []
  for key, runs in points.items():
    prediction = predicted[key]
    diverged = sum(r["diverged"] for r in runs)
    states = [r.get("max_abs_h_step1") for r in runs]
    table.append(dict(init=key[0], recurrence=key[1], n=key[2], length=key[3], seeds=len(runs), diverged=diverged,
                      max_abs_h=", ".join("—" if v is None else f"{v:.2g}" for v in states),
                      observed=2 * diverged >= len(runs), p_diverge=prediction["p_diverge"],
                      predicted=prediction["p_diverge"] > 0.5, prediction=prediction))
  return table


def chance_of_majority(p, seeds):
  """P(at least half of `seeds` independent runs diverge) when each diverges with probability p."""
  need = math.ceil(seeds / 2)
  return sum(math.comb(seeds, k) * p ** k * (1 - p) ** (seeds - k) for k in range(need, seeds + 1))


def why_wrong(point):
  """A reason for a wrong prediction, from the numbers the predictor rests on."""
  p = point["prediction"]
  threshold = math.log10(stability.overflow_rms("float32"))
  chance = chance_of_majority(p["p_diverge"], point["seeds"])
  spread = (f"the draws put log10 of the RMS state between {p['log10_growth_q05']:.1f} and "
            f"{p['log10_growth_q95']:.1f} (5-95%, threshold {threshold:.1f}), and the runs' largest states at step 1 "
            f"were {point['max_abs_h']}")
  boundary = abs(p["p_diverge"] - 0.5) < 0.25
  verdict = (f"predicted p = {p['p_diverge']:.2f} ± {p['p_diverge_se']:.2f} ({p['n_draws']} draws), "
             f"{point['diverged']}/{point['seeds']} seeds diverged")
  if boundary:
    return (f"{verdict}: a boundary point, where at least half of {point['seeds']} seeds diverge with probability "
            f"{chance:.2f} under the prediction itself, so {point['seeds']} seeds cannot decide it; {spread}")
  return f"{verdict}: {spread}; at least half the seeds diverge with probability {chance:.2f} under the prediction"


def markdown(table, meta):
  """docs/stability_map.md: the command, machine, commit, confusion table and the wrong points."""
  counts = {(pred, obs): sum(1 for p in table if p["predicted"] == pred and p["observed"] == obs)
            for pred in (True, False) for obs in (True, False)}
  correct = counts[(True, True)] + counts[(False, False)]
  lines = [
      "# Stability map: predicted divergence against real first training steps", "",
      f"`{meta['command']}` at commit `{meta['commit']}` on {meta['machine']['cpu_model']} "
      f"({meta['machine']['cpu_count']} cores, load average {meta['load_average_before'][0]:.1f} before), "
      f"{meta['seconds']['total'] / 60:.1f} min in all ({meta['seconds']['predictions'] / 60:.1f} min predictions, "
      f"{meta['seconds']['observations'] / 60:.1f} min training). jax {meta['machine']['jax']}.", "",
      "![stability map](stability_map.png)", "",
      "**The predictor.** `inits.stability.predict(init, n, L, recurrence, n_layers=2)`: over Monte Carlo draws of "
      "the recurrence, the expected state E||h_L||^2 = tr P_L, P_L = sum_{s<L} A^s (A^s)^T, of h_t = A h_{t-1} + "
      "x_t under unit-variance i.i.d. inputs (exact: closed form for normal matrices, doubling for dense ones; the "
      "backward pass's adjoint recursion through A^T has the same trace). One layer diverges when the RMS state "
      "sqrt(tr P_L / n) exceeds sqrt(float32 max) = 1.8e19, where a training step's squares (Batch/LayerNorm "
      "variances, GELU's derivative, Adam's second moment, the gradient norm) overflow; two layers: "
      "p = 1 - (1 - p_1)^2.", "",
      "**The runs.** Each point is a 2-layer ListOps model (d_model 16, batch 2, max_steps 2, expressions of "
      f"{SEQUENCE_FILL} L to L tokens) trained by the project's training loop for seeds "
      f"{meta['sizes']['seeds']}; a run diverges when a step's loss, gradient norm, parameters or optimizer state "
      "is not finite (results.json `diverged`). Observed = at least half the seeds diverged; predicted = "
      "p_diverge > 0.5.", "",
      "## Confusion table", "",
      "| | observed: diverged | observed: trained |", "|---|---|---|",
      f"| predicted: diverges | {counts[(True, True)]} | {counts[(True, False)]} |",
      f"| predicted: stable | {counts[(False, True)]} | {counts[(False, False)]} |", "",
      f"**{correct} of {len(table)} points agree ({100 * correct / max(len(table), 1):.0f}%).**", "",
      "## Every point", "",
      "| recurrence | n | L | init | seeds diverged | p_diverge (2 layers) | predicted median RMS state | "
      "observed max abs(h) at step 1, per seed | agrees |",
      "|---|---|---|---|---|---|---|---|---|"]
  for point in sorted(table, key=lambda p: (p["recurrence"], p["n"], p["length"], p["init"])):
    lines.append(
        f"| {point['recurrence']} | {point['n']} | {point['length']} | {point['init']} | "
        f"{point['diverged']}/{point['seeds']} | {point['p_diverge']:.2f} | {point['prediction']['growth']:.3g} | "
        f"{point['max_abs_h']} | {'yes' if point['predicted'] == point['observed'] else '**no**'} |")
  wrong = [p for p in table if p["predicted"] != p["observed"]]
  lines += ["", "## Where the predictor is wrong, and why", ""]
  if not wrong:
    lines.append("Nowhere at these points.")
  for point in wrong:
    lines.append(f"- {point['recurrence']}, n = {point['n']}, L = {point['length']}, {point['init']}: "
                 f"{why_wrong(point)}.")
  lines += ["", "## How to read the picture", "",
            "One row per initializer: the predicted p_diverge of a 2-layer dense model (left) and diagonal model "
            "(middle) over width n (x) and length L (y), dark = diverges; the dashed line is t = sqrt(4 n ln "
            "1.8e19), where the sqrt(n) law E||h_t||^2 ~ exp(t^2 / 2n) (paper §2) reaches the overflow level; grey "
            "cells were not computed (rescaled Glorot has no c_n below n = "
            f"{theory.rescaled_glorot_min_width()}; calibrated Glorot's calibration is "
            f"run up to n = {CALIBRATED_MAX_N}; dense normal inits, never unstable, up to n = {NORMAL_DENSE_MAX_N}). "
            "Circles are real runs: filled by the fraction of seeds that diverged, red-edged where the prediction "
            "is wrong. Right: memory_length -1/log(rho) of the slowest mode at initialization over n (median, "
            "5-95% band; dense solid, diagonal dashed; drawn at the top edge where rho >= 1, an infinite memory).",
            "", f"Monte Carlo draws per n: {meta['sizes']['draws']} (p_diverge's standard error is in the CSV).",
            "Outputs: `stability_map.csv` (every grid cell), `stability_map_observations.csv` (every run)."]
  return "\n".join(lines) + "\n"


def cell_edges(values):
  """log2 cell edges around each grid value: midpoints between neighbours, half a spacing beyond the ends."""
  centres = np.log2(np.asarray(values, np.float64))
  spacing = np.diff(centres) if centres.size > 1 else np.ones(1)
  middle = centres[:-1] + spacing / 2
  return np.concatenate([[centres[0] - spacing[0] / 2], middle, [centres[-1] + spacing[-1] / 2]])


def draw_figure(path, size, prediction_rows, table):
  """Saves one row per initializer: the dense and diag maps with the runs on top, and memory_length over n."""
  import matplotlib
  matplotlib.use("Agg")
  from matplotlib import colors, pyplot as plt

  ns, lengths = size["ns"], size["lengths"]
  by_key = {(r["init"], r["recurrence"], r["n"], r["length"]): r for r in prediction_rows}
  figure, axes = plt.subplots(len(size["inits"]), 3, figsize=(14, 3.0 * len(size["inits"])), squeeze=False,
                              constrained_layout=True)
  x_edges, y_edges = cell_edges(ns), cell_edges(lengths)
  colour_map = plt.get_cmap("magma_r").with_extremes(bad="0.85")
  mesh = None
  for row, init in enumerate(size["inits"]):
    for column, recurrence in enumerate(RECURRENCES):
      axis = axes[row, column]
      grid = np.full((len(lengths), len(ns)), np.nan)
      for i, length in enumerate(lengths):
        for j, n in enumerate(ns):
          if (init, recurrence, n, length) in by_key:
            grid[i, j] = by_key[(init, recurrence, n, length)]["p_diverge"]
      mesh = axis.pcolormesh(x_edges, y_edges, np.ma.masked_invalid(grid), cmap=colour_map,
                             norm=colors.Normalize(0, 1))
      fine = np.linspace(x_edges[0], x_edges[-1], 50)
      law = np.log2(np.sqrt(4 * 2.0 ** fine * math.log(stability.overflow_rms("float32"))))
      axis.plot(fine, law, "--", color="tab:cyan", linewidth=1.2, label=r"$t=\sqrt{4n\ln\tau}$")
      for point in table:
        if point["init"] == init and point["recurrence"] == recurrence:
          wrong = point["predicted"] != point["observed"]
          axis.scatter(np.log2(point["n"]), np.log2(point["length"]), s=90,
                       c=[plt.get_cmap("magma_r")(point["diverged"] / point["seeds"])],
                       edgecolors="red" if wrong else "tab:green", linewidths=2.0, zorder=3)
      axis.set(xlim=(x_edges[0], x_edges[-1]), ylim=(y_edges[0], y_edges[-1]),
               xticks=np.log2(ns), xticklabels=ns, yticks=np.log2(lengths), yticklabels=lengths,
               title=f"{init}, {recurrence}: p_diverge ({N_LAYERS} layers)")
      axis.set_xlabel("n") if row == len(size["inits"]) - 1 else None
      axis.set_ylabel("L") if column == 0 else None
      if row == 0 and column == 0:
        axis.legend(fontsize=7, loc="lower right")
    axis = axes[row, 2]
    top = 1e5
    for recurrence, style in (("dense", "-"), ("diag", "--")):
      picked = [by_key[(init, recurrence, n, lengths[0])] for n in ns if (init, recurrence, n, lengths[0]) in by_key]
      if not picked:
        continue
      xs = [r["n"] for r in picked]
      clip = lambda values: np.minimum(np.asarray(values, np.float64), top)
      axis.plot(xs, clip([r["memory_length"] for r in picked]), style, color="tab:blue", marker="o", markersize=3,
                label=recurrence)
      axis.fill_between(xs, clip([r["memory_q05"] for r in picked]), clip([r["memory_q95"] for r in picked]),
                        color="tab:blue", alpha=0.15, linewidth=0)
    axis.set(xscale="log", yscale="log", ylim=(1, top * 1.5), title=f"{init}: memory -1/log(rho) (steps)")
    axis.legend(fontsize=7, loc="lower right")
    axis.set_xlabel("n") if row == len(size["inits"]) - 1 else None
  if mesh is not None:
    figure.colorbar(mesh, ax=axes[:, :2], shrink=0.3, label="p_diverge")
  figure.savefig(path, dpi=90)
  plt.close(figure)


def machine():
  """The CPU and versions the figures were made with (lra.provenance's lookups)."""
  return dict(cpu_model=provenance.cpu_model() or "unknown", cpu_count=os.cpu_count(), platform=platform.platform(),
              jax=jax.__version__, numpy=np.__version__, python=platform.python_version())


def run(out, quick=False, runs=None, reuse_observations=None, command="python scripts/stability_map.py"):
  """Predicts the grid, trains (or reads) the observation points, writes every output under `out`; returns meta.

  Args:
    out: the output folder (created if missing).
    quick: tiny sizes and one training run, for tests.
    runs: the training workdirs' folder, kept (default: a temporary folder, removed at the end).
    reuse_observations: a previous stability_map_observations.csv to read instead of training.
    command: the command line recorded in the outputs.
  """
  out = pathlib.Path(out)
  out.mkdir(parents=True, exist_ok=True)
  size = sizes(quick)
  runs_dir = pathlib.Path(runs) if runs else pathlib.Path(tempfile.mkdtemp(prefix="stability_runs_"))
  runs_dir.mkdir(parents=True, exist_ok=True)
  # Runs of one shape compile the same step: the persistent cache turns every compilation after the first into a read.
  jax.config.update("jax_compilation_cache_dir", str(runs_dir / "compilation_cache"))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
  seconds, load_before, start = {}, os.getloadavg(), time.perf_counter()

  extra = [(init, recurrence, n, length) for (recurrence, n, length), names in size["observations"].items()
           for init in names]
  stage = time.perf_counter()
  prediction_rows = predictions(size, extra)
  seconds["predictions"] = time.perf_counter() - stage
  stage = time.perf_counter()
  observation_rows = (read_observations(reuse_observations) if reuse_observations
                      else observe(size, runs_dir))
  seconds["observations"] = time.perf_counter() - stage
  table = confusion(prediction_rows, observation_rows)
  stage = time.perf_counter()
  draw_figure(out / "stability_map.png", size, prediction_rows, table)
  seconds["figure"] = time.perf_counter() - stage
  seconds["total"] = time.perf_counter() - start
  meta = dict(observations_from=reuse_observations or "trained in this run", command=command,
              commit=provenance.commit_label(), machine=machine(), load_average_before=load_before,
              load_average_after=os.getloadavg(), seconds=seconds,
              sizes=dict(ns=size["ns"], lengths=size["lengths"], draws=size["draws"], seeds=size["seeds"],
                         inits=list(size["inits"])),
              agreement=sum(p["predicted"] == p["observed"] for p in table) / max(len(table), 1),
              points=len(table))
  csv_rows.write(out / "stability_map.csv", prediction_rows)
  csv_rows.write(out / "stability_map_observations.csv", observation_rows)
  (out / "stability_map.md").write_text(markdown(table, meta))
  (out / "stability_map_meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
  if not runs:
    shutil.rmtree(runs_dir, ignore_errors=True)
  print(f"{meta['points']} points, {100 * meta['agreement']:.0f}% agree; wrote {out}/stability_map.* in "
        f"{seconds['total']:.0f} s")
  return meta

