"""Tests of the generated copy, adding and forecast tasks against independent definitions, their cache and errors."""

import json
import os

import numpy as np
import pytest

from configs import data as data_config
from lra.errors import ConfigError
from lra.tasks import forecast
from lra.tasks import get_task


def config(task, tmp_path, max_length, **fields):
  cfg = data_config.default_data_config(task)
  cfg.max_length = max_length
  cfg.cache_dir = str(tmp_path)
  cfg[task].update(fields)
  return cfg


def test_copy_targets_are_the_first_k_inputs(tmp_path):
  task = get_task("copy", config("copy", tmp_path, 30, num_symbols=4, alphabet=5, num_train=50, num_val=5,
                                 num_test=7))
  train = task.load("train")
  tokens = train.model_inputs(np.arange(len(train)))
  assert tokens.shape == (50, 30) and tokens.dtype == np.int32 and train.labels.shape == (50, 4)
  np.testing.assert_array_equal(train.labels + 1, tokens[:, :4])   # class id = symbol - 1
  blank, delimiter = 5 + 1, 5 + 2
  expected = np.full((50, 30), blank)
  expected[:, :4] = tokens[:, :4]
  expected[:, 30 - 4 - 1] = delimiter                               # 21 blanks, the delimiter, 4 output blanks
  np.testing.assert_array_equal(tokens, expected)
  assert set(np.unique(train.labels)) <= set(range(5)) and len(np.unique(train.labels)) == 5
  assert (task.head, task.num_positions, task.num_outputs, task.vocab_size) == ("per_position", 4, 5, 8)
  assert task.baseline({"test": task.load("test")})["chance_accuracy"] == pytest.approx(0.2)


def test_adding_targets_are_the_marked_sum(tmp_path):
  task = get_task("adding", config("adding", tmp_path, 20, num_train=40, num_val=4, num_test=400))
  test = task.load("test")
  assert test.inputs.shape == (400, 20, 2) and test.labels.dtype == np.float32
  for x, y in zip(test.inputs, test.labels):
    marked = np.flatnonzero(x[:, 1])
    assert len(marked) == 2 and marked[0] < 10 <= marked[1]          # one marker in each half
    assert y == pytest.approx(x[marked, 0].sum(), abs=1e-6)
  assert ((0 <= test.inputs[..., 0]) & (test.inputs[..., 0] <= 1)).all()
  baseline = task.baseline({"train": task.load("train"), "test": test})
  assert baseline["constant_one_test_mse"] == pytest.approx(1 / 6, abs=0.03)


def euler_mackey_glass(t_end, *, tau=17.0, dt=0.001, x0=1.2):
  """Explicit Euler with a small step on a list, sampled at integer times (independent of lra.tasks.forecast)."""
  lag, xs, samples = int(round(tau / dt)), [x0] * (int(round(tau / dt)) + 1), []
  per_unit = int(round(1 / dt))
  for i in range(int(round(t_end / dt)) + 1):
    if i % per_unit == 0:
      samples.append(xs[-1])
    delayed = xs[-1 - lag]
    xs.append(xs[-1] + dt * (0.2 * delayed / (1 + delayed ** 10) - 0.1 * xs[-1]))
  return np.array(samples)


def test_mackey_glass_matches_a_small_step_integration():
  reference = euler_mackey_glass(300.0)
  ours = forecast.mackey_glass(301, tau=17.0, dt=0.1, sample_step=1.0, x0=1.2, transient=0.0)
  np.testing.assert_allclose(ours, reference, atol=2e-3)
  assert 0.2 < ours[100:].min() and ours[100:].max() < 1.5 and ours[100:].std() > 0.15  # on the chaotic attractor


