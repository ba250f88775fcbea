"""Tests of sMNIST / psMNIST: the IDX reader against hand-written bytes, fixtures, the permutation, tfds and errors."""

import gzip
import struct

import numpy as np
import pytest
import tensorflow_datasets as tfds

from configs import data as data_config
from lra.errors import ConfigError
from lra.tasks import data
from lra.tasks import get_task
from lra.tasks import mnist


def write_raw(folder, images, labels, split="train", gz=False):
  """The IDX files by hand (struct, big-endian), independent of mnist.write_idx."""
  folder.mkdir(exist_ok=True)
  image_name, label_name = mnist.IDX_FILES[split]
  image_bytes = struct.pack(">iiii", 2051, len(images), 28, 28) + images.astype(np.uint8).tobytes()
  label_bytes = struct.pack(">ii", 2049, len(labels)) + labels.astype(np.uint8).tobytes()
  for name, content in ((image_name, image_bytes), (label_name, label_bytes)):
    opener = gzip.open if gz else open
    with opener(str(folder / (name + (".gz" if gz else ""))), "wb") as f:
      f.write(content)


def config(task, **mnist_fields):
  cfg = data_config.default_data_config(task)
  cfg.mnist.update(mnist_fields)
  return cfg


@pytest.fixture
def raw_dir(tmp_path):
  rng = np.random.default_rng(0)
  folder = tmp_path / "raw"
  write_raw(folder, rng.integers(0, 256, (20, 28, 28)), np.arange(20) % 10, "train")
  write_raw(folder, rng.integers(0, 256, (6, 28, 28)), np.arange(6) % 10, "test", gz=True)
  return folder


def test_raw_idx_in_raster_order(raw_dir):
  cfg = config("smnist", raw_dir=str(raw_dir))
  cfg.val_fraction = 0.25
  task = get_task("smnist", cfg)
  test = task.load("test")
  images, labels = mnist.read_raw(str(raw_dir), "test")
  assert test.inputs.shape == (6, 784, 1) and test.inputs.dtype == np.uint8
  np.testing.assert_array_equal(test.inputs[2, :, 0], images[2].reshape(-1))
  np.testing.assert_array_equal(test.inputs[3, 28 * 5 + 7, 0], images[3, 5, 7])   # row 5, column 7
  np.testing.assert_allclose(test.model_inputs([0]), images[:1].reshape(1, 784, 1) / 255.0, rtol=1e-6)
  assert list(labels) == [0, 1, 2, 3, 4, 5]
  train, val = task.load("train"), task.load("val")
  assert len(train) == 15 and len(val) == 5


def test_psmnist_permutation_is_seeded_and_recorded(raw_dir):
  plain = get_task("smnist", config("smnist", raw_dir=str(raw_dir))).load("test")
  permuted = get_task("psmnist", config("psmnist", raw_dir=str(raw_dir), permutation_seed=3)).load("test")
  order = np.random.default_rng(3).permutation(784)
  np.testing.assert_array_equal(permuted.inputs[:, :, 0], plain.inputs[:, order, 0])
  assert permuted.info["permutation_seed"] == 3 and not plain.info["permuted"]
  other = get_task("psmnist", config("psmnist", raw_dir=str(raw_dir), permutation_seed=4)).load("test")
  assert other.info["permutation_sha256"] != permuted.info["permutation_sha256"]
  np.testing.assert_array_equal(np.sort(permuted.inputs, axis=1), np.sort(plain.inputs, axis=1))


def test_fixture_round_trips_and_is_learnable(tmp_path):
  cfg = config("smnist", source="fixture", fixture_num_train=40, fixture_num_test=20)
  cfg.cache_dir = str(tmp_path)
  test = get_task("smnist", cfg).load("test")
  pixels = test.inputs[:, :, 0].reshape(-1, 28, 28)
  for image, label in zip(pixels, test.labels):
    r, c = mnist.FIXTURE_PLACES[label]
    assert (image[r:r + 6, c:c + 6] == 255).all() and np.bincount(test.labels).min() == 2


def test_tfds_path_with_mock_data():
  with tfds.testing.mock_data(num_examples=10):
    train = get_task("smnist", config("smnist", source="tfds")).load("train")
  assert train.inputs.shape == (9, 784, 1) and train.info["source"] == "tfds mnist"


def test_missing_data_fails_fast_like_scifar(tmp_path):
  cfg = config("smnist", source="tfds")
  cfg.data_dir = str(tmp_path / "tfds")
  with pytest.raises(data.DataNotFoundError) as error:
    get_task("smnist", cfg).load("train")
  for words in ("mnist", str(tmp_path / "tfds"), "tfds build mnist", "--config.data.mnist.raw_dir",
                "--config.data.mnist.source=fixture", "train-images-idx3-ubyte"):
    assert words in str(error.value)
  with pytest.raises(data.DataNotFoundError, match="train-images-idx3-ubyte"):
    get_task("smnist", config("smnist", raw_dir=str(tmp_path))).load("train")


def test_bad_files_and_config(tmp_path, raw_dir):
  (raw_dir / "t10k-labels-idx1-ubyte.gz").unlink()
  with open(raw_dir / "t10k-labels-idx1-ubyte", "wb") as f:
    f.write(struct.pack(">ii", 2051, 6) + bytes(6))
  with pytest.raises(data.DataFormatError, match="magic number 2051, expected 2049"):
    mnist.read_raw(str(raw_dir), "test")
  cfg = config("smnist")
  cfg.max_length = 1024
  with pytest.raises(ConfigError, match="config.data.max_length=1024: MNIST sequences are 784"):
    get_task("smnist", cfg)
