"""Figure 1: eigenvalue moduli, ||A^t|| and hidden-state norms of Glorot-family matrices, and a P(rho > 1) table.

The logic of `python scripts/fig1.py` (its command line: scripts/fig1.py; `run` here makes every output).

Rows: glorot, rescaled_glorot, glorot_half, diag_uniform (the dense real matrix with uniform-disk eigenvalues),
spectral_glorot (each Glorot draw scaled to spectral radius 0.99) and orthogonal (Haar: every |lambda| = 1).
Columns: density of eigenvalue moduli (unit circle dashed), median ||A^t||_2 against t, median ||h_t|| / sqrt(n)
against t for h_t = A h_{t-1} + x_t, x_t ~ N(0, I) (float64, so the explosion is a number, not NaN).
One colour per n. The glorot-family rows are scalings of the SAME Glorot draws (same keys; rescaled_glorot(key)
= glorot(key) / c_n exactly), and every row sees the same inputs x_t: common random numbers.
Writes fig1.png, fig1_table.{md,csv}, fig1_moduli_density.csv, fig1_power_norms.csv, fig1_hidden_norms.csv and
fig1_meta.json (command, commit, sizes, machine, load, seconds per stage) under the output folder.
"""

import json
import math
import os
import pathlib
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

import inits
from inits import calibration
from inits import theory
from tools import csv_rows

ROWS = ("glorot", "rescaled_glorot", "glorot_half", "diag_uniform", "spectral_glorot", "orthogonal")
ROW_TITLES = {
    "glorot": "Glorot: A_ij ~ N(0, 1/n)",
    "rescaled_glorot": "rescaled Glorot: G / c_n",
    "glorot_half": "Glorot/2: N(0, 1/2n)",
    "diag_uniform": "uniform-disk eigenvalues (dense, real)",
    "spectral_glorot": "spectral Glorot: rho(A) = 0.99",
    "orthogonal": "orthogonal (Haar): |lambda| = 1",
}
SPECTRAL_RADIUS = 0.99  # spectral_glorot's default radius
TABLE_INITS = ("glorot", "rescaled_glorot", "calibrated_glorot", "glorot_half", "diag_uniform")
CALIBRATION_DELTA = 0.05
POWER_NORM_FLOOR = 1e-30  # lower y-limit of the ||A^t|| panels (the CSV keeps every value)


def sizes(quick):
  """The run's sizes: draws per n for the table, matrices per n for the norm panels, steps, n lists."""
  if quick:
    return dict(figure_ns=[192], table_ns=[192], table_draws={192: 24}, norm_draws={192: 2}, num_steps=128,
                calibrated_ns=[192], calibration_draws=40, density_bins=40, orthogonal_draws={192: 2})
  return dict(figure_ns=[192, 256, 384, 1024], table_ns=[192, 256, 384, 512, 1024],
              table_draws={192: 400, 256: 400, 384: 400, 512: 200, 1024: 100},
              norm_draws={192: 8, 256: 8, 384: 8, 1024: 4}, num_steps=4096, calibrated_ns=[192, 256],
              calibration_draws=1000, density_bins=130, orthogonal_draws={192: 20, 256: 20, 384: 20, 1024: 8})