def test_forecast_windows_targets_and_persistence(tmp_path):
  cfg = config("forecast", tmp_path, 24, horizon=8, stride=3, num_train=20, num_val=4, num_test=5,
               mg_dt=0.5, mg_sample_step=1.0)
  task = get_task("forecast", cfg)
  values, where = task.series()
  splits = {s: task.load(s) for s in ("train", "val", "test")}
  mean, std = splits["train"].info["mean"], splits["train"].info["std"]
  train_raw = values[:where["lengths"]["train"]]
  assert mean == pytest.approx(train_raw.mean()) and std == pytest.approx(train_raw.std())
  test = splits["test"]
  start = where["starts"]["test"]
  for i in range(5):
    window = (values[start + 3 * i:start + 3 * i + 24] - mean) / std
    np.testing.assert_allclose(test.inputs[i, :16, 0], window[:16], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(test.labels[i], window[16:], rtol=1e-5, atol=1e-6)
  assert (test.inputs[:, 16:, 0] == 0).all() and (test.inputs[:, 16:, 1] == 1).all()
  assert (test.inputs[:, :16, 1] == 0).all()
  assert where["starts"]["val"] == (20 - 1) * 3 + 24 and where["starts"]["test"] == where["starts"]["val"] + 3 * 3 + 24
  persistence = np.mean((test.inputs[:, 15, 0][:, None] - test.labels) ** 2)
  assert task.baseline(splits)["persistence_test_mse"] == pytest.approx(persistence, rel=1e-5)


def test_sinusoids_are_the_stated_sum():
  rng = np.random.default_rng(4)
  phases = np.random.default_rng(4).uniform(0, 2 * np.pi, 2)
  clean = forecast.sinusoids(50, periods=(5.0, 20.0), amplitudes=(1.0, 0.5), noise_std=0.0, rng=rng)
  t = np.arange(50)
  expected = np.sin(2 * np.pi * t / 5 + phases[0]) + 0.5 * np.sin(2 * np.pi * t / 20 + phases[1])
  np.testing.assert_allclose(clean, expected, atol=1e-12)


def test_cache_is_checksummed_and_regenerated(tmp_path):
  cfg = config("copy", tmp_path, 12, num_symbols=2, num_train=6, num_val=2, num_test=2)
  first = get_task("copy", cfg).load("train")
  [folder] = [os.path.join(tmp_path, "copy", d) for d in os.listdir(tmp_path / "copy")]
  with open(os.path.join(folder, "checksums.json")) as f:
    assert set(json.load(f)["sha256"]) == {"train.npz", "val.npz", "test.npz"}
  with open(os.path.join(folder, "train.npz"), "wb") as f:
    f.write(b"corrupt")
  again = get_task("copy", cfg).load("train")
  np.testing.assert_array_equal(first.inputs, again.inputs)
  cfg.copy.seed = 1
  assert not np.array_equal(get_task("copy", cfg).load("train").inputs, first.inputs)


@pytest.mark.parametrize("task, max_length, fields, message", [
    ("copy", 21, dict(num_symbols=10), r"config.data.max_length=21 must be >= 22 \(2 \* copy.num_symbols \+ 2"),
    ("copy", 30, dict(num_symbols=0), r"config.data.copy.num_symbols=0 must be >= 1"),
    ("copy", 30, dict(alphabet=1), r"config.data.copy.alphabet=1 must be >= 2"),
    ("adding", 3, {}, r"config.data.max_length=3 must be >= 4"),
    ("forecast", 30, dict(horizon=16), r"config.data.forecast.horizon=16 must be <= the history max_length - "
                                       r"horizon=14: set config.data.max_length >= 32"),
    ("forecast", 30, dict(series="lorenz"), r"config.data.forecast.series='lorenz'; valid: \['mackey_glass', "
                                            r"'sinusoids'\]"),
])
def test_bad_input_names_the_field_and_range(tmp_path, task, max_length, fields, message):
  with pytest.raises(ConfigError, match=message) as error:
    get_task(task, config(task, tmp_path, max_length, **fields))
  assert "\n" not in str(error.value)
