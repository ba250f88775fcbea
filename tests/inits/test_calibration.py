"""Tests for the Monte Carlo calibration: the quantile it returns, and its memory and disk caches."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import inits
from inits import calibration
from inits import theory


@pytest.fixture(autouse=True)
def fresh_memory_cache():
  calibration.clear_memory_cache()
  yield
  calibration.clear_memory_cache()


def test_scale_is_inverse_quantile_of_seeded_draws(tmp_path):
  n, delta, n_draws, seed = 24, 0.1, 60, 3
  radii = theory.monte_carlo_spectral_radii(lambda key, shape, dtype: theory.ginibre(key, shape[-1], dtype), n,
                                            n_draws, jax.random.key(seed))
  expected = 1 / np.quantile(radii, 1 - delta)
  scale = calibration.calibrated_scale(n, delta, "real", n_draws, seed, cache_dir=tmp_path)
  assert scale == pytest.approx(expected, rel=1e-12)
  assert np.mean(scale * radii > 1) == pytest.approx(delta, abs=1 / n_draws)


def test_disk_file_written_and_read_back_without_recomputing(tmp_path, monkeypatch):
  scale = calibration.calibrated_scale(20, 0.05, "complex", 40, cache_dir=tmp_path)
  path = calibration.cache_path(20, 0.05, "complex", 40, 0, tmp_path)
  record = json.loads(path.read_text())
  assert record["scale"] == scale and record["field"] == "complex" and record["n_draws"] == 40

  def no_monte_carlo(*args):
    raise AssertionError("recomputed although the value is cached")

  monkeypatch.setattr(calibration, "calibrate", no_monte_carlo)
  assert calibration.calibrated_scale(20, 0.05, "complex", 40, cache_dir=tmp_path) == scale  # memory
  calibration.clear_memory_cache()
  assert calibration.calibrated_scale(20, 0.05, "complex", 40, cache_dir=tmp_path) == scale  # disk
  with pytest.raises(AssertionError, match="recomputed"):
    calibration.calibrated_scale(20, 0.05, "complex", 41, cache_dir=tmp_path)  # other n_draws: other entry


def test_corrupt_cache_file_is_recomputed(tmp_path):
  path = calibration.cache_path(16, 0.1, "real", 30, 0, tmp_path)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("{not json")
  scale = calibration.calibrated_scale(16, 0.1, "real", 30, cache_dir=tmp_path)
  assert json.loads(path.read_text())["scale"] == scale


def test_cache_dir_from_env_var_then_default(tmp_path, monkeypatch):
  monkeypatch.setenv("GLOROT_LRA_CACHE", str(tmp_path / "from_env"))
  assert calibration.resolve_cache_dir() == tmp_path / "from_env"
  assert calibration.resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
  inits.get("calibrated_glorot", n_draws=30, delta=0.1)(jax.random.key(0), (12, 12))
  assert calibration.cache_path(12, 0.1, "real", 30, 0).exists()
  assert str(calibration.cache_path(12, 0.1, "real", 30, 0)).startswith(str(tmp_path / "from_env"))
  monkeypatch.delenv("GLOROT_LRA_CACHE")
  assert str(calibration.resolve_cache_dir()).endswith(".cache/glorot_lra")


@pytest.mark.parametrize("params, match", [
    (dict(n=10, delta=0.05, field="real", n_draws=5), "n_draws must be an int >= 10"),
    (dict(n=10, delta=0.01, field="real", n_draws=50), r"n_draws \* delta = 0.5 < 1.*n_draws >= 100"),
    (dict(n=0, delta=0.05, field="real", n_draws=100), "n must be a positive int, got n=0"),
])
def test_bad_parameters_raise(params, match, tmp_path):
  with pytest.raises(ValueError, match=match):
    calibration.calibrated_scale(**params, cache_dir=tmp_path)


def test_calibrated_glorot_works_below_164_where_rescaled_cannot(tmp_path):
  """Any n: at n = 32 the complex calibration (500 draws) hits delta on 500 fresh draws within 3 SE."""
  n, delta, n_draws = 32, 0.1, 500
  init = inits.get("calibrated_glorot", delta=delta, field="complex", n_draws=n_draws, cache_dir=tmp_path)
  radii = theory.monte_carlo_spectral_radii(init, n, n_draws, jax.random.key(11), dtype=jnp.complex64)
  p, _ = theory.exceedance_probability(radii)
  assert abs(p - delta) < 3 * np.sqrt(delta * (1 - delta) / n_draws), p


def test_first_call_under_jit_or_eval_shape_calibrates_eagerly(tmp_path):
  init = inits.get("calibrated_glorot", n_draws=30, delta=0.1, cache_dir=tmp_path)
  shape = jax.eval_shape(lambda key: init(key, (20, 20)), jax.random.key(0))
  assert shape.shape == (20, 20) and calibration.cache_path(20, 0.1, "real", 30, 0, tmp_path).exists()
  jitted = jax.jit(lambda key: init(key, (22, 22)))(jax.random.key(0))
  np.testing.assert_allclose(jitted, init(jax.random.key(0), (22, 22)), rtol=1e-6)