def power_grid(num_steps):
  """t = 1, 2, 3, 4, 6, 8, 12, ... <= num_steps: 2^k and 3 * 2^(k-1), two per octave. Each step from one t to
  the next is a power of two, so `theory.power_norms` pays one matrix product per point (plus the squarings)."""
  grid = {1}
  power = 2
  while power <= num_steps:
    grid.update(t for t in (power, 3 * power // 2) if t <= num_steps)
    power *= 2
  return sorted(grid)


def glorot_family_scale(name, n, calibration_draws):
  """The scale s with name(key) = s * glorot(key); None for diag_uniform."""
  if name == "glorot":
    return 1.0
  if name == "glorot_half":
    return 1.0 / math.sqrt(2.0)
  if name == "rescaled_glorot":
    return 1.0 / theory.c_n(n)
  if name == "calibrated_glorot":
    return calibration.calibrated_scale(n, CALIBRATION_DELTA, "real", calibration_draws)
  return None


def spectra(size, key):
  """Eigenvalues per n: Glorot draws (float32, as a model would), diag_uniform (n,) draws (its law directly), and
  orthogonal draws at the figure's n (every modulus is 1: a few draws show it)."""
  glorot_eigenvalues, uniform_eigenvalues, orthogonal_eigenvalues = {}, {}, {}
  for n in size["table_ns"]:
    n_key = jax.random.fold_in(key, n)
    glorot_eigenvalues[n] = theory.monte_carlo_eigvals(inits.get("glorot"), n, size["table_draws"][n], n_key)
    uniform_keys = jax.random.split(jax.random.fold_in(n_key, 1), size["table_draws"][n])
    uniform_eigenvalues[n] = np.asarray(jax.vmap(lambda k: inits.get("diag_uniform")(k, (n,), jnp.complex64))(
        uniform_keys))
    if n in size["figure_ns"]:
      orthogonal_eigenvalues[n] = theory.monte_carlo_eigvals(
          inits.get("orthogonal"), n, size["orthogonal_draws"][n], jax.random.fold_in(n_key, 2))
  return glorot_eigenvalues, uniform_eigenvalues, orthogonal_eigenvalues


def row_eigenvalues(name, n, size, glorot_eigenvalues, uniform_eigenvalues, orthogonal_eigenvalues):
  """The eigenvalues drawn in row `name` at width n: scalings of the shared Glorot draws where the row is one."""
  if name == "diag_uniform":
    return uniform_eigenvalues[n]
  if name == "orthogonal":
    return orthogonal_eigenvalues[n]
  if name == "spectral_glorot":  # this draw's own scale: radius / rho(G)
    radii = np.abs(glorot_eigenvalues[n]).max(axis=-1, keepdims=True)
    return glorot_eigenvalues[n] * (SPECTRAL_RADIUS / radii)
  return glorot_family_scale(name, n, size["calibration_draws"]) * glorot_eigenvalues[n]


def probability_table(size, glorot_eigenvalues, uniform_eigenvalues):
  """Rows of the P(rho > 1) table: Monte Carlo with its standard error beside the Gumbel predictions."""
  rows = []
  for n in size["table_ns"]:
    glorot_radii = np.abs(glorot_eigenvalues[n]).max(axis=-1)
    for name in TABLE_INITS:
      if name == "calibrated_glorot" and n not in size["calibrated_ns"]:
        continue
      scale = glorot_family_scale(name, n, size["calibration_draws"])
      radii = np.abs(uniform_eigenvalues[n]).max(axis=-1) if scale is None else scale * glorot_radii
      p, standard_error = theory.exceedance_probability(radii)
      row = dict(n=n, init=name, scale="" if scale is None else round(scale, 6), draws=radii.size, mc_p=p,
                 mc_se=standard_error, mc_mean_rho=float(radii.mean()), gumbel_p_complex="", gumbel_p_real="",
                 gumbel_mean_rho_real="")
      if scale is not None:
        row.update(gumbel_p_complex=theory.gumbel_prob_above_one(n, scale, "complex"),
                   gumbel_p_real=theory.gumbel_prob_above_one(n, scale, "real"),
                   gumbel_mean_rho_real=theory.spectral_radius_mean(n, scale, "real"))
      rows.append(row)
  return rows


def markdown_table(rows, size):
  """The table as markdown, numbers rounded for reading (the CSV keeps them all)."""
  def number(value, digits):
    return "—" if value == "" else f"{value:.{digits}f}"
  lines = [
      "| n | init | scale | draws | P(rho>1) Monte Carlo ± SE | Gumbel, complex (Rider) | Gumbel, real "
      "(Rider-Sinclair) | mean rho MC | mean rho Gumbel, real |",
      "|---|---|---|---|---|---|---|---|---|"]
  for row in rows:
    lines.append(
        f"| {row['n']} | {row['init']} | {number(row['scale'], 4)} | {row['draws']} | "
        f"{row['mc_p']:.3f} ± {row['mc_se']:.3f} | {number(row['gumbel_p_complex'], 3)} | "
        f"{number(row['gumbel_p_real'], 3)} | {row['mc_mean_rho']:.4f} | {number(row['gumbel_mean_rho_real'], 4)} |")
  lines.append("")
  lines.append(f"Real float32 draws; calibrated_glorot: delta = {CALIBRATION_DELTA}, {size['calibration_draws']} "
               "calibration draws of its own fixed seed, evaluated here on the independent table draws. "
               "SE = sqrt(p (1 - p) / draws) (0 when p is 0 or 1).")
  return "\n".join(lines)


def norm_panels(size, key):
  """Median and quartiles of ||A^t||_2 on a log grid and of ||h_t|| / sqrt(n) at every t, per row and n."""
  grid = power_grid(size["num_steps"])
  power_rows, hidden_rows = [], []
  for n in size["figure_ns"]:
    matrix_keys = jax.random.split(jax.random.fold_in(key, n), size["norm_draws"][n])
    input_key = jax.random.fold_in(jax.random.fold_in(key, n), 1)
    for name in ROWS:
      init = inits.get(name)
      matrices = np.stack([np.asarray(init(k, (n, n), jnp.float32)) for k in matrix_keys])
      powers = theory.power_norms(matrices, grid)
      hidden = theory.simulate_hidden_norms(matrices, size["num_steps"], input_key) / math.sqrt(n)
      for column, t in enumerate(grid):
        q25, median, q75 = np.quantile(powers[:, column], [0.25, 0.5, 0.75])
        power_rows.append(dict(init=name, n=n, t=t, median=median, q25=q25, q75=q75))
      for t in hidden_steps(size["num_steps"]):
        q25, median, q75 = np.quantile(hidden[:, t - 1], [0.25, 0.5, 0.75])
        hidden_rows.append(dict(init=name, n=n, t=t, median=median, q25=q25, q75=q75))
  return power_rows, hidden_rows


def hidden_steps(num_steps):
  """The plotted steps of ||h_t||: every t up to 64, then ~64 per octave (the log-x plot cannot show more)."""
  return [int(t) for t in np.unique(np.concatenate([
      np.arange(1, min(num_steps, 64) + 1), np.round(np.geomspace(64, num_steps, 64 * 6)).astype(int)]))
          if t <= num_steps]


def density_rows(size, glorot_eigenvalues, uniform_eigenvalues, orthogonal_eigenvalues):
  """Histogram densities of eigenvalue moduli per row and n, on bins over [0, 1.3]."""
  edges = np.linspace(0.0, 1.3, size["density_bins"] + 1)
  rows = []
  for n in size["figure_ns"]:
    for name in ROWS:
      eigenvalues = row_eigenvalues(name, n, size, glorot_eigenvalues, uniform_eigenvalues, orthogonal_eigenvalues)
      density, _ = np.histogram(np.abs(eigenvalues).ravel(), bins=edges, density=True)
      rows += [dict(init=name, n=n, bin_left=edges[i], bin_right=edges[i + 1], density=density[i])
               for i in range(len(density))]
  return rows


def draw_figure(path, size, table_rows, density, powers, hidden):
  """Saves the 4 x 3 figure."""
  import matplotlib
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt

  colours = dict(zip(size["figure_ns"], plt.cm.viridis(np.linspace(0.0, 0.85, len(size["figure_ns"])))))
  probability = {(row["init"], row["n"]): row["mc_p"] for row in table_rows}
  figure, axes = plt.subplots(len(ROWS), 3, figsize=(15, 3.3 * len(ROWS)), constrained_layout=True)
  for row_index, name in enumerate(ROWS):
    density_axis, power_axis, hidden_axis = axes[row_index]
    for n in size["figure_ns"]:
      colour = colours[n]
      picked = [r for r in density if r["init"] == name and r["n"] == n]
      lefts = np.array([r["bin_left"] for r in picked] + [picked[-1]["bin_right"]])
      values = np.array([r["density"] for r in picked])
      label = rf"n={n}: P($\rho$>1)={probability[(name, n)]:.3f}" if (name, n) in probability else f"n={n}"
      density_axis.stairs(values, lefts, color=colour, label=label)
      for axis, rows in ((power_axis, powers), (hidden_axis, hidden)):
        picked = [r for r in rows if r["init"] == name and r["n"] == n]
        ts = [r["t"] for r in picked]
        axis.plot(ts, [r["median"] for r in picked], color=colour, label=f"n={n}")
        axis.fill_between(ts, [r["q25"] for r in picked], [r["q75"] for r in picked], color=colour, alpha=0.2,
                          linewidth=0)
    density_axis.axvline(1.0, color="crimson", linestyle="--", linewidth=1, label=r"$|\lambda| = 1$")
    density_axis.set(xlim=(0, 1.3), ylabel=f"{ROW_TITLES[name]}\n\n" + r"density of $|\lambda|$")
    density_axis.legend(fontsize=7, loc="upper left")
    power_axis.set(xscale="log", yscale="log", ylabel=r"$\|A^t\|_2$ (median, IQR)")
    hidden_axis.set(xscale="log", yscale="log", ylabel=r"$\|h_t\| / \sqrt{n}$ (median, IQR)")
    power_axis.axhline(1.0, color="grey", linewidth=0.5)
    if power_axis.get_ylim()[0] < POWER_NORM_FLOOR:  # decays reach float64's subnormals: show 30 decades
      power_axis.set_ylim(bottom=POWER_NORM_FLOOR)
    hidden_axis.legend(fontsize=7, loc="upper left")
    if row_index == len(ROWS) - 1:
      density_axis.set_xlabel(r"eigenvalue modulus $|\lambda|$")
      power_axis.set_xlabel("t")
      hidden_axis.set_xlabel("t")
  figure.suptitle(f"Figure 1: {min(size['norm_draws'].values())}-{max(size['norm_draws'].values())} matrices "
                  "per n for the norms (float64), "
                  f"moduli of {min(size['table_draws'].values())}-{max(size['table_draws'].values())} "
                  f"draws per n, inputs x_t ~ N(0, I)", fontsize=11)
  figure.savefig(path, dpi=110)
  plt.close(figure)


def git_commit():
  """The checkout's commit (`sha` or `sha+dirty`), None outside git: lra.provenance's one lookup."""
  from lra import provenance
  return provenance.commit_label()


def run(out, quick=False, seed=0, command="python scripts/fig1.py"):
  """Computes every panel and the table, writes them under `out`, and returns the meta record.

  Args:
    out: the output folder (created if missing).
    quick: tiny sizes (seconds), for tests.
    seed: the JAX key of every draw.
    command: the command line recorded in fig1_meta.json.
  """
  out = pathlib.Path(out)
  out.mkdir(parents=True, exist_ok=True)
  size = sizes(quick)
  key = jax.random.key(seed)
  spectra_key, norms_key = jax.random.split(key)
  seconds, start = {}, time.perf_counter()
  load_before = os.getloadavg()

  stage = time.perf_counter()
  glorot_eigenvalues, uniform_eigenvalues, orthogonal_eigenvalues = spectra(size, spectra_key)
  seconds["eigenvalues"] = time.perf_counter() - stage
  stage = time.perf_counter()
  table_rows = probability_table(size, glorot_eigenvalues, uniform_eigenvalues)
  seconds["table_with_calibration"] = time.perf_counter() - stage
  stage = time.perf_counter()
  power_rows, hidden_rows = norm_panels(size, norms_key)
  seconds["norms"] = time.perf_counter() - stage
  density = density_rows(size, glorot_eigenvalues, uniform_eigenvalues, orthogonal_eigenvalues)
  stage = time.perf_counter()
  draw_figure(out / "fig1.png", size, table_rows, density, power_rows, hidden_rows)
  seconds["figure"] = time.perf_counter() - stage

  table = markdown_table(table_rows, size)
  (out / "fig1_table.md").write_text(table + "\n")
  csv_rows.write(out / "fig1_table.csv", table_rows)
  csv_rows.write(out / "fig1_moduli_density.csv", density)
  csv_rows.write(out / "fig1_power_norms.csv", power_rows)
  csv_rows.write(out / "fig1_hidden_norms.csv", hidden_rows)
  seconds["total"] = time.perf_counter() - start
  meta = dict(
      command=command, commit=git_commit(), seed=seed, sizes=dict(size), power_grid=power_grid(size["num_steps"]),
      calibrations=[calibration.calibrated_record(n, CALIBRATION_DELTA, "real", size["calibration_draws"])
                    for n in size["calibrated_ns"]],
      machine=dict(platform=platform.platform(), processor=platform.processor(), cpu_count=os.cpu_count(),
                   python=platform.python_version(), jax=jax.__version__, numpy=np.__version__,
                   jax_backend=jax.default_backend(), openblas_num_threads=os.environ.get("OPENBLAS_NUM_THREADS")),
      load_average_before=load_before, load_average_after=os.getloadavg(), seconds=seconds)
  (out / "fig1_meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
  print(table)
  print(f"\nwrote {out}/fig1.png and fig1_*.csv|json|md in {seconds['total']:.0f} s")
  return meta

