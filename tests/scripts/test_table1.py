"""Tests of tools/table.py and scripts/table1.py on results.json files written here (no training, no network)."""

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tools import sweep, table

TABLE1_PY = os.path.join(sweep.REPO_DIR, "scripts", "table1.py")


def _write_run(root, task, label, seed, *, acc=None, diverged=False, finished=True, layer_norm=None, prov=None,
               prov_in="results"):
  recurrence, init = label.split("-")[:2]
  workdir = os.path.join(root, task, label, f"seed{seed}")
  os.makedirs(workdir, exist_ok=True)
  results = dict(task=task, recurrence=recurrence, init=init, seed=seed, diverged=diverged,
                 diverged_step=5 + seed if diverged else None, best_val_accuracy=None if acc is None else acc + 0.01,
                 test_accuracy=acc, finished=finished, steps=10, wall_s=1.0)
  config = {"model": {"recurrent_layer_norm": bool(layer_norm)}}
  if prov is not None:
    (results if prov_in == "results" else config)["provenance"] = prov
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump(results, f)
  if layer_norm is not None or prov_in == "config":
    with open(os.path.join(workdir, "config.json"), "w") as f:
      json.dump(config, f)
  return workdir


def _prov(commit="a" * 40, dirty=False, kind="NVIDIA H200", platform="gpu", count=1, cpu="AMD EPYC 9654"):
  """A provenance dict as lra.provenance.collect() writes it."""
  return dict(commit=commit, dirty=dirty, versions={"jax": "0.10.2"}, platform=platform, device_kind=kind,
              device_count=count, local_device_count=count, process_count=1, cpu_model=cpu,
              gpu_model=kind if platform == "gpu" else None)


@pytest.fixture
def results_root(tmp_path):
  """ListOps and IMDB results: trained, diverged, partly diverged, one seed missing, a LayerNorm row."""
  root = str(tmp_path / "runs")
  accs = {"dense-rescaled_glorot": [0.50, 0.52, 0.57], "diag-glorot_half": [0.40, 0.41, 0.45]}
  for label, values in accs.items():
    for seed, acc in enumerate(values):
      _write_run(root, "listops", label, seed, acc=acc)
  for seed in range(3):
    _write_run(root, "listops", "dense-glorot", seed, diverged=True)
    _write_run(root, "listops", "diag-glorot", seed, diverged=seed == 2, acc=None if seed == 2 else 0.3)
    _write_run(root, "imdb", "dense-glorot", seed, acc=0.8 + seed / 100, layer_norm=True)  # a LayerNorm row
  _write_run(root, "imdb", "diag-rescaled_glorot", 0, acc=0.87)
  _write_run(root, "imdb", "diag-rescaled_glorot", 1, acc=0.86)
  _write_run(root, "imdb", "diag-rescaled_glorot", 2, acc=0.99, finished=False)  # still running
  return root


def test_cells_give_mean_std_dashes_and_missing(results_root):
  records, planned = table.collect_local(results_root)
  assert planned == [] and len(records) == 4 * 3 + 2 * 3
  tasks, labels, cells = table.aggregate(records)
  assert tasks == ["listops", "imdb"]
  assert labels[:9] == [row.name for row in sweep.TABLE1_ROWS] and labels[9:] == ["dense-glorot-ln"]

  cell = cells[("listops", "dense-rescaled_glorot")]
  want = np.array([50.0, 52.0, 57.0])
  assert cell.mean == pytest.approx(want.mean()) and cell.std == pytest.approx(want.std())
  assert cell.text() == f"{want.mean():.2f} ± {want.std():.2f}" == "53.00 ± 2.94"
  assert cells[("listops", "diag-glorot_half")].text() == "42.00 ± 2.16"
  assert cells[("listops", "dense-glorot")].text() == "– (3/3 div., steps 5, 6, 7)"  # each seed's diverged_step
  assert cells[("listops", "diag-glorot")].text() == "– (1/3 div., step 7)"
  assert cells[("listops", "lru-lru_ring")].text() == "missing"
  assert cells[("imdb", "dense-glorot-ln")].text() == "81.00 ± 0.82"
  partial = cells[("imdb", "diag-rescaled_glorot")]
  assert partial.status == "partial" and partial.unfinished_seeds == (2,)
  assert partial.text() == "86.50 ± 0.50 (2/3)"


