"""Shared data pieces: the `Split` arrays, cache paths, hold-out splits and fail-fast tfds access.

The data fields themselves (`config.data`) are defined in configs/data.py.

A `Split` holds one split of a task in memory as numpy arrays:

  inputs   (N, L) integer tokens, or (N, L, C) raw values, stored in a compact dtype (uint8 / uint16) to save
           memory; `split.model_inputs(indices)` (what the batches call) applies `split.normalise` and returns
           int32 tokens (B, L) or float32 values (B, L, C), the dtypes the models take.
  lengths  (N,) int32 real lengths; positions >= length are padding (token 0 / value 0 before normalising).
  labels   (N,) int32 class ids; or the targets of another head (below): (N,) float32 values, (N, P) int32
           classes or float32 values of the last P positions.
  info     dict: where the data came from (`source`), `val_from_test` (IMDB: validation is the test set, as in
           LRA), the number of truncated examples, etc.

The task interface (what the model and the loop read from a task) is, besides `vocab_size`, `input_dim`,
`max_length`:
  head           "classify" (labels (N,) int32 -> logits (B, num_outputs)), "regress" (labels (N,) float32 ->
                 (B,)), or "per_position" (labels (N, num_positions), one output per each of the last
                 `num_positions` real positions: int32 classes or float32 values).
  num_outputs    classes of a classification (per sequence or per position); 1 for a value.
  num_positions  per_position: how many last positions carry outputs; 0 otherwise.
  loss           "cross_entropy" | "mse".
  metric         the task's own metric for the best checkpoint: "accuracy" (highest) or "mse" (lowest).
  baseline(splits) -> dict of the trivial baselines' test numbers (for results.json).
"""

import dataclasses
import hashlib
import json
import os
from typing import Any, Callable

import numpy as np

from configs import errors as config_errors
from lra.errors import DataError

from inits import cache


class DataNotFoundError(DataError, FileNotFoundError):
  """A data set that is neither prepared for tfds nor given as raw files (or given, but missing)."""


class DataFormatError(DataError, ValueError):
  """A data file that cannot be parsed; the message names the file (and the line where there is one)."""


@dataclasses.dataclass
class Split:
  """One split of a task, as numpy arrays (see the module docstring for shapes and dtypes).

  Attributes:
    inputs: (N, L) tokens or (N, L, C) values, in a storage dtype.
    lengths: (N,) int32 real lengths.
    labels: (N,) int32 class ids, or another head's targets (see the module docstring).
    info: provenance and flags (e.g. `val_from_test`).
    normalise: storage -> model dtype, applied per batch; None when `inputs` already are int32/float32.
  """
  inputs: np.ndarray
  lengths: np.ndarray
  labels: np.ndarray
  info: dict = dataclasses.field(default_factory=dict)
  normalise: Callable[[np.ndarray], np.ndarray] | None = None

  def __post_init__(self):
    n = len(self.labels)
    if len(self.inputs) != n or len(self.lengths) != n:
      raise ValueError(f"Split arrays disagree on the number of examples: inputs {self.inputs.shape}, "
                       f"lengths {self.lengths.shape}, labels {self.labels.shape}")

  def __len__(self) -> int:
    return len(self.labels)

  def model_inputs(self, indices) -> np.ndarray:
    """The inputs of examples `indices`, in the model's dtype: int32 tokens or float32 values."""
    rows = self.inputs[indices]
    return self.normalise(rows) if self.normalise is not None else rows

  def subset(self, indices, **info) -> "Split":
    """The examples `indices` (a copy), with `info` updated by `info`."""
    indices = np.asarray(indices)
    return Split(self.inputs[indices], self.lengths[indices], self.labels[indices], {**self.info, **info},
                 self.normalise)


def as_int32_tokens(rows: np.ndarray) -> np.ndarray:
  """The normaliser of token splits stored as uint8/uint16: a cast to int32."""
  return rows.astype(np.int32)


def default_cache_dir() -> str:
  """Where generated ListOps and written fixtures are cached: `data/` in the project's cache root (inits.cache)."""
  return str(cache.cache_root() / "data")


def cache_dir(data_cfg) -> str:
  """config.data.cache_dir, or the default when it is unset (None)."""
  return data_cfg.cache_dir or default_cache_dir()


def params_hash(params: dict, length: int = 12) -> str:
  """A short stable hash of a JSON-able dict (for cache folder names)."""
  return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:length]


def file_sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
      digest.update(chunk)
  return digest.hexdigest()


