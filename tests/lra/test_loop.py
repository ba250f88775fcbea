"""The training loop end to end on tiny generated ListOps: files written, provenance and prediction, devices,
wandb, errors (resuming after kills and signals: test_preemption.py)."""

import glob
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from lra.errors import ConfigError
from lra.train import loop
from tests.lra import wandb_file
from tests.lra.tiny import OVERRIDES, REPO, tiny_config

pytestmark = pytest.mark.slow


def read_jsonl(path):
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def test_run_writes_config_metrics_results(tmp_path):
  config = tiny_config(tmp_path)
  results = loop.run(config, str(tmp_path / "run"))
  for name in ("config.json", "metrics.jsonl", "results.json"):
    assert (tmp_path / "run" / name).exists(), name
  on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
  assert on_disk == json.loads(json.dumps(results))
  assert results["diverged"] is False and results["diverged_step"] is None
  assert results["finished"] and results["steps"] == results["total_steps"] > 0
  assert results["metric"] == "accuracy"
  assert 0.0 <= results["test_metric"] <= 1.0 and 0.0 <= results["best_val_metric"] <= 1.0
  lines = read_jsonl(tmp_path / "run" / "metrics.jsonl")
  evals = [l for l in lines if "val/accuracy" in l]
  assert len(evals) == config.train.epochs
  assert max(e["val/accuracy"] for e in evals) == pytest.approx(results["best_val_metric"])
  assert all("layer_0/spectral_radius" in e and "val/layer_0/max_abs_h" in e for e in evals)
  assert any("train/loss" in l and "lr/recurrent" in l for l in lines)
  # Training log lines carry the spectral radii too; at the last step, those of the parameters evaluated there.
  last = [l for l in lines if l["step"] == results["total_steps"]]
  assert len(last) == 2 and "train/loss" in last[0] and "val/loss" in last[1]
  assert last[0]["layer_0/spectral_radius"] == last[1]["layer_0/spectral_radius"]
  radii = [l["layer_0/spectral_radius"] for l in lines if "train/loss" in l]
  assert len(radii) > 2 and radii[0] != radii[-1]  # read from the current parameters, not the initial ones
  # The logged learning rates are the schedule's at the step each update used (from the optimizer state).
  from lra.train import optim
  schedules = optim.learning_rate_schedules(config.optim, steps_per_epoch=results["total_steps"] // config.train.epochs,
                                            total_steps=results["total_steps"])
  for line in (l for l in lines if "lr/recurrent" in l):
    for group, schedule in schedules.items():
      assert line[f"lr/{group}"] == pytest.approx(float(schedule(line["step"] - 1)), rel=1e-6)
  # A finished run started again does nothing and returns the same results.
  assert loop.run(config, str(tmp_path / "run")) == on_disk
  # Provenance in both files, and the stability prediction for this width, length and depth.
  from inits import stability
  stored = json.loads((tmp_path / "run" / "config.json").read_text())
  for prov in (stored["provenance"], results["provenance"]):
    assert prov["platform"] == "cpu" and prov["device_count"] == jax.device_count()
    assert set(prov["versions"]) >= {"jax", "flax", "optax", "orbax-checkpoint"}
    assert prov["commit"] is None or len(prov["commit"]) == 40
  expected = stability.predict(config.model.init, config.model.d_hidden, config.data.max_length, "diag",
                               n_layers=config.model.n_layers)["p_diverge"]
  assert results["predicted_p_diverge"] == expected
  assert expected <= 0.5 and results["advised_init"] is None  # advice is computed for runs predicted to diverge


def test_log_radius_off_keeps_the_radius_to_evaluations_and_resumes_runs_that_had_it(tmp_path):
  config = tiny_config(tmp_path, max_steps=4, log_radius=False)
  loop.run(config, str(tmp_path / "run"))
  lines = read_jsonl(tmp_path / "run" / "metrics.jsonl")
  train, evals = [l for l in lines if "train/loss" in l], [l for l in lines if "val/loss" in l]
  assert train and evals and not any("layer_0/spectral_radius" in l for l in train)
  assert all("layer_0/spectral_radius" in l for l in evals)
  # A switch that changes no result: a workdir started with it on accepts the same run with it off, and back.
  from lra.train import workdir as workdir_lib
  assert workdir_lib.config_differences(dict(train=dict(log_radius=True)), dict(train=dict(log_radius=False))) == []


def test_a_run_predicted_to_diverge_warns_and_names_a_stable_init(tmp_path, monkeypatch, capsys):
  advice = {"flags": "--config.model.init=fixit", "memory_length": 12.0, "budget": 0.01}
  monkeypatch.setattr(loop, "predict_divergence", lambda config: {
      "p_diverge": 0.9, "init": config.model.init, "n": config.model.d_hidden, "length": config.data.max_length,
      "advice": advice})
  results = loop.run(tiny_config(tmp_path, max_steps=1), str(tmp_path / "run"))
  err = capsys.readouterr().err
  warning = next(line for line in err.splitlines() if line.startswith("warning: "))
  assert "predicted to overflow float32" in warning and warning.endswith("--config.model.init=fixit")
  assert results["predicted_p_diverge"] == 0.9 and results["advised_init"] == advice


