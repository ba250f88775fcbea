"""Tests of sequential CIFAR: raw pickle and archive readers, tfds (mocked), grayscale, splits and errors."""

import os
import pickle
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from configs import data as data_config
from lra.tasks import data
from lra.tasks import fixtures
from lra.tasks import get_task
from lra.tasks import scifar


def config(**fields):
  cfg = data_config.default_data_config("scifar")
  cfg.scifar.update(fields)
  return cfg


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory):
  return fixtures.write_cifar(str(tmp_path_factory.mktemp("cifar")), num_train=60, num_test=20, seed=1)


def test_grayscale_is_bt601_luminance():
  rgb = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [10, 20, 30]], np.uint8)
  assert scifar.grayscale(rgb).tolist() == [76, 150, 29, 255, 18]  # rint(0.299 R + 0.587 G + 0.114 B)
  pixels = np.random.default_rng(0).integers(0, 256, (50, 3)).astype(np.uint8)
  expected = [round(0.299 * r + 0.587 * g + 0.114 * b) for r, g, b in pixels.astype(float)]
  assert np.abs(scifar.grayscale(pixels).astype(int) - expected).max() == 0


def test_raw_pickles_decode_to_raster_order(tmp_path):
  image = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)
  folder = tmp_path / "cifar-10-batches-py"
  folder.mkdir()
  for name in scifar.TRAIN_BATCHES + (scifar.TEST_BATCH,):
    flat = np.concatenate([image[:, :, c].ravel() for c in range(3)])[None]  # R plane, G plane, B plane
    with open(folder / name, "wb") as f:
      pickle.dump({b"data": flat, b"labels": [7]}, f, protocol=2)
  test = get_task("scifar", config(source="raw", raw_dir=str(tmp_path))).load("test")
  assert test.inputs.shape == (1, 1024, 3) and test.inputs.dtype == np.uint8
  assert np.array_equal(test.inputs[0, 32 * 5 + 7], image[5, 7])  # pixel (row 5, column 7)
  assert np.array_equal(test.inputs[0], image.reshape(1024, 3)) and test.labels.tolist() == [7]


def test_colour_splits_and_normalisation(raw_dir):
  task = get_task("scifar", config(source="raw", raw_dir=raw_dir))
  assert (task.vocab_size, task.input_dim, task.num_classes, task.max_length) == (None, 3, 10, 1024)
  splits = {s: task.load(s) for s in ("train", "val", "test")}
  assert [len(s) for s in splits.values()] == [54, 6, 20]  # train[:90%], train[90%:], the whole test set
  images, labels = scifar.read_raw(raw_dir, "train")
  assert np.array_equal(splits["val"].labels, labels[54:])
  assert np.all(splits["train"].lengths == 1024)
  values = splits["train"].model_inputs(np.arange(4))
  assert values.shape == (4, 1024, 3) and values.dtype == np.float32
  expected = (images[:4].reshape(4, 1024, 3) / 255.0 - scifar.COLOUR_MEAN) / scifar.COLOUR_STD
  np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-5)


def test_grayscale_tokens_and_values(raw_dir):
  tokens = get_task("scifar", config(source="raw", raw_dir=raw_dir, grayscale=True, tokens=True))
  assert (tokens.vocab_size, tokens.input_dim) == (256, 1)
  split = tokens.load("test")
  images, _ = scifar.read_raw(raw_dir, "test")
  batch = split.model_inputs(np.arange(3))
  assert batch.shape == (3, 1024) and batch.dtype == np.int32
  assert np.array_equal(batch, scifar.grayscale(images[:3]).reshape(3, 1024))
  values = get_task("scifar", config(source="raw", raw_dir=raw_dir, grayscale=True)).load("test")
  assert values.model_inputs(np.arange(3)).shape == (3, 1024, 1)
  np.testing.assert_allclose(values.model_inputs(np.arange(3))[..., 0], (batch - 122.6) / 61.0, atol=1e-4)