def held_out_indices(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """(kept, held_out) sorted index arrays: a seeded random `fraction` of range(n) is held out (at least 1)."""
  if not 0.0 < fraction < 1.0:
    raise ValueError(f"validation fraction {fraction} must be in (0, 1)")
  num_held = max(1, int(round(n * fraction)))
  order = np.random.default_rng(seed).permutation(n)
  return np.sort(order[num_held:]), np.sort(order[:num_held])


def pad_rows(rows: list[np.ndarray], max_length: int, dtype) -> tuple[np.ndarray, np.ndarray, int]:
  """Stacks 1-D token rows into (N, max_length) zero-padded, truncating longer ones.

  Returns:
    (inputs, lengths int32, number of rows that were truncated).
  """
  inputs = np.zeros((len(rows), max_length), dtype)
  lengths = np.zeros(len(rows), np.int32)
  truncated = 0
  for i, row in enumerate(rows):
    k = min(len(row), max_length)
    truncated += len(row) > max_length
    inputs[i, :k] = row[:k]
    lengths[i] = k
  return inputs, lengths, truncated


def not_found_message(dataset: str, tfds_name: str, looked: list[str], raw_field: str, raw_what: str) -> str:
  """The message of a missing data set: what, where we looked, and the two ways to provide it."""
  where = "\n".join(f"  - {p}" for p in looked)
  return (
      f"{dataset}: data not found. Looked in:\n{where}\n"
      f"Provide it in one of two ways (this project never downloads):\n"
      f"  1. tfds: on a machine with internet run\n"
      f"       tfds build {tfds_name} --file_format=array_record --data_dir D\n"
      f"     then copy D here and pass --config.data.data_dir=D (tfds.data_source needs the array_record "
      f"format;\n     the default tfrecord format cannot be read without TensorFlow).\n"
      f"  2. raw files: {raw_what}, and pass --config.data.{raw_field}=PATH.\n"
      f"For a quick offline demo, --config.data.{raw_field.split('.')[0]}.source=fixture uses a small synthetic "
      f"set.")


def tfds_data_source(dataset: str, tfds_name: str, split: str, data_dir: str | None, raw_field: str,
                     raw_what: str):
  """`tfds.data_source(tfds_name, split=split, download=False)`, failing at once when it is not prepared.

  Raises:
    DataNotFoundError: the data set is not in `data_dir` (or the tfds default) in a readable format.
  """
  import tensorflow_datasets as tfds  # Imported here: tfds import is slow and only this path needs it.

  try:
    return tfds.data_source(tfds_name, split=split, data_dir=data_dir, download=False, try_gcs=False)
  except Exception as e:  # noqa: BLE001 - tfds raises AssertionError, NotImplementedError, FileNotFoundError...
    looked = [os.path.join(data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets", tfds_name)]
    raise DataNotFoundError(not_found_message(dataset, tfds_name, looked, raw_field, raw_what) +
                            f"\n(tfds said: {type(e).__name__}: {str(e).splitlines()[0][:300]})") from e


def resolve_source(dataset: str, task: str, cfg, raw_what: str) -> str:
  """A task's `source` field as read: 'auto' is 'raw' when `raw_dir` is set, else 'tfds'; 'raw' needs `raw_dir`."""
  source = cfg.source
  if source == "auto":
    source = "raw" if cfg.raw_dir else "tfds"
  if source == "raw" and not cfg.raw_dir:
    raise DataNotFoundError(f"{dataset}: config.data.{task}.source='raw' needs --config.data.{task}.raw_dir=PATH, "
                            f"{raw_what}")
  return source


def check_choice(field: str, value: Any, allowed) -> None:
  """Raises ConfigError naming `config.data.<field>`, its bad `value` and the `allowed` ones."""
  config_errors.check_choice(f"data.{field}", value, allowed)


def check_at_least(field: str, value, minimum, why: str = "") -> None:
  """Raises ConfigError naming `config.data.<field>`, its value and the valid range, in one line."""
  config_errors.check_at_least(f"data.{field}", value, minimum, why)


METRICS = {"accuracy": "max", "mse": "min"}   # metric -> which end is best


class Classification:
  """The interface attributes of a sequence classification task (ListOps, sCIFAR, IMDB, sMNIST)."""
  head = "classify"
  loss = "cross_entropy"
  metric = "accuracy"
  num_positions = 0

  @property
  def num_outputs(self) -> int:
    return self.num_classes

  def baseline(self, splits: dict) -> dict:
    """The trivial baseline: the majority class's test accuracy."""
    labels = splits["test"].labels
    return {"majority_class_test_accuracy": float(np.bincount(labels).max() / len(labels))}
