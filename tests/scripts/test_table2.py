"""Table 2 from fake results.json files: mean ± std over seeds, the divergence count, baselines, rollouts."""

import importlib.util
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

from tools import table2

REPO = pathlib.Path(__file__).resolve().parents[2]
PROV = {"commit": "abcdef0123", "dirty": False, "cpu_model": "Test CPU"}


def write(root, task, label, seed, init_params=None, **result):
  folder = root / task / label / f"seed{seed}"
  folder.mkdir(parents=True)
  (folder / "results.json").write_text(json.dumps({"task": task, "diverged": False, "provenance": PROV, **result}))
  if init_params is not None:  # as train.py writes it: every parameter, the unset ones None
    (folder / "config.json").write_text(json.dumps({"model": {"init_params": {"radius": None, "delta": None,
                                                                             **init_params}}}))


@pytest.fixture(autouse=True)
def predictor_cache(tmp_path_factory, monkeypatch):
  """The memory column's predictions cache under tmp, never under ~/.cache."""
  monkeypatch.setenv("GLOROT_LRA_CACHE", str(tmp_path_factory.getbasetemp() / "stability_cache"))


def test_cells_baselines_and_rollouts(tmp_path):
  write(tmp_path, "copy", "diag-diag_uniform", 0, test_metric=0.9, chance_accuracy=0.125)
  write(tmp_path, "copy", "diag-diag_uniform", 1, test_metric=0.7, chance_accuracy=0.125)
  write(tmp_path, "copy", "diag-glorot", 0, diverged=True, test_metric=None, diverged_step=412)
  write(tmp_path, "copy", "diag-glorot", 1, test_metric=0.2)
  write(tmp_path, "adding", "diag-glorot", 0, test_metric=0.04, constant_one_test_mse=0.17)
  write(tmp_path, "adding", "dense-glorot", 0, diverged=True, test_metric=None, diverged_step=9)
  write(tmp_path, "adding", "dense-glorot", 1, diverged=True, test_metric=None, diverged_step=3)
  write(tmp_path, "adding", "dense-glorot", 2, diverged=True, test_metric=None)  # an older run: no step recorded
  write(tmp_path, "forecast", "diag-glorot", 0, test_mse_over_persistence=0.5, rollout_left_range=True,
        rollout_left_at_step=37, rollout_steps=4096)
  markdown = table2.to_markdown(table2.read_runs(str(tmp_path)))
  results_table = markdown.split("\n\n")[0]
  rows = {line.split(" | ")[0][2:]: line.split(" | ")[1:] for line in results_table.splitlines()
          if line.startswith("| ")}
  assert rows["diag-diag_uniform"][0] == "0.800 ± 0.100 (2 seeds)" and rows["diag-diag_uniform"][1] == "n/r"
  assert rows["diag-glorot"][:2] == ["– (1/2 div., step 412)", "0.040 (1 seed)"]
  assert rows["dense-glorot"][1] == "– (3/3 div., steps 3, 9)"
  assert rows["diag-glorot"][2:] == ["0.500 (1 seed)", "1/1 left (from step 37)", "n/r |"]  # no width: no memory
  assert rows["baseline"][:2] == ["chance 0.125", "constant 1 0.170"]
  assert "commits: abcdef0; CPU: Test CPU" in markdown


def test_state_table_reads_the_last_validation_of_metrics_jsonl(tmp_path):
  for seed, wall, last in [(0, 50.0, 3e6), (1, 70.0, 5e2)]:
    write(tmp_path, "copy", "diag-glorot", seed, test_metric=0.2, wall_s=wall)
    lines = [{"step": 10, "val/layer_0/max_abs_h": 1e9, "val/layer_1/max_abs_h": 2.0},
             {"step": 10, "train/layer_0/max_abs_h": 1e12},  # training records are not validations
             {"step": 20, "val/layer_0/max_abs_h": 4.0, "val/layer_1/max_abs_h": last}]
    text = "\n".join(json.dumps(r) for r in lines) + '\n{"step": 30, "val/la'  # a line cut by a kill
    (tmp_path / "copy" / "diag-glorot" / f"seed{seed}" / "metrics.jsonl").write_text(text)
  write(tmp_path, "copy", "diag-glorot", 2, diverged=True, test_metric=None)
  markdown = table2.to_markdown(table2.read_runs(str(tmp_path)), tasks=("copy",))
  state_rows = [line for line in markdown.splitlines() if line.startswith("| diag-glorot |")]
  assert state_rows[-1] == "| diag-glorot | 1.5e+06 (5e+02-3e+06); 1/3 div. |"   # the median of 3e6 and 500
  assert "wall time 2 min in all, median 60 s a run" in markdown