def test_planned_runs_mark_missing_seeds_and_rows(tmp_path):
  root = str(tmp_path / "runs")
  runs = sweep.expand(root, tasks=["listops"], rows=[sweep.Row("dense", "glorot_half"), sweep.Row("lru", "lru_ring")],
                      seeds=[0, 1], preset="cpu", axes=[("optim.lr_factor", ["0.1"])])
  sweep.write_manifest(os.path.join(root, "sweep_local.json"), runs, program=["python", "train.py"], repo_dir=root,
                       prov=sweep.provenance("test"))
  _write_run(root, "listops", "dense-glorot_half-lr_factor0.1", 0, acc=0.6)
  os.makedirs(os.path.join(root, "listops", "lru-lru_ring-lr_factor0.1", "seed0"))
  with open(os.path.join(root, "listops", "lru-lru_ring-lr_factor0.1", "seed0", "metrics.jsonl"), "w") as f:
    f.write('{"step": 1}\n')  # started, interrupted: no results.json
  records, planned = table.collect_local(root)
  tasks, labels, cells = table.aggregate(records, expected_runs=planned)
  assert tasks == ["listops"] and labels == ["dense-glorot_half-lr_factor0.1", "lru-lru_ring-lr_factor0.1"]
  assert cells[("listops", labels[0])].text() == "60.00 ± 0.00 (1/2)"
  lru = cells[("listops", labels[1])]
  assert lru.text() == "missing" and lru.unfinished_seeds == (0,) and lru.expected_seeds == (0, 1)
  assert table.row_title(labels[1]) == "LRU, LRU ring, lr_factor0.1"


def test_rows_of_an_earlier_sweep_in_the_same_root_keep_their_axes(tmp_path):
  """Each sweep rewrites the root's manifest: the runs of the sweeps before it take their label from their folder."""
  root = str(tmp_path / "runs")
  _write_run(root, "listops", "dense-lru_ring-r_max0.999-r_min0.9", 0, acc=0.3)  # an earlier sweep's two settings
  _write_run(root, "listops", "dense-lru_ring-r_max0.9-r_min0.4", 0, acc=0.2)
  runs = sweep.expand(root, tasks=["listops"], rows=[sweep.Row("diag", "spectral_glorot")], seeds=[0], preset="cpu",
                      axes=[("model.init_params.radius", ["0.999"])])
  sweep.write_manifest(os.path.join(root, "sweep_local.json"), runs, program=["python", "train.py"], repo_dir=root,
                       prov=sweep.provenance("test"))
  _write_run(root, "listops", "diag-spectral_glorot-radius0.999", 0, acc=0.4)
  _write_run(str(tmp_path / "elsewhere"), "listops", "diag-glorot", 0, acc=0.1)  # a workdir outside the layout
  os.rename(os.path.join(tmp_path, "elsewhere", "listops", "diag-glorot", "seed0"), os.path.join(root, "my_run"))
  records, planned = table.collect_local(root)
  tasks, labels, cells = table.aggregate(records, expected_runs=planned)
  assert sorted(labels) == ["dense-lru_ring-r_max0.9-r_min0.4", "dense-lru_ring-r_max0.999-r_min0.9", "diag-glorot",
                            "diag-spectral_glorot-radius0.999"]
  assert cells[("listops", "dense-lru_ring-r_max0.9-r_min0.4")].text() == "20.00 ± 0.00"
  assert table.row_title("diag-spectral_glorot-radius0.999") == "Diagonal, spectral Glorot, radius0.999"


def test_renderers_and_published_numbers(results_root):
  tasks, labels, cells = table.aggregate(table.collect_local(results_root)[0], seeds=[0, 1, 2])
  prov = dict(command="table1.py --root x", commit="abc123", created="now")
  md = table.to_markdown(tasks, labels, cells, prov=prov)
  assert md.splitlines()[0] == "| Model | ListOps | paper | IMDB | paper |"
  assert "| Dense, rescaled Glorot | 53.00 ± 2.94 |  | missing | 87.55 (R) |" in md
  assert "| Dense, Glorot, LN | missing |  | 81.00 ± 0.82 | 86.82 (R) |" in md
  assert "| LRU, LRU ring | missing | 60.2 (O) | missing | 87.32 (R); 89.4 (O) |" in md
  assert "abc123" in md and "table1.py --root x" in md

  tex = table.to_latex(tasks, labels, cells, prov=prov)
  assert r"Dense, rescaled Glorot & 53.00 $\pm$ 2.94 &  & missing & 87.55 (R) \\" in tex
  assert r"Dense, Glorot & -- (3/3 div., steps 5, 6, 7) &  & missing & -- (R) \\" in tex
  assert tex.startswith("% generated by: table1.py --root x") and r"\end{tabular}" in tex

  text = table.to_csv(tasks, labels, cells, prov=prov)
  rows = list(csv.DictReader(io.StringIO("".join(l for l in text.splitlines(True) if not l.startswith("#")))))
  assert len(rows) == len(tasks) * len(labels)
  by_key = {(r["task"], r["label"]): r for r in rows}
  assert by_key[("listops", "dense-rescaled_glorot")]["accuracies"] == "50.0000 52.0000 57.0000"
  assert by_key[("listops", "diag-glorot")]["n_diverged"] == "1" and by_key[("listops", "diag-glorot")][
      "diverged_seeds"] == "2"
  assert by_key[("imdb", "lru-lru_ring")]["published"] == "87.32 89.4"
  for (task, label), values in table.PUBLISHED.items():
    assert {src for _, src in values} <= set(table.PUBLISHED_SOURCES)
    assert task in sweep.TABLE1_TASKS and label.split("-")[0] in sweep.RECURRENCES


