"""The per-task losses against numpy definitions, and a tiny forecast run: best checkpoint by lowest MSE, rollout."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

from configs import forecast as forecast_config
from lra.train import loop
from lra.train import rollout
from lra.train import steps


def test_per_position_cross_entropy_and_mse_match_numpy():
  rng = np.random.default_rng(0)
  logits, labels = rng.standard_normal((3, 4, 5)), rng.integers(0, 5, (3, 4))
  log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  terms = steps.per_example("cross_entropy", jnp.asarray(logits), jnp.asarray(labels))
  np.testing.assert_allclose(terms["loss"], -np.take_along_axis(log_p, labels[..., None], -1)[..., 0].mean(1),
                             rtol=1e-5)
  right = logits.argmax(-1) == labels
  np.testing.assert_allclose(terms["correct"], right.mean(1))
  np.testing.assert_array_equal(terms["seq_correct"], right.all(1))
  out, target = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
  np.testing.assert_allclose(steps.per_example("mse", jnp.asarray(out), jnp.asarray(target))["loss"],
                             ((out - target) ** 2).mean(1), rtol=1e-5)


def test_rollout_summary_finds_the_first_step_out_of_range():
  forecasts = np.zeros((6, 2), np.float32)
  forecasts[3, 1], forecasts[5, 0] = 7.0, np.nan
  summary = rollout.summarise(forecasts, bound=3.0, max_abs_value=2.0)
  assert summary["rollout_left_range"] and summary["rollout_left_at_step"] == 4 and summary["rollout_bound"] == 6.0
  assert not rollout.summarise(forecasts[:3], bound=3.0, max_abs_value=2.0)["rollout_left_range"]


def test_tiny_forecast_run_keeps_the_lowest_mse_and_rolls_out(tmp_path):
  c = forecast_config.get_config("cpu")
  c.model.update(d_model=8, d_hidden=16, n_layers=1, init="glorot_half")
  c.train.update(batch_size=8, epochs=2, log_every_steps=2)
  c.wandb.mode = "disabled"
  c.data.cache_dir = str(tmp_path / "cache")
  c.data.max_length = 24
  c.data.forecast.update(horizon=6, num_train=32, num_val=8, num_test=8, rollout_steps=12, rollout_examples=3,
                         mg_dt=0.5)
  results = loop.run(c, str(tmp_path / "run"))
  with open(tmp_path / "run" / "metrics.jsonl") as f:
    records = list(map(json.loads, f))
  evals = [r for r in records if "val/loss" in r]
  assert len(evals) == 2 and results["metric"] == "mse"
  assert not any(k.endswith("accuracy") for r in records for k in r)  # a regression has no accuracy to log
  assert results["metric"] == "mse" and "test_accuracy" not in results and "best_val_accuracy" not in results
  assert results["best_val_metric"] == pytest.approx(min(r["val/loss"] for r in evals))
  best = min(evals, key=lambda r: r["val/loss"])
  assert results["test_metric"] == pytest.approx(best["test/loss"]) and results["best_step"] == best["step"]
  assert results["test_mse_over_persistence"] == pytest.approx(results["test_metric"] /
                                                               results["persistence_test_mse"])
  assert results["rollout_steps"] == 12 and results["rollout_examples"] == 3
  forecasts = np.load(tmp_path / "run" / loop.ROLLOUT_FILE)
  assert forecasts.shape == (12, 3) and results["rollout_max_abs"] == pytest.approx(np.abs(forecasts).max())
  assert results["rollout_left_range"] == (results["rollout_left_at_step"] is not None)
