"""The adding problem (Hochreiter & Schmidhuber 1997), generated and cached.

Each of L = config.data.max_length steps has two channels: a value drawn from U[0, 1] and a marker, 1 at
exactly two positions (one in each half of the sequence, as in Arjovsky et al. 2016) and 0 elsewhere. The
target is the sum of the two marked values; the constant predictor 1 has MSE Var(U1 + U2) = 1/6.
"""

import numpy as np

from lra.tasks import data
from lra.tasks import generated

GENERATOR_VERSION = 1


def generate(num: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
  """`num` sequences: (inputs (num, length, 2) float32 [value, marker], targets (num,) float32)."""
  values = rng.uniform(0.0, 1.0, (num, length)).astype(np.float32)
  half = length // 2
  first = rng.integers(0, half, num)
  second = rng.integers(half, length, num)
  markers = np.zeros((num, length), np.float32)
  rows = np.arange(num)
  markers[rows, first] = 1.0
  markers[rows, second] = 1.0
  targets = values[rows, first] + values[rows, second]
  return np.stack([values, markers], axis=-1), targets.astype(np.float32)


class Adding:
  """The adding problem: sequence regression of one value (see the module docstring)."""
  name = "adding"
  head = "regress"
  loss = "mse"
  metric = "mse"
  vocab_size = None
  input_dim = 2
  num_outputs = 1
  num_classes = 1
  num_positions = 0

  def __init__(self, data_cfg):
    cfg = data_cfg.adding
    data.check_at_least("max_length", data_cfg.max_length, 4, "two halves with room for a marker each")
    for field in ("num_train", "num_val", "num_test"):
      data.check_at_least(f"adding.{field}", cfg[field], 1)
    self.data_cfg = data_cfg
    self.max_length = int(data_cfg.max_length)

  def params(self) -> dict:
    cfg = self.data_cfg.adding
    return dict(max_length=self.max_length, num_train=int(cfg.num_train), num_val=int(cfg.num_val),
                num_test=int(cfg.num_test), seed=int(cfg.seed))

  def _generate(self) -> dict:
    p = self.params()
    rng = np.random.default_rng(p["seed"])
    out = {}
    for split in generated.SPLITS:
      inputs, targets = generate(p[f"num_{split}"], p["max_length"], rng)
      out[split] = {"inputs": inputs, "labels": targets}
    return out

  def load(self, split: str) -> data.Split:
    return generated.load_split(self, GENERATOR_VERSION, split)[0]

  def baseline(self, splits: dict) -> dict:
    """The constant predictors' test MSE: 1 (the expected sum; 1/6 in expectation) and the train mean."""
    test = splits["test"].labels
    train_mean = float(splits["train"].labels.mean())
    return {"constant_one_test_mse": float(np.mean((test - 1.0) ** 2)),
            "train_mean_test_mse": float(np.mean((test - train_mean) ** 2))}
