"""Sequential and permuted-pixel MNIST (sMNIST, psMNIST): 784 pixels a sequence, from tfds `mnist` or raw IDX files.

An image becomes 784 pixel values in raster order ((784, 1), uint8 in memory, x / 255 per batch); psMNIST
applies one fixed permutation of the 784 positions, drawn from `config.data.mnist.permutation_seed` and
recorded in `Split.info` (its seed and a checksum). Validation is a seeded `val_fraction` of train.
Raw files: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
`t10k-labels-idx1-ubyte` (each optionally `.gz`), in `config.data.mnist.raw_dir`. The fixture (`source=fixture`)
is a small learnable set written in the same IDX format: class c is a bright square at the c-th of ten places.
"""

import gzip
import hashlib
import os

import numpy as np

from lra.errors import ConfigError
from lra.tasks import data
from lra.tasks import generated

NUM_PIXELS = 784
NUM_CLASSES = 10
TFDS_NAME = "mnist"
RAW_FIELD = "mnist.raw_dir"
RAW_WHAT = ("the folder with the four IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
            "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (optionally .gz; yann.lecun.com/exdb/mnist)")
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049      # 0x00000803 (uint8, 3 dims), 0x00000801 (uint8, 1 dim)
FIXTURE_PLACES = [(r, c) for r in (3, 15) for c in (1, 6, 11, 16, 21)]  # top-left corners of the class squares


def _open(path: str):
  return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def read_idx(path: str, magic: int) -> np.ndarray:
  """An IDX file of uint8 (big-endian int32 header: magic, then one size a dimension) as an array.

  Raises:
    DataFormatError: a wrong magic number or a size that disagrees with the file.
  """
  try:
    with _open(path) as f:
      raw = f.read()
  except (OSError, EOFError) as e:
    raise data.DataFormatError(f"{path}: cannot read ({e})") from None
  ndim = magic & 0xFF
  header = np.frombuffer(raw[:4 + 4 * ndim], ">i4") if len(raw) >= 4 + 4 * ndim else np.zeros(0, ">i4")
  if len(header) != 1 + ndim or header[0] != magic:
    found = int(header[0]) if len(header) else None
    raise data.DataFormatError(f"{path}: IDX magic number {found}, expected {magic} (uint8, {ndim} dims)")
  shape = tuple(int(s) for s in header[1:])
  body = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
  if body.size != int(np.prod(shape)):
    raise data.DataFormatError(f"{path}: {body.size} bytes after the header, expected {shape} = "
                               f"{int(np.prod(shape))}")
  return body.reshape(shape)


def write_idx(path: str, array: np.ndarray) -> None:
  """Writes a uint8 array as an IDX file (gzip-compressed when `path` ends in .gz)."""
  array = np.ascontiguousarray(array, np.uint8)
  header = np.asarray([0x0800 + array.ndim, *array.shape], ">i4").tobytes()
  with (gzip.open(path, "wb") if path.endswith(".gz") else open(path, "wb")) as f:
    f.write(header + array.tobytes())


def _find(raw_dir: str, name: str) -> str:
  for candidate in (name, name + ".gz"):
    path = os.path.join(raw_dir, candidate)
    if os.path.isfile(path):
      return path
  raise data.DataNotFoundError(data.not_found_message(
      "sMNIST (mnist)", TFDS_NAME, [os.path.join(raw_dir, name) + "[.gz]"], RAW_FIELD, RAW_WHAT))


def read_raw(raw_dir: str, split: str) -> tuple[np.ndarray, np.ndarray]:
  """Images (N, 28, 28) uint8 and labels (N,) int32 of "train" or "test" from the IDX files in `raw_dir`."""
  image_name, label_name = IDX_FILES[split]
  images = read_idx(_find(raw_dir, image_name), IMAGE_MAGIC)
  labels = read_idx(_find(raw_dir, label_name), LABEL_MAGIC)
  if images.shape[1:] != (28, 28) or len(images) != len(labels):
    raise data.DataFormatError(f"{raw_dir}: {split} images {images.shape} and labels {labels.shape}; expected "
                               f"(N, 28, 28) and (N,)")
  if labels.max(initial=0) >= NUM_CLASSES:
    raise data.DataFormatError(f"{raw_dir}: {label_name} has a label {int(labels.max())} outside 0..9")
  return images, labels.astype(np.int32)


