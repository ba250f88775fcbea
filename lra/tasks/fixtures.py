"""Writers of small, learnable data sets in the raw formats (cifar-10-batches-py pickles, an aclImdb/ tree).

Used by the tests and by the `:cpu` presets (`source=fixture`) when no real data is at hand. They are learnable
on purpose, so that a short CPU run shows learning:
- CIFAR: class c is an image of colour `PALETTE[c]` blended with uniform noise; the colours have distinct
  luminance too, so the grayscale variant is learnable as well.
- IMDB: a review is a list of neutral words where about one word in six is a sentiment word of its class (and a
  few of the other class); some words are non-ASCII (`café`, `naïve`, `—`) to exercise byte tokenization.
  `max_words` up to ~800 gives reviews past 4096 bytes (IMDB's paper length) for divergence tests.
"""

import os
import pickle
import tarfile

import numpy as np

from lra.tasks import data

CIFAR_LABELS = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# One colour a class (distinct hues), with luminances 0.299 R + 0.587 G + 0.114 B of about 30, 50, ..., 210.
PALETTE = np.array([[15, 15, 148], [135, 14, 14], [123, 21, 185], [19, 136, 39], [202, 81, 20], [49, 148, 247],
                    [255, 81, 189], [121, 218, 49], [73, 244, 219], [220, 220, 132]], np.float32)
POSITIVE_WORDS = ("superb", "amazing", "wonderful", "brilliant", "excellent", "lovely", "great", "masterpiece",
                  "fantastic", "joyful", "charming", "delightful")
NEGATIVE_WORDS = ("awful", "terrible", "boring", "dreadful", "horrible", "dull", "worst", "waste", "poor",
                  "mess", "clumsy", "tedious")
NEUTRAL_WORDS = ("the", "a", "film", "movie", "story", "actor", "scene", "plot", "and", "of", "it", "was",
                 "this", "with", "director", "camera", "ending", "music", "cast", "in", "to", "is", "café",
                 "naïve", "—", "déjà", "vu", "<br /><br />")


def cifar_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """(N, 32, 32, 3) uint8 images: 0.6 * PALETTE[label] + 0.4 * uniform noise."""
  noise = rng.uniform(0.0, 255.0, (len(labels), 32, 32, 3)).astype(np.float32)
  images = 0.6 * PALETTE[labels][:, None, None, :] + 0.4 * noise
  return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def _cifar_batch(images: np.ndarray, labels: np.ndarray, name: str) -> dict:
  flat = images.transpose(0, 3, 1, 2).reshape(len(images), -1)  # channel-planar rows, as the real pickles
  return {b"batch_label": name.encode(), b"labels": [int(y) for y in labels], b"data": flat,
          b"filenames": [f"{name}_{i}.png".encode() for i in range(len(labels))]}


def write_cifar(out_dir: str, *, num_train: int = 2000, num_test: int = 500, seed: int = 0,
                archive: bool = False) -> str:
  """Writes `out_dir/cifar-10-batches-py/` (data_batch_1..5, test_batch, batches.meta); returns its path.

  With `archive=True` also writes `out_dir/cifar-10-python.tar.gz` (the download's layout) and returns that.
  Labels cycle through the 10 classes in a seeded random order, so every class appears.
  """
  if num_train < 5 or num_test < 1:
    raise ValueError(f"write_cifar: num_train={num_train} must be >= 5 (5 batches), num_test={num_test} >= 1")
  rng = np.random.default_rng(seed)
  folder = os.path.join(out_dir, "cifar-10-batches-py")
  os.makedirs(folder, exist_ok=True)
  train_labels = rng.permutation(np.arange(num_train) % 10)
  test_labels = rng.permutation(np.arange(num_test) % 10)
  train_images, test_images = cifar_images(train_labels, rng), cifar_images(test_labels, rng)
  files = {}
  for i, chunk in enumerate(np.array_split(np.arange(num_train), 5), start=1):
    files[f"data_batch_{i}"] = _cifar_batch(train_images[chunk], train_labels[chunk], f"training batch {i} of 5")
  files["test_batch"] = _cifar_batch(test_images, test_labels, "testing batch 1 of 1")
  files["batches.meta"] = {b"label_names": [n.encode() for n in CIFAR_LABELS],
                           b"num_cases_per_batch": int(np.ceil(num_train / 5)), b"num_vis": 3072}
  for name, content in files.items():
    with open(os.path.join(folder, name), "wb") as f:
      pickle.dump(content, f, protocol=2)
  if not archive:
    return folder
  archive_path = os.path.join(out_dir, "cifar-10-python.tar.gz")
  with tarfile.open(archive_path, "w:gz") as tar:
    tar.add(folder, arcname="cifar-10-batches-py")
  return archive_path


def review(label: int, num_words: int, rng: np.random.Generator) -> str:
  """One synthetic review of class `label` (1 positive, 0 negative) with `num_words` words."""
  own, other = (POSITIVE_WORDS, NEGATIVE_WORDS) if label == 1 else (NEGATIVE_WORDS, POSITIVE_WORDS)
  kinds = rng.choice(3, size=num_words, p=[0.16, 0.03, 0.81])
  pools = (own, other, NEUTRAL_WORDS)
  words = [pools[k][rng.integers(len(pools[k]))] for k in kinds]
  text = " ".join(words)
  return text[0].upper() + text[1:] + "."


def write_imdb(out_dir: str, *, num_train: int = 2000, num_test: int = 500, min_words: int = 20,
               max_words: int = 200, seed: int = 0) -> str:
  """Writes `out_dir/aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt` (half positive); returns the aclImdb path."""
  if num_train < 2 or num_test < 2 or not 1 <= min_words <= max_words:
    raise ValueError(f"write_imdb: need num_train, num_test >= 2 and 1 <= min_words <= max_words; got "
                     f"{num_train}, {num_test}, {min_words}, {max_words}")
  rng = np.random.default_rng(seed)
  root = os.path.join(out_dir, "aclImdb")
  for split, num in (("train", num_train), ("test", num_test)):
    for label, folder in ((1, "pos"), (0, "neg")):
      path = os.path.join(root, split, folder)
      os.makedirs(path, exist_ok=True)
      count = num // 2 + (num % 2 if label == 1 else 0)
      for i in range(count):
        rating = int(rng.integers(7, 11)) if label == 1 else int(rng.integers(1, 5))
        text = review(label, int(rng.integers(min_words, max_words + 1)), rng)
        with open(os.path.join(path, f"{i}_{rating}.txt"), "w", encoding="utf-8") as f:
          f.write(text)
  return root


def ensure_fixture(kind: str, cache_root: str, **params) -> str:
  """A fixture written once under <cache_root>/fixtures/<kind>-<hash of params>; returns the raw path to read.

  kind "scifar" -> the cifar-10-batches-py folder; "imdb" -> the aclImdb folder.
  """
  writers = {"scifar": write_cifar, "imdb": write_imdb}
  data.check_choice("fixture kind", kind, tuple(writers))
  params = {k: int(v) for k, v in params.items()}
  out_dir = os.path.join(cache_root, "fixtures", f"{kind}-{data.params_hash(params)}")
  done = os.path.join(out_dir, "DONE")
  path = os.path.join(out_dir, "cifar-10-batches-py" if kind == "scifar" else "aclImdb")
  if not os.path.exists(done):
    writers[kind](out_dir, **params)
    with open(done, "w") as f:
      f.write(repr(params))
  return path
