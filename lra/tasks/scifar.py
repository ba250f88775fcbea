"""Sequential CIFAR-10: images read from tfds `cifar10` or the raw `cifar-10-batches-py` pickles, as pixel sequences.

An image becomes 1024 pixels in raster order (row by row). Colour (the paper's code): (1024, 3) values;
grayscale (LRA): luminance 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601), rounded, as (1024, 1) values or as
tokens 0..255. The Split keeps uint8 pixels in memory; its `normalise` turns a batch into float32
(x / 255 - mean) / std (the code's CIFAR-10 statistics) or int32 tokens.
Splits: `val_split="lra"`: train[:90%] / train[90%:] / test; `"code"`: a seeded 1% of train for validation.
The test set is always the full 10,000 images.
"""

import functools
import os
import pickle
import tarfile

import numpy as np

from lra.errors import ConfigError
from lra.tasks import data
from lra.tasks import fixtures

NUM_PIXELS = 1024
NUM_CLASSES = 10
TFDS_NAME = "cifar10"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
COLOUR_MEAN = (0.4914, 0.4822, 0.4465)   # the code's (minimal-LRU's) torchvision normalisation
COLOUR_STD = (0.2470, 0.2435, 0.2616)
GRAY_MEAN, GRAY_STD = 122.6 / 255.0, 61.0 / 255.0
LUMINANCE = (0.299, 0.587, 0.114)        # ITU-R BT.601
RAW_WHAT = "the cifar-10-batches-py folder or the cifar-10-python.tar.gz archive from cs.toronto.edu/~kriz/cifar"
RAW_FIELD = "scifar.raw_dir"


def grayscale(images: np.ndarray) -> np.ndarray:
  """(..., 3) uint8 RGB -> (...) uint8 luminance, 0.299 R + 0.587 G + 0.114 B rounded to the nearest integer."""
  luminance = images.astype(np.float32) @ np.asarray(LUMINANCE, np.float32)
  return np.clip(np.rint(luminance), 0, 255).astype(np.uint8)


def normalise_values(pixels: np.ndarray, *, mean, std) -> np.ndarray:
  """uint8 pixels (..., C) -> float32 (x / 255 - mean) / std per channel."""
  return ((pixels.astype(np.float32) / 255.0 - np.asarray(mean, np.float32)) / np.asarray(std, np.float32))


def _raw_images(batch: dict, where: str) -> tuple[np.ndarray, np.ndarray]:
  """A cifar pickle dict -> (N, 32, 32, 3) uint8 images, (N,) int32 labels."""
  try:
    flat = np.asarray(batch[b"data"], np.uint8)
    labels = np.asarray(batch[b"labels"], np.int32)
  except KeyError as e:
    raise data.DataFormatError(f"{where}: not a CIFAR-10 batch (no key {e}); keys: {list(batch)[:6]}") from None
  if flat.ndim != 2 or flat.shape[1] != 3 * NUM_PIXELS or len(labels) != len(flat):
    raise data.DataFormatError(f"{where}: data of shape {flat.shape} with {len(labels)} labels; expected "
                               f"(N, 3072) uint8 (1024 R, 1024 G, 1024 B) and N labels")
  # Rows are channel-planar (R plane, G plane, B plane), each plane row-major 32 x 32.
  return flat.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _unpickle(file_obj, where: str) -> dict:
  try:
    return pickle.load(file_obj, encoding="bytes")
  except Exception as e:  # noqa: BLE001 - pickle raises many types on a corrupt file.
    raise data.DataFormatError(f"{where}: cannot unpickle a CIFAR-10 batch ({type(e).__name__}: {e})") from None