def test_curves_average_the_seeds_and_draw_a_png(tmp_path):
  for seed, values in [(0, [0.2, 0.6]), (1, [0.4, 0.8])]:
    write(tmp_path, "copy", "diag-diag_uniform", seed, test_metric=0.7, chance_accuracy=0.125)
    lines = [{"step": 100 * (i + 1), "val/accuracy": v} for i, v in enumerate(values)]
    (tmp_path / "copy" / "diag-diag_uniform" / f"seed{seed}" / "metrics.jsonl").write_text(
        "\n".join(json.dumps(r) for r in lines) + "\n")
  runs = table2.read_runs(str(tmp_path))
  assert table2.val_curve(runs[0]["path"].replace("results.json", "metrics.jsonl"), "val/accuracy") == (
      [100, 200], [0.2, 0.6])
  out = tmp_path / "curves.png"
  drawn = table2.plot_curves(runs, str(out), tasks=("copy", "adding"))
  steps, mean = drawn["copy", "diag-diag_uniform"]
  assert steps == [100, 200] and mean == pytest.approx([0.3, 0.7]) and len(drawn) == 1
  assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reproduce_script_lists_the_issue_grid(tmp_path):
  """{dense, diag} x {glorot, glorot_half, rescaled_glorot, diag_uniform} plus the LRU, 3 tasks, 3 seeds."""
  repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  out = subprocess.run(["bash", "scripts/reproduce_cpu_tasks.sh", str(tmp_path / "t2"), "--dry-run"], cwd=repo,
                       capture_output=True, text=True, check=True, timeout=120).stdout
  assert "81 runs: 81 new" in out
  for task in ("copy", "adding", "forecast"):
    for row in ("dense-glorot_half", "diag-diag_uniform", "lru-lru_ring"):
      assert f"--config configs/{task}.py:cpu --workdir {tmp_path}/t2/{task}/{row}/seed2" in out
  assert not (tmp_path / "t2" / "copy").exists()  # a dry run writes no run


def test_inits_script_lists_every_other_initializer_and_the_advised_setting(tmp_path):
  """The issue's rows: 7 diagonal and 4 dense initializers on the three tasks, and the dense advised setting that is
  no row (lru_ring 0.9-0.999) on forecast; a PART other than all / diag / dense is a one-line error."""
  repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  def workdirs(part):
    out = subprocess.run(["bash", "scripts/reproduce_cpu_inits.sh", str(tmp_path / "t"), "--dry-run"], cwd=repo,
                         capture_output=True, text=True, check=True, timeout=300,
                         env=dict(os.environ, SEEDS="1", PART=part)).stdout
    return {line.split("--workdir ")[1].split()[0][len(str(tmp_path / "t")) + 1:] for line in out.splitlines()
            if "--workdir" in line}
  diag = {f"{task}/diag-{row}/seed1" for task in ("copy", "adding", "forecast") for row in (
      "orthogonal", "truncated_glorot", "s4d_lin", "s4d_inv", "hippo_n", "spectral_glorot-radius0.999",
      "calibrated_glorot-delta0.05")}
  dense = {f"{task}/dense-{row}/seed1" for task in ("copy", "adding", "forecast") for row in (
      "orthogonal", "truncated_glorot", "spectral_glorot-radius0.999", "calibrated_glorot-delta0.05")}
  dense.add("forecast/dense-lru_ring-r_min0.9-r_max0.999/seed1")
  assert workdirs("all") == diag | dense
  assert not (tmp_path / "t").exists()
  bad = subprocess.run(["bash", "scripts/reproduce_cpu_inits.sh", str(tmp_path / "t"), "--dry-run"], cwd=repo,
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, PART="dens"))
  assert bad.returncode == 2 and bad.stderr.strip() == "reproduce_cpu_inits.sh: PART=dens; valid: all, diag, dense"


def test_rollout_plot_takes_the_envelope_over_examples_and_seeds(tmp_path):
  rollouts = {0: [[1.0, -2.0], [3.0, 0.5], [-9.0, 1.0]], 1: [[4.0, 0.0], [1.0, 1.0], [np.inf, 0.0]]}
  for seed, forecasts in rollouts.items():
    write(tmp_path, "forecast", "diag-glorot", seed, test_mse_over_persistence=9.0, rollout_bound=20.0)
    np.save(tmp_path / "forecast" / "diag-glorot" / f"seed{seed}" / "rollout.npy", np.array(forecasts))
  write(tmp_path, "forecast", "diag-rescaled_glorot", 0, test_mse_over_persistence=0.4, rollout_bound=20.0)
  out = tmp_path / "rollouts.png"
  envelopes = table2.plot_rollouts(table2.read_runs(str(tmp_path)), str(out))
  assert list(envelopes) == ["diag-glorot"]   # the run without rollout.npy is left out
  np.testing.assert_array_equal(envelopes["diag-glorot"], [4.0, 3.0, np.inf])
  assert out.read_bytes()[:4] == b"\x89PNG"


