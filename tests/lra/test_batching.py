"""Tests of the batch pipeline: coverage, determinism, resumption, padding, dtypes and thread shutdown."""

import threading

import numpy as np
import pytest

from configs import data as data_config
import lra.tasks
from lra.tasks import batching
from lra.tasks import data


def token_split(n=23, length=5):
  """Example i has tokens i + 1 (so a batch row tells which example it is), label i % 3."""
  inputs = np.repeat(np.arange(1, n + 1, dtype=np.uint16)[:, None], length, 1)
  return data.Split(inputs, np.full(n, length, np.int32), np.arange(n, dtype=np.int32) % 3, {},
                    data.as_int32_tokens)


def examples(batch):
  return (batch["inputs"][:, 0] - 1).tolist()


def batch_threads():
  return [t for t in threading.enumerate() if t.name == "lra-batches"]


@pytest.mark.parametrize("prefetch", [0, 2])
def test_every_example_once_per_epoch_with_weighted_padding(prefetch):
  batches = batching.Batches(token_split(), 5, seed=0, shuffle=True, drop_last=False, prefetch=prefetch)
  assert len(batches) == 5
  epoch = list(batches.epoch(0))
  assert len(epoch) == 5
  for batch in epoch:
    assert batch["inputs"].shape == (5, 5) and batch["inputs"].dtype == np.int32
    assert batch["lengths"].dtype == np.int32 and batch["labels"].dtype == np.int32
  weights = np.concatenate([b["weights"] for b in epoch])
  assert weights.tolist() == [1.0] * 23 + [0.0] * 2
  seen = np.concatenate([examples(b) for b in epoch])
  assert sorted(seen[:23].tolist()) == list(range(23))
  assert set(seen[23:]) <= set(range(23))  # padding rows are real examples (finite outputs), weighted 0
  last = epoch[-1]
  assert np.array_equal(last["labels"], np.array(examples(last)) % 3)


def test_drop_last_and_evaluation_order():
  train = batching.Batches(token_split(), 5, seed=0, shuffle=True, drop_last=True)
  assert len(train) == 4 and all(b["weights"].min() == 1.0 for b in train.epoch(0))
  evaluation = batching.Batches(token_split(), 5, seed=0, shuffle=False, drop_last=False)
  assert [examples(b) for b in evaluation.epoch(7)][0] == [0, 1, 2, 3, 4]


def test_deterministic_per_seed_and_epoch():
  def run(seed, epoch):
    return [examples(b) for b in batching.Batches(token_split(), 4, seed=seed, shuffle=True,
                                                  drop_last=True).epoch(epoch)]
  assert run(0, 1) == run(0, 1)
  assert run(0, 1) != run(0, 2)
  assert run(0, 1) != run(1, 1)


@pytest.mark.parametrize("start_step", [0, 1, 3, 5])
def test_resume_yields_the_rest_of_the_epoch(start_step):
  batches = batching.Batches(token_split(), 4, seed=5, shuffle=True, drop_last=True)
  full = [examples(b) for b in batches.epoch(2)]
  resumed = [examples(b) for b in batches.epoch(2, start_step=start_step)]
  assert resumed == full[start_step:]
  with pytest.raises(ValueError, match="start_step=6"):
    list(batches.epoch(2, start_step=6))


def test_continuous_values_are_normalised_per_batch():
  pixels = np.arange(4 * 3 * 2, dtype=np.uint8).reshape(4, 3, 2)
  split = data.Split(pixels, np.full(4, 3, np.int32), np.zeros(4, np.int32), {},
                     lambda x: x.astype(np.float32) / 2.0)
  batch = next(batching.Batches(split, 2, seed=0, shuffle=False, drop_last=True).epoch(0))
  assert batch["inputs"].dtype == np.float32 and batch["inputs"].shape == (2, 3, 2)
  np.testing.assert_array_equal(batch["inputs"], pixels[:2] / 2.0)


def test_early_stop_joins_the_thread():
  batches = batching.Batches(token_split(200), 2, seed=0, shuffle=True, drop_last=True, prefetch=2)
  for step, _ in enumerate(batches.epoch(0)):
    if step == 3:
      break
  assert not batch_threads()
  generator = batches.epoch(1)
  next(generator)
  assert len(batch_threads()) == 1
  generator.close()
  assert not batch_threads()


def test_producer_errors_reach_the_consumer():
  def broken(rows):
    raise RuntimeError("cannot normalise")
  split = data.Split(np.zeros((6, 2), np.uint8), np.full(6, 2, np.int32), np.zeros(6, np.int32), {}, broken)
  with pytest.raises(RuntimeError, match="cannot normalise"):
    list(batching.Batches(split, 2, seed=0, shuffle=False, drop_last=True).epoch(0))
  assert not batch_threads()


def test_bad_arguments():
  with pytest.raises(ValueError, match="batch_size=0"):
    batching.Batches(token_split(), 0, seed=0, shuffle=True, drop_last=True)
  with pytest.raises(ValueError, match="prefetch=-1"):
    batching.Batches(token_split(), 2, seed=0, shuffle=True, drop_last=True, prefetch=-1)
  with pytest.raises(ValueError, match="disagree"):
    data.Split(np.zeros((3, 2)), np.zeros(2, np.int32), np.zeros(3, np.int32))


def test_data_config_is_typed_and_scripts_run(tmp_path):
  import os
  import runpy  # the scripts are files, not modules
  scripts = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "scripts")
  for task in lra.tasks.task_names():
    cfg = data_config.default_data_config(task)
    with pytest.raises(TypeError):
      cfg.max_length = "long"
    cfg.data_dir = "/some/dir"  # a typed placeholder accepts a str
    cfg.update(data_config.cpu_data_overrides(task))
  make_fixtures = runpy.run_path(os.path.join(scripts, "make_fixtures.py"))["main"]
  make_fixtures(["--out", str(tmp_path), "--num_train", "10", "--num_test", "4"])
  assert (tmp_path / "cifar-10-batches-py" / "data_batch_5").is_file()
  assert len(list((tmp_path / "aclImdb" / "test" / "neg").iterdir())) == 2
  make_listops = runpy.run_path(os.path.join(scripts, "make_listops.py"))["main"]
  make_listops(["--out", str(tmp_path / "listops"), "--size", "cpu", "--num_train", "5", "--num_val", "2",
                "--num_test", "2"])
  assert (tmp_path / "listops" / "basic_test.tsv").read_text().startswith("Source\tTarget\n")