def test_code_val_split_is_one_percent_and_disjoint(tmp_path):
  raw = fixtures.write_cifar(str(tmp_path), num_train=300, num_test=10)
  task = get_task("scifar", config(source="raw", raw_dir=raw, val_split="code"))
  train, val = task.load("train"), task.load("val")
  assert (len(train), len(val)) == (297, 3)
  rows = {r.tobytes() for r in train.inputs}
  assert not any(r.tobytes() in rows for r in val.inputs)


def test_archive_reads_like_the_folder(tmp_path, raw_dir):
  archive = fixtures.write_cifar(str(tmp_path), num_train=60, num_test=20, seed=1, archive=True)
  assert archive.endswith(".tar.gz")
  for split in ("train", "test"):
    a, b = scifar.read_raw(archive, split), scifar.read_raw(raw_dir, split)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_fixture_is_learnable_by_mean_colour(tmp_path):
  cfg = config(source="fixture", fixture_num_train=100, fixture_num_test=50)
  cfg.cache_dir = str(tmp_path)
  for grayscale in (False, True):
    cfg.scifar.grayscale = grayscale
    task = get_task("scifar", cfg)
    train, test = task.load("train"), task.load("test")
    means = np.stack([train.inputs[train.labels == c].mean((0, 1)) for c in range(10)])
    test_means = test.inputs.mean(1)
    nearest = np.argmin(((test_means[:, None, :] - means[None]) ** 2).sum(-1), 1)
    assert np.mean(nearest == test.labels) > 0.95
  assert os.path.isfile(os.path.join(str(tmp_path), "fixtures", os.listdir(tmp_path / "fixtures")[0], "DONE"))


def test_tfds_path_with_mock_data():
  with tfds.testing.mock_data(num_examples=20):
    task = get_task("scifar", config(source="tfds", grayscale=True, tokens=True))
    train, val, test = task.load("train"), task.load("val"), task.load("test")
  assert (len(train), len(val), len(test)) == (18, 2, 20)
  assert train.inputs.shape == (18, 1024) and train.info["source"] == "tfds cifar10"


def test_missing_data_fails_fast_with_both_ways(tmp_path):
  start = time.time()
  cfg = config(source="auto")
  cfg.data_dir = str(tmp_path / "tfds")
  with pytest.raises(data.DataNotFoundError) as error:
    get_task("scifar", cfg).load("train")
  assert time.time() - start < 10
  message = str(error.value)
  for words in ("cifar10", str(tmp_path / "tfds"), "tfds build cifar10", "--config.data.data_dir",
                "--config.data.scifar.raw_dir", "cifar-10-batches-py"):
    assert words in message
  with pytest.raises(data.DataNotFoundError, match="data_batch_1"):
    get_task("scifar", config(source="raw", raw_dir=str(tmp_path))).load("train")
  with pytest.raises(data.DataNotFoundError, match="raw_dir"):
    get_task("scifar", config(source="raw")).load("train")


def test_corrupt_pickle_and_bad_config(tmp_path, raw_dir):
  folder = tmp_path / "cifar-10-batches-py"
  folder.mkdir()
  (folder / "test_batch").write_bytes(b"not a pickle")
  with pytest.raises(data.DataFormatError, match="test_batch"):
    scifar.read_raw(str(tmp_path), "test")
  with pytest.raises(ValueError, match="grayscale=True"):
    get_task("scifar", config(tokens=True))
  with pytest.raises(ValueError, match="'lra', 'code'"):
    get_task("scifar", config(val_split="half"))
  with pytest.raises(ValueError, match="'auto', 'tfds', 'raw', 'fixture'"):
    get_task("scifar", config(source="web"))
  cfg = config(source="raw", raw_dir=raw_dir)
  cfg.max_length = 2048
  with pytest.raises(ValueError, match="max_length=1024"):
    get_task("scifar", cfg)