def naive_spearman(x, y):
  """Pearson's r of the ranks, ties given their mean rank, by loops."""
  def ranks(values):
    return [np.mean([j + 1 for j, w in enumerate(sorted(values)) if w == v]) for v in values]
  return float(np.corrcoef(ranks(x), ranks(y))[0, 1])


def test_memory_column_and_figure_from_the_predictor(tmp_path):
  """spectral_glorot puts every draw's radius at `radius`, so its memory is -1/log(radius) exactly; orthogonal's
  unit circle gives an infinite memory; rescaled_glorot has none at n = 16."""
  run = dict(d_hidden=16, max_length=64, recurrence="diag")
  copy = {0.5: [0.2, 0.3], 0.9: [0.25, 0.5], 0.99: [0.9, 0.8]}
  for radius, accuracies in copy.items():
    for seed, accuracy in enumerate(accuracies):
      write(tmp_path, "copy", f"diag-spectral_glorot_{radius}", seed, init_params={"radius": radius},
            init="spectral_glorot", test_metric=accuracy, **run)
      write(tmp_path, "forecast", f"diag-spectral_glorot_{radius}", seed, init_params={"radius": radius},
            init="spectral_glorot", test_mse_over_persistence=1.0 - accuracy, **run)
  write(tmp_path, "copy", "diag-orthogonal", 0, init_params={}, init="orthogonal", test_metric=0.95, **run)
  write(tmp_path, "copy", "diag-glorot", 0, init_params={}, init="glorot", diverged=True, test_metric=None, **run)
  write(tmp_path, "copy", "diag-rescaled_glorot", 0, init_params={}, init="rescaled_glorot", test_metric=0.1, **run)
  runs = table2.read_runs(str(tmp_path))
  for radius in copy:
    label = f"diag-spectral_glorot_{radius}"
    memory = table2.memory_at_init(next(r for r in runs if r["label"] == label))
    assert memory == pytest.approx(-1 / np.log(radius), rel=1e-4)
  markdown = table2.to_markdown(runs, tasks=("copy", "forecast"))
  cells = {line.split(" | ")[0][2:]: line.split(" | ")[-1] for line in markdown.split("\n\n")[0].splitlines()}
  assert cells["diag-spectral_glorot_0.9"] == f"{-1 / np.log(0.9):.3g} |" == "9.49 |"
  assert cells["diag-orthogonal"] == "∞ |" and cells["diag-rescaled_glorot"] == "n/r |"
  out = tmp_path / "memory.png"
  correlations = table2.plot_memory(runs, str(out))
  memories = {0.5: -1 / np.log(0.5), 0.9: -1 / np.log(0.9), 0.99: -1 / np.log(0.99)}
  x = [memories[r] for r in copy for _ in copy[r]] + [np.inf]  # the diverged and unpredicted runs left out
  y = [a for r in copy for a in copy[r]] + [0.95]
  rho, _, count = correlations["copy"]
  assert count == 7 and rho == pytest.approx(naive_spearman(x, y), abs=1e-12)
  rho, _, count = correlations["forecast"]
  assert count == 6 and rho == pytest.approx(naive_spearman(x[:-1], [1.0 - a for a in y[:-1]]), abs=1e-12)
  assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table2_script_writes_the_memory_figure(tmp_path, capsys):
  spec = importlib.util.spec_from_file_location("table2_script", REPO / "scripts" / "table2.py")
  script = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(script)
  run = dict(d_hidden=16, max_length=64, recurrence="diag", init="spectral_glorot")
  for seed, (radius, accuracy) in enumerate([(0.5, 0.2), (0.9, 0.6), (0.99, 0.4)]):
    write(tmp_path, "copy", "diag-spectral_glorot", seed, init_params={"radius": radius}, test_metric=accuracy, **run)
  script.main(["--root", str(tmp_path), "--plot-memory", str(tmp_path / "m.png")])
  out = capsys.readouterr().out
  assert f"copy: Spearman rho {round(naive_spearman([1, 2, 3], [0.2, 0.6, 0.4]), 3)} " in out
  assert "forecast: Spearman rho None (p None) over 0 runs" in out and (tmp_path / "m.png").exists()
