"""Tests for tools/stability_map.py (scripts/stability_map.py's logic): its quick run (one real training run), the
confusion table's rule, and the grid helpers."""

import json
import math

import numpy as np
import pytest

from tests.tools.run_once import run_once
from tools import csv_rows, stability_map


def _quick_map(out):
  with pytest.MonkeyPatch.context() as patch:
    patch.setenv("GLOROT_LRA_CACHE", str(out / "cache"))  # its own predictions, not ones another test cached
    return stability_map.run(out / "docs", quick=True, runs=out / "runs",
                             command="python scripts/stability_map.py --quick")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
  out, meta = run_once(tmp_path_factory, "stability_map_quick", _quick_map)
  return out / "docs", out / "runs", meta


def test_quick_run_writes_every_output_with_a_real_run(quick_run):
  docs, runs, meta = quick_run
  for name in ("stability_map.png", "stability_map.csv", "stability_map_observations.csv", "stability_map.md",
               "stability_map_meta.json"):
    assert (docs / name).stat().st_size > 0, name
  assert (docs / "stability_map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  observed = csv_rows.read(docs / "stability_map_observations.csv")
  assert len(observed) == 1 and observed[0]["init"] == "glorot"
  results = json.loads((runs / "dense_n16_L1024_glorot_s0" / "results.json").read_text())
  assert str(results["diverged"]) == observed[0]["diverged"] and results["d_hidden"] == 16
  assert results["n_layers"] == 2 and results["max_length"] == 1024
  written = json.loads((docs / "stability_map_meta.json").read_text())
  assert written["command"].startswith("python scripts/stability_map.py --quick") and written["points"] == 1
  assert written["machine"]["cpu_model"] and written["commit"]
  markdown = (docs / "stability_map.md").read_text()
  assert "| predicted: diverges |" in markdown and "| dense | 16 | 1024 | glorot | " in markdown
  assert written["commit"] in markdown and written["machine"]["cpu_model"] in markdown


def test_prediction_csv_covers_the_grid_with_the_predictor_numbers(quick_run):
  docs, _, _ = quick_run
  from inits import stability
  rows = csv_rows.read(docs / "stability_map.csv")
  cells = {(r["init"], r["recurrence"], int(r["n"]), int(r["length"])) for r in rows}
  assert cells == {(i, rec, n, length) for i in ("glorot", "orthogonal") for rec in ("dense", "diag")
                   for n in (16,) for length in (256, 1024)}
  row = next(r for r in rows if (r["init"], r["recurrence"], r["n"], r["length"]) == ("glorot", "dense", "16", "1024"))
  direct = stability.predict("glorot", 16, 1024, "dense", n_layers=2, n_draws=8)
  assert float(row["p_diverge"]) == pytest.approx(direct["p_diverge"])
  assert float(row["p_diverge"]) == pytest.approx(1 - (1 - float(row["p_diverge_one_layer"])) ** 2)
  orthogonal = [r for r in rows if r["init"] == "orthogonal"]
  assert all(float(r["p_diverge"]) == 0 and math.isinf(float(r["memory_length"])) for r in orthogonal)


def test_confusion_counts_half_the_seeds_as_diverged():
  prediction = lambda p: dict(init="glorot", recurrence="dense", n=64, length=128, p_diverge=p)
  predictions = [prediction(0.7) | dict(length=128), prediction(0.6) | dict(length=256),
                 prediction(0.2) | dict(length=512)]
  runs = [dict(init="glorot", recurrence="dense", n=64, length=length, seed=seed, diverged=diverged)
          for length, flags in ((128, (True, True, False)), (256, (True, False, False)), (512, (True, False)))
          for seed, diverged in enumerate(flags)]
  table = {p["length"]: p for p in stability_map.confusion(predictions, runs)}
  assert (table[128]["observed"], table[128]["predicted"], table[128]["diverged"]) == (True, True, 2)
  assert (table[256]["observed"], table[256]["predicted"]) == (False, True)  # 1 of 3 is under half
  assert (table[512]["observed"], table[512]["predicted"]) == (True, False)  # 1 of 2 is half


def test_grid_helpers():
  np.testing.assert_allclose(stability_map.cell_edges([64, 128, 256]), [5.5, 6.5, 7.5, 8.5])
  np.testing.assert_allclose(stability_map.cell_edges([16, 64]), [3, 5, 7])
  assert not stability_map.computed("rescaled_glorot", "dense", 128) and stability_map.computed("rescaled_glorot", "diag", 256)
  assert not stability_map.computed("calibrated_glorot", "dense", 512)
  full = stability_map.sizes(False)
  points = sum(len(names) for names in full["observations"].values())
  assert points >= 30 and len(full["seeds"]) >= 3
  assert {shape[0] for shape in full["observations"]} == {"dense", "diag"}