def test_table1_script_writes_the_table_files_and_falls_back_from_wandb(results_root, tmp_path):
  env = dict(os.environ, WANDB_MODE="disabled")
  out = str(tmp_path / "t" / "table1")
  proc = subprocess.run([sys.executable, TABLE1_PY, "--root", results_root, "--out", out, "--wandb-project", "p"],
                        capture_output=True, text=True, env=env, timeout=120)
  assert proc.returncode == 0, proc.stderr
  assert "table1.py: wandb skipped: WANDB_MODE=disabled" in proc.stderr and "using local results only" in proc.stderr
  expected = table.build_table1([results_root], dict(command="c", commit="x", created="t"))
  for ext, text in expected.outputs.items():
    with open(out + ext) as f:
      written = f.read()
    rows = lambda t: [line for line in t.splitlines() if line.startswith(("|", "listops", "imdb")) or "&" in line]
    assert rows(written) == rows(text) and rows(text), ext  # the same cells as the table built in-process
  with open(out + ".md") as f:
    assert f.read() in proc.stdout  # printed, then written
  assert "| Dense, Glorot | – (3/3 div., steps 5, 6, 7) |" in expected.outputs[".md"]


def test_only_an_unreachable_wandb_project_is_an_error(monkeypatch):
  monkeypatch.setenv("WANDB_MODE", "disabled")
  with pytest.raises(table.WandbUnavailable, match="not querying wandb project 'p'"):
    table.build_table1([], dict(command="c", commit="x", created="t"), wandb_project="p")


def test_wandb_without_api_key_fails_before_any_network_call(monkeypatch, tmp_path):
  monkeypatch.setenv("WANDB_MODE", "online")
  monkeypatch.delenv("WANDB_API_KEY", raising=False)
  monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
  monkeypatch.setenv("NETRC", str(tmp_path / "none"))
  with pytest.raises(table.WandbUnavailable, match="no wandb API key"):
    table.collect_wandb("glorot-lra")


def test_runs_of_one_commit_and_device_are_named_without_a_warning(tmp_path):
  root = str(tmp_path / "runs")
  for seed in range(2):
    _write_run(root, "listops", "dense-glorot_half", seed, acc=0.5, prov=_prov())
  _write_run(root, "listops", "diag-glorot_half", 0, acc=0.5, prov=_prov(), prov_in="config")  # config.json's
  lines, warnings = table.runs_provenance(table.collect_local(root)[0])
  assert lines == ["runs from commit aaaaaaaaaaaa (3 runs)", "runs on 1 x NVIDIA H200 (gpu) (3 runs)"]
  assert warnings == []


def test_table1_warns_when_runs_differ_in_commit_and_device(tmp_path):
  root = str(tmp_path / "runs")
  _write_run(root, "listops", "dense-glorot_half", 0, acc=0.5, prov=_prov())
  _write_run(root, "listops", "dense-glorot_half", 1, acc=0.5, prov=_prov(commit="b" * 40, dirty=True))
  _write_run(root, "listops", "dense-glorot_half", 2, acc=0.5,
             prov=_prov(platform="cpu", kind="cpu", cpu="Intel(R) Xeon(R) Processor"))
  _write_run(root, "imdb", "dense-glorot_half", 0, acc=0.5)  # written before runs recorded provenance
  built = table.build_table1([root], dict(command="c", commit="x", created="t"))
  commits = "aaaaaaaaaaaa (2 runs), bbbbbbbbbbbb+dirty (1 run), not recorded (1 run)"
  devices = "1 x NVIDIA H200 (gpu) (2 runs), 1 x cpu (Intel(R) Xeon(R) Processor) (1 run), not recorded (1 run)"
  assert built.warnings == [f"warning: the table's runs come from 3 different commits: {commits}",
                            f"warning: the table's runs come from 3 different devices: {devices}"]
  md = built.outputs[".md"]
  assert f"Runs from commit {commits}." in md and "Warning: the table's runs come from 3 different devices" in md
  assert f"# warning: the table's runs come from 3 different commits: {commits}\n" in built.outputs[".csv"]
  assert f"% runs on {devices}\n" in built.outputs[".tex"]
