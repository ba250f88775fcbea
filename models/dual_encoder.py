"""The dual-encoder head of a pair task (LRA's Retrieval): one backbone on both documents, then compare them.

Notation: B pairs, L length, d `d_model`. The backbone runs once on a batch of 2B documents whose rows are
[document 1 of pairs 0..B-1, then document 2 of pairs 0..B-1] (`pair_rows`), with no interaction between the
two documents (LRA, S4, S5). The head pools each document over its real tokens, e1, e2 (B, d), and classifies
the features [e1, e2, e1 * e2, e1 - e2] (B, 4d) with Linear(4d, hidden) -> GELU -> Linear(hidden, classes).
"""

import jax
import jax.numpy as jnp
from flax import nnx

from models.heads import masked_mean


def pair_rows(inputs, lengths):
  """Pairs (B, 2, L[, C]) / (B, 2) -> documents (2B, L[, C]) / (2B,): all first documents, then all second ones.

  Works on numpy and jax arrays alike; row i < B is pair i's first document, row B + i its second.
  """
  if inputs.shape[1] != 2 or lengths.shape[1:] != (2,) or lengths.shape[0] != inputs.shape[0]:
    raise ValueError(f"pair_rows: inputs must be (B, 2, L, ...) and lengths (B, 2); got {inputs.shape} and "
                     f"{lengths.shape}")
  rows = 2 * inputs.shape[0]
  return (inputs.swapaxes(0, 1).reshape(rows, *inputs.shape[2:]), lengths.swapaxes(0, 1).reshape(rows))


class DualEncoderHead(nnx.Module):
  """Backbone features of 2B documents -> logits (B, num_classes) of their B pairs (see the module docstring).

  Attributes:
    hidden_layer: Linear(4 d_model, hidden).
    output_layer: Linear(hidden, num_classes).
  """

  def __init__(self, d_model: int, num_classes: int, *, hidden: int | None = None, rngs: nnx.Rngs, **_):
    """hidden: the MLP's width (`config.model.head_hidden`; None: d_model, as S4 / S5)."""
    hidden = d_model if hidden is None else hidden
    self.hidden_layer = nnx.Linear(4 * d_model, hidden, rngs=rngs)
    self.output_layer = nnx.Linear(hidden, num_classes, rngs=rngs)

  rows = staticmethod(pair_rows)  # what the backbone runs on: the 2B documents of the B pairs

  def pooled(self, x, mask):
    """(e1, e2), each (B, d): the mean over real tokens of each pair's first and second document.

    Args:
      x: (2B, L, d) backbone features, rows as `pair_rows` orders them.
      mask: (2B, L) True at real tokens; other positions never reach the output.
    """
    if x.shape[0] % 2 or mask.shape != x.shape[:2]:
      raise ValueError(f"DualEncoderHead: x must be (2B, L, d) and mask (2B, L); got {x.shape} and {mask.shape}")
    pooled = masked_mean(x, mask)
    half = x.shape[0] // 2
    return pooled[:half], pooled[half:]

  def features(self, x, mask):
    """[e1, e2, e1 * e2, e1 - e2] (B, 4d): what the MLP classifies (args as `pooled`)."""
    e1, e2 = self.pooled(x, mask)
    return jnp.concatenate([e1, e2, e1 * e2, e1 - e2], axis=-1)

  def __call__(self, x, mask, lengths=None):
    """Logits (B, num_classes) float32 of the B pairs (args as `pooled`; the mask already holds the lengths)."""
    hidden = jax.nn.gelu(self.hidden_layer(self.features(x, mask)))
    return self.output_layer(hidden).astype(jnp.float32)
