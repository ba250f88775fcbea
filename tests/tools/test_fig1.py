"""Tests for tools/fig1.py (scripts/fig1.py's logic) at its quick size: every output written, numbers consistent
with the theory."""

import json

import numpy as np
import pytest

from inits import theory
from tests.tools.run_once import run_once
from tools import csv_rows, fig1


def _quick_fig1(out):
  with pytest.MonkeyPatch.context() as patch:
    patch.setenv("GLOROT_LRA_CACHE", str(out / "cache"))  # its own calibration, not one another test cached
    return fig1.run(out, quick=True, command="python scripts/fig1.py --quick")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
  return run_once(tmp_path_factory, "fig1_quick", _quick_fig1)


def test_quick_run_writes_every_output(quick_run):
  out, meta = quick_run
  for name in ("fig1.png", "fig1_table.md", "fig1_table.csv", "fig1_moduli_density.csv", "fig1_power_norms.csv",
               "fig1_hidden_norms.csv", "fig1_meta.json"):
    assert (out / name).stat().st_size > 0, name
  assert (out / "fig1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  written = json.loads((out / "fig1_meta.json").read_text())
  assert written["command"] == "python scripts/fig1.py --quick" and written["seed"] == 0
  assert written["seconds"]["total"] > 0 and written["sizes"]["num_steps"] == meta["sizes"]["num_steps"]
  assert written["calibrations"][0]["n"] == 192 and (out / "cache").is_dir()


def test_table_has_monte_carlo_beside_gumbel(quick_run):
  out, _ = quick_run
  rows = {row["init"]: row for row in csv_rows.read(out / "fig1_table.csv")}
  assert set(rows) == {"glorot", "rescaled_glorot", "calibrated_glorot", "glorot_half", "diag_uniform"}
  for row in rows.values():
    p, se, draws = float(row["mc_p"]), float(row["mc_se"]), int(row["draws"])
    assert 0 <= p <= 1 and se == pytest.approx(np.sqrt(p * (1 - p) / draws))
  assert float(rows["rescaled_glorot"]["scale"]) == pytest.approx(1 / theory.c_n(192), rel=1e-5)
  assert float(rows["glorot"]["gumbel_p_complex"]) == pytest.approx(theory.gumbel_prob_above_one(192), rel=1e-9)
  assert float(rows["diag_uniform"]["mc_p"]) == 0.0 and rows["diag_uniform"]["gumbel_p_real"] == ""
  assert float(rows["glorot"]["mc_p"]) > 0.5  # 24 draws at n = 192; the theory says ~0.97
  markdown = (out / "fig1_table.md").read_text()
  assert markdown.startswith("| n | init |") and "± " in markdown and "| 192 | calibrated_glorot |" in markdown


def test_norm_curves_explode_for_glorot_only(quick_run):
  out, meta = quick_run
  hidden = csv_rows.read(out / "fig1_hidden_norms.csv")
  powers = csv_rows.read(out / "fig1_power_norms.csv")
  last = meta["sizes"]["num_steps"]
  final = {row["init"]: float(row["median"]) for row in hidden if int(row["t"]) == last}
  assert final["glorot"] > 10 * final["rescaled_glorot"] and final["rescaled_glorot"] < 10
  assert all(np.isfinite(float(row["median"])) for row in hidden + powers)
  assert [int(row["t"]) for row in powers if row["init"] == "glorot"] == meta["power_grid"]
  first_power = {row["init"]: float(row["median"]) for row in powers if int(row["t"]) == 1}
  assert first_power["diag_uniform"] <= 1 + 1e-5 < first_power["glorot"]  # normal matrix: ||A|| = rho < 1


def test_moduli_densities_integrate_to_one(quick_run):
  out, _ = quick_run
  rows = csv_rows.read(out / "fig1_moduli_density.csv")
  for name in ("glorot", "diag_uniform"):
    picked = [row for row in rows if row["init"] == name]
    mass = sum(float(r["density"]) * (float(r["bin_right"]) - float(r["bin_left"])) for r in picked)
    assert mass == pytest.approx(1.0, abs=1e-9)


def test_power_grid_is_log_spaced_and_ends_at_num_steps():
  grid = fig1.power_grid(4096)
  assert grid[:8] == [1, 2, 3, 4, 6, 8, 12, 16] and grid[-1] == 4096
  steps = np.diff(grid)
  assert np.all(steps & (steps - 1) == 0)  # every step a power of two: one matrix product per point


def test_modulus_column_shows_spectral_glorot_and_orthogonal(quick_run):
  out, meta = quick_run
  rows = csv_rows.read(out / "fig1_moduli_density.csv")
  for name, low, high in (("spectral_glorot", 0.0, 0.99), ("orthogonal", 0.99, 1.01)):
    picked = [r for r in rows if r["init"] == name]
    outside = [r for r in picked if float(r["bin_left"]) > high or float(r["bin_right"]) < low]
    assert outside and all(float(r["density"]) == 0.0 for r in outside), name  # rho = 0.99; Haar: |lambda| = 1
  hidden = csv_rows.read(out / "fig1_hidden_norms.csv")
  last = meta["sizes"]["num_steps"]
  orthogonal = [float(r["median"]) for r in hidden if r["init"] == "orthogonal" and int(r["t"]) == last][0]
  assert orthogonal == pytest.approx(np.sqrt(last), rel=0.3)  # E||h_t||^2 = n t when A is orthogonal
