"""The copying-memory task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016), generated and cached.

A sequence of length T = config.data.max_length holds K = num_symbols symbols drawn uniformly from an alphabet
of A symbols, then L = T - 2K - 1 blanks, a delimiter, and K more blanks; the targets are the K symbols, read
at the last K positions (after the delimiter). Tokens: 0 padding, 1..A the symbols, A + 1 blank, A + 2
delimiter; targets are class ids 0..A-1 (symbol - 1). Chance accuracy is 1/A per symbol.
"""

import numpy as np

from lra.errors import ConfigError
from lra.tasks import data
from lra.tasks import generated

GENERATOR_VERSION = 1


def num_blanks(max_length: int, num_symbols: int) -> int:
  """L: the blanks between the K symbols and the delimiter, in a sequence of max_length tokens."""
  return max_length - 2 * num_symbols - 1


def generate(num: int, *, num_symbols: int, alphabet: int, max_length: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
  """`num` sequences: (tokens (num, max_length) uint8, targets (num, num_symbols) int32 class ids)."""
  symbols = rng.integers(1, alphabet + 1, (num, num_symbols))
  tokens = np.full((num, max_length), alphabet + 1, np.uint8)  # blanks
  tokens[:, :num_symbols] = symbols
  tokens[:, max_length - num_symbols - 1] = alphabet + 2       # the delimiter
  return tokens, (symbols - 1).astype(np.int32)


class CopyMemory:
  """The copy task: per-position classification of the last K positions (see the module docstring)."""
  name = "copy"
  head = "per_position"
  loss = "cross_entropy"
  metric = "accuracy"
  input_dim = 1

  def __init__(self, data_cfg):
    cfg = data_cfg.copy
    data.check_at_least("copy.num_symbols", cfg.num_symbols, 1)
    data.check_at_least("copy.alphabet", cfg.alphabet, 2)
    if cfg.alphabet > 250:
      raise ConfigError(f"config.data.copy.alphabet={cfg.alphabet} must be in [2, 250] (uint8 tokens)")
    for field in ("num_train", "num_val", "num_test"):
      data.check_at_least(f"copy.{field}", cfg[field], 1)
    data.check_at_least("max_length", data_cfg.max_length, 2 * cfg.num_symbols + 2,
                             "2 * copy.num_symbols + 2: K symbols, at least one blank, the delimiter, K outputs")
    self.data_cfg = data_cfg
    self.max_length = int(data_cfg.max_length)
    self.num_positions = int(cfg.num_symbols)
    self.num_outputs = self.num_classes = int(cfg.alphabet)
    self.vocab_size = int(cfg.alphabet) + 3

  def params(self) -> dict:
    cfg = self.data_cfg.copy
    return dict(max_length=self.max_length, num_symbols=int(cfg.num_symbols), alphabet=int(cfg.alphabet),
                num_train=int(cfg.num_train), num_val=int(cfg.num_val), num_test=int(cfg.num_test),
                seed=int(cfg.seed))

  def _generate(self) -> dict:
    p = self.params()
    rng = np.random.default_rng(p["seed"])
    out = {}
    for split in generated.SPLITS:
      tokens, targets = generate(p[f"num_{split}"], num_symbols=p["num_symbols"], alphabet=p["alphabet"],
                                 max_length=p["max_length"], rng=rng)
      out[split] = {"inputs": tokens, "labels": targets}
    return out

  def load(self, split: str) -> data.Split:
    out, _ = generated.load_split(self, GENERATOR_VERSION, split, data.as_int32_tokens)
    out.info["num_blanks"] = num_blanks(self.max_length, self.num_positions)
    return out

  def baseline(self, splits: dict) -> dict:
    """Chance per symbol (1/A) and the best constant guess's per-symbol test accuracy."""
    labels = splits["test"].labels
    return {"chance_accuracy": 1.0 / self.num_classes,
            "majority_symbol_test_accuracy": float(np.bincount(labels.ravel()).max() / labels.size)}