def read_tfds(split: str, data_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
  """Images (N, 28, 28) uint8 and labels from tfds `mnist` through `tfds.data_source` (no download)."""
  source = data.tfds_data_source("sMNIST (mnist)", TFDS_NAME, split, data_dir, RAW_FIELD, RAW_WHAT)
  images = np.zeros((len(source), 28, 28), np.uint8)
  labels = np.zeros(len(source), np.int32)
  for i in range(len(source)):
    example = source[i]
    images[i] = np.asarray(example["image"]).reshape(28, 28)
    labels[i] = example["label"]
  return images, labels


def fixture_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """(N, 28, 28) uint8: noise up to 96, plus a 6 x 6 square of 255 at FIXTURE_PLACES[label]."""
  images = rng.integers(0, 97, (len(labels), 28, 28)).astype(np.uint8)
  for i, label in enumerate(labels):
    r, c = FIXTURE_PLACES[label]
    images[i, r:r + 6, c:c + 6] = 255
  return images


def write_fixture(out_dir: str, *, num_train: int, num_test: int, seed: int) -> str:
  """Writes the four IDX files (gzip) of the learnable fixture to `out_dir`; returns it."""
  rng = np.random.default_rng(seed)
  os.makedirs(out_dir, exist_ok=True)
  for split, num in (("train", num_train), ("test", num_test)):
    labels = rng.permutation(np.arange(num) % NUM_CLASSES).astype(np.uint8)
    image_name, label_name = IDX_FILES[split]
    write_idx(os.path.join(out_dir, image_name + ".gz"), fixture_images(labels, rng))
    write_idx(os.path.join(out_dir, label_name + ".gz"), labels)
  return out_dir


def permutation(seed: int) -> np.ndarray:
  """psMNIST's fixed permutation of the 784 pixel positions."""
  return np.random.default_rng(seed).permutation(NUM_PIXELS)


def normalise(pixels: np.ndarray) -> np.ndarray:
  """uint8 pixels -> float32 x / 255."""
  return pixels.astype(np.float32) / 255.0


class SMnist(data.Classification):
  """Sequential MNIST: 784 pixels in raster order, 10 classes."""
  name = "smnist"
  num_classes = NUM_CLASSES
  vocab_size = None
  input_dim = 1
  permuted = False

  def __init__(self, data_cfg):
    cfg = data_cfg.mnist
    data.check_choice("mnist.source", cfg.source, ("auto", "tfds", "raw", "fixture"))
    if int(data_cfg.max_length) != NUM_PIXELS:
      raise ConfigError(f"config.data.max_length={data_cfg.max_length}: MNIST sequences are {NUM_PIXELS} pixels; "
                        f"set --config.data.max_length={NUM_PIXELS}")
    for field in ("fixture_num_train", "fixture_num_test"):
      data.check_at_least(f"mnist.{field}", cfg[field], 2)
    self.data_cfg = data_cfg
    self.max_length = NUM_PIXELS
    self._cache: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}

  def _source_split(self, split: str) -> tuple[np.ndarray, np.ndarray, str]:
    if split not in self._cache:
      cfg = self.data_cfg.mnist
      source = data.resolve_source("sMNIST", "mnist", cfg, RAW_WHAT)
      if source == "raw":
        self._cache[split] = (*read_raw(cfg.raw_dir, split), cfg.raw_dir)
      elif source == "fixture":
        params = dict(num_train=int(cfg.fixture_num_train), num_test=int(cfg.fixture_num_test),
                      seed=int(cfg.fixture_seed))
        root = os.path.join(data.cache_dir(self.data_cfg), "fixtures", f"mnist-{data.params_hash(params)}")
        if not os.path.exists(os.path.join(root, "DONE")):
          write_fixture(root, **params)
          with open(os.path.join(root, "DONE"), "w") as f:
            f.write(repr(params))
        self._cache[split] = (*read_raw(root, split), f"fixture {root}")
      else:
        self._cache[split] = (*read_tfds(split, self.data_cfg.data_dir), f"tfds {TFDS_NAME}")
    return self._cache[split]

  def load(self, split: str) -> data.Split:
    """The split as uint8 pixels (N, 784, 1), normalised per batch to float32 x / 255."""
    data.check_choice("split", split, generated.SPLITS)
    images, labels, where = self._source_split("test" if split == "test" else "train")
    indices = np.arange(len(labels))
    if split != "test":
      kept, held = data.held_out_indices(len(labels), self.data_cfg.val_fraction, self.data_cfg.split_seed)
      indices = kept if split == "train" else held
    pixels = images[indices].reshape(len(indices), NUM_PIXELS)
    info = {"source": where, "val_from_test": False, "permuted": self.permuted}
    if self.permuted:
      order = permutation(int(self.data_cfg.mnist.permutation_seed))
      pixels = pixels[:, order]
      info.update(permutation_seed=int(self.data_cfg.mnist.permutation_seed),
                  permutation_sha256=hashlib.sha256(order.astype(np.int32).tobytes()).hexdigest()[:16])
    return data.Split(np.ascontiguousarray(pixels[..., None]), np.full(len(indices), NUM_PIXELS, np.int32),
                      labels[indices].astype(np.int32), info, normalise)


class PSMnist(SMnist):
  """Permuted-pixel MNIST: sMNIST with one fixed, seeded permutation of the 784 positions."""
  name = "psmnist"
  permuted = True