def read_raw(raw_dir: str, split: str) -> tuple[np.ndarray, np.ndarray]:
  """Images (N, 32, 32, 3) uint8 and labels of "train" (data_batch_1..5) or "test" from a folder or .tar.gz."""
  names = TRAIN_BATCHES if split == "train" else (TEST_BATCH,)
  parts = []
  if os.path.isfile(raw_dir) and raw_dir.endswith((".tar.gz", ".tgz", ".tar")):
    try:
      with tarfile.open(raw_dir) as archive:
        members = {os.path.basename(m.name): m for m in archive.getmembers() if m.isfile()}
        for name in names:
          if name not in members:
            raise data.DataNotFoundError(f"sCIFAR: {name} not in the archive {raw_dir} (has "
                                         f"{sorted(members)[:8]}); expected {RAW_WHAT}")
          parts.append(_raw_images(_unpickle(archive.extractfile(members[name]), f"{raw_dir}:{name}"),
                                   f"{raw_dir}:{name}"))
    except (tarfile.TarError, OSError, EOFError) as e:
      raise data.DataFormatError(f"{raw_dir}: cannot read the archive ({e})") from None
  else:
    folder = raw_dir
    if not os.path.isfile(os.path.join(folder, names[0])) and os.path.isdir(
        os.path.join(raw_dir, "cifar-10-batches-py")):
      folder = os.path.join(raw_dir, "cifar-10-batches-py")
    for name in names:
      path = os.path.join(folder, name)
      if not os.path.isfile(path):
        raise data.DataNotFoundError(
            data.not_found_message("sCIFAR (cifar10)", TFDS_NAME, [path], RAW_FIELD, RAW_WHAT))
      try:
        with open(path, "rb") as f:
          parts.append(_raw_images(_unpickle(f, path), path))
      except OSError as e:
        raise data.DataFormatError(f"{path}: cannot read ({e})") from None
  return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def read_tfds(split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
  """Images (N, 32, 32, 3) uint8 and labels from tfds `cifar10` through `tfds.data_source` (no download)."""
  source = data.tfds_data_source("sCIFAR (cifar10)", TFDS_NAME, split, data_dir, RAW_FIELD, RAW_WHAT)
  images = np.zeros((len(source), 32, 32, 3), np.uint8)
  labels = np.zeros(len(source), np.int32)
  for i in range(len(source)):
    example = source[i]
    images[i] = example["image"]
    labels[i] = example["label"]
  return images, labels


class SCifar(data.Classification):
  """The sequential CIFAR-10 task (see the module docstring); 10 classes, length 1024."""
  name = "scifar"
  num_classes = NUM_CLASSES

  def __init__(self, data_cfg):
    cfg = data_cfg.scifar
    data.check_choice("scifar.source", cfg.source, ("auto", "tfds", "raw", "fixture"))
    data.check_choice("scifar.val_split", cfg.val_split, ("lra", "code"))
    if int(data_cfg.max_length) != NUM_PIXELS:
      raise ConfigError(f"config.data.max_length={data_cfg.max_length}: sCIFAR sequences are {NUM_PIXELS} pixels; "
                        f"set --config.data.max_length={NUM_PIXELS}")
    for field in ("fixture_num_train", "fixture_num_test"):
      data.check_at_least(f"scifar.{field}", cfg[field], 2)
    if cfg.tokens and not cfg.grayscale:
      raise ConfigError("config.data.scifar.tokens=True needs config.data.scifar.grayscale=True (pixel tokens are "
                        "grayscale levels 0..255); colour pixels are always normalised values")
    self.data_cfg = data_cfg
    self.max_length = NUM_PIXELS
    self.vocab_size = 256 if cfg.tokens else None
    self.input_dim = 1 if cfg.grayscale else 3
    self._cache: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}

  def _source_split(self, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(images, labels, where) of the source's "train" or "test" split, read once."""
    if split not in self._cache:
      cfg = self.data_cfg.scifar
      source = data.resolve_source("sCIFAR", "scifar", cfg, RAW_WHAT)
      if source == "raw":
        self._cache[split] = (*read_raw(cfg.raw_dir, split), cfg.raw_dir)
      elif source == "fixture":
        root = fixtures.ensure_fixture("scifar", data.cache_dir(self.data_cfg), num_train=cfg.fixture_num_train,
                                       num_test=cfg.fixture_num_test, seed=cfg.fixture_seed)
        self._cache[split] = (*read_raw(root, split), f"fixture {root}")
      else:
        self._cache[split] = (*read_tfds(split, self.data_cfg.data_dir), f"tfds {TFDS_NAME}")
    return self._cache[split]

  def load(self, split: str) -> data.Split:
    """The split as uint8 pixels (N, 1024) tokens or (N, 1024, C) values, with its `normalise`."""
    data.check_choice("split", split, ("train", "val", "test"))
    cfg = self.data_cfg.scifar
    images, labels, where = self._source_split("test" if split == "test" else "train")
    indices = np.arange(len(labels))
    if split != "test":
      if cfg.val_split == "lra":
        num_train = int(round(len(labels) * (1.0 - self.data_cfg.val_fraction)))
        indices = indices[:num_train] if split == "train" else indices[num_train:]
      else:
        kept, held = data.held_out_indices(len(labels), 0.01, self.data_cfg.split_seed)
        indices = kept if split == "train" else held
    pixels = images[indices].reshape(len(indices), NUM_PIXELS, 3)
    if cfg.grayscale:
      pixels = grayscale(pixels)[..., None]
    if cfg.tokens:
      inputs, normalise = pixels[..., 0], data.as_int32_tokens
    elif cfg.grayscale:
      inputs, normalise = pixels, functools.partial(normalise_values, mean=(GRAY_MEAN,), std=(GRAY_STD,))
    else:
      inputs, normalise = pixels, functools.partial(normalise_values, mean=COLOUR_MEAN, std=COLOUR_STD)
    info = {"source": where, "grayscale": bool(cfg.grayscale), "tokens": bool(cfg.tokens),
            "val_split": cfg.val_split, "val_from_test": False}
    return data.Split(np.ascontiguousarray(inputs), np.full(len(indices), NUM_PIXELS, np.int32),
                      labels[indices].astype(np.int32), info, normalise)