def test_an_init_parameter_the_init_does_not_take_is_a_config_error(tmp_path):
  config = tiny_config(tmp_path)
  config.model.init_params.delta = 0.05  # glorot_half takes only half_of
  with pytest.raises(ConfigError, match=r"config.model.init_params: .*half_of"):
    loop.run(config, str(tmp_path / "run"))


def test_wandb_offline_directory_holds_the_metrics(tmp_path, monkeypatch):
  monkeypatch.setenv("WANDB_MODE", "offline")
  monkeypatch.setenv("WANDB_SILENT", "true")
  config = tiny_config(tmp_path, epochs=1)
  loop.run(config, str(tmp_path / "run"))
  files = glob.glob(str(tmp_path / "run" / "wandb" / "offline-run-*" / "*.wandb"))
  assert len(files) == 1
  history = wandb_file.history(files[0])
  logged = read_jsonl(tmp_path / "run" / "metrics.jsonl")
  val_wandb = [h["val/accuracy"] for h in history if "val/accuracy" in h]
  val_local = [l["val/accuracy"] for l in logged if "val/accuracy" in l]
  assert val_wandb and val_wandb == pytest.approx(val_local)


def _run_subprocess(tmp_path, name, devices, extra=()):
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu",
             WANDB_MODE="disabled")
  cmd = [sys.executable, "train.py", "--config", "configs/listops.py:cpu", "--workdir", str(tmp_path / name),
         *[f"--config.{k}={v}" for k, v in OVERRIDES.items()], f"--config.data.cache_dir={tmp_path / 'cache'}",
         "--config.train.log_every_steps=1", *extra]
  proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
  return proc


def test_one_and_four_devices_give_the_same_loss_curve(tmp_path):
  one = _run_subprocess(tmp_path, "one", 1)
  four = _run_subprocess(tmp_path, "four", 4)
  assert one.returncode == 0, one.stderr[-3000:]
  assert four.returncode == 0, four.stderr[-3000:]
  assert json.loads((tmp_path / "four" / "results.json").read_text())["devices"] == 4
  curve = lambda n: [l["train/loss"] for l in read_jsonl(tmp_path / n / "metrics.jsonl") if "train/loss" in l]
  assert len(curve("one")) > 5
  np.testing.assert_allclose(curve("four"), curve("one"), rtol=2e-4, atol=2e-5)


def test_batch_that_does_not_divide_over_devices_says_what_to_change(tmp_path):
  proc = _run_subprocess(tmp_path, "bad", 4, ["--config.train.batch_size=6"])
  assert proc.returncode != 0
  assert "batch_size=6" in proc.stderr and "4 devices" in proc.stderr


@pytest.mark.parametrize("flag, message", [
    ("--config.model.bogus=1", "unknown config field"),
    ("--config.model.d_hidden=abc", "d_hidden"),
    ("--config.model.init=xavier", "config.model.init='xavier'; valid"),
    ("--config.model.recurrence=gru", "valid"),
    ("--config.optim.lr=-1", "config.optim.lr=-1"),
    ("--config.data.listops.max_args=1", "config.data.listops.max_args=1"),
])
def test_bad_config_gets_a_clear_message(tmp_path, flag, message):
  proc = subprocess.run([sys.executable, "train.py", "--config", "configs/listops.py:cpu", "--workdir",
                         str(tmp_path / "x"), flag], cwd=REPO, capture_output=True, text=True, timeout=300,
                        env=dict(os.environ, JAX_PLATFORMS="cpu", WANDB_MODE="disabled"))
  assert proc.returncode != 0
  assert message in proc.stderr, proc.stderr[-2000:]
  assert "Traceback" not in proc.stderr


def test_a_config_file_that_does_not_exist_is_one_line(tmp_path):
  proc = subprocess.run([sys.executable, "train.py", "--config", "configs/nope.py:cpu", "--workdir", str(tmp_path / "x"),
                         "--config.seed=1"], cwd=REPO, capture_output=True, text=True, timeout=300,
                        env=dict(os.environ, JAX_PLATFORMS="cpu", WANDB_MODE="disabled"))
  assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
  assert proc.stderr.strip().splitlines() == [proc.stderr.strip()], proc.stderr
  assert "configs/nope.py: no such file" in proc.stderr and "configs/listops.py" in proc.stderr


def test_rescaled_glorot_at_small_width_names_the_fix(tmp_path):
  config = tiny_config(tmp_path)
  config.model.init, config.model.d_hidden = "rescaled_glorot", 128
  with pytest.raises(ValueError, match="calibrated_glorot"):
    loop.run(config, str(tmp_path / "x"))
