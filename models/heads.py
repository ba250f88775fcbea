"""Task heads over the backbone's features: what a task reads from every position's features (B, L, d).

`models.model.HEADS[task.head]` builds the head (lra/tasks/data.py declares each task's): "classify" and
"regress" pool the sequence (mean over real positions, or the last real one) into logits (B, C) or values (B,);
"per_position" reads the last P real positions into logits (B, P, C) or values (B, P); "dual_encoder"
(models/dual_encoder.py) compares the two documents of a pair. A head is `head(x, mask, lengths) -> outputs` on
the backbone's features of `head.rows(inputs, lengths)`; these two are a decoder Linear(d, C) after their
reading, and `readout` is that decoder alone, for the step mode.
"""

import jax.numpy as jnp
from flax import nnx

POOLINGS = ("mean", "last")


def masked_mean(x, mask):
  """Mean over time of x (B, L, d) at real tokens only -> (B, d); 0 for an empty sequence."""
  total = jnp.sum(jnp.where(mask[..., None], x, 0.0), axis=1)
  count = jnp.maximum(jnp.sum(mask, axis=1, dtype=x.dtype), 1.0)
  return total / count[:, None]


def last_positions(x, lengths, count: int):
  """x (B, L, d) at the last `count` real positions of each row -> (B, count, d)."""
  index = lengths[:, None] - count + jnp.arange(count)[None, :]
  return jnp.take_along_axis(x, jnp.clip(index, 0, x.shape[1] - 1)[..., None], axis=1)


class _Decoded(nnx.Module):
  """A decoder Linear(d, num_outputs); outputs are float32, squeezed to values when `values`."""

  def __init__(self, d_model: int, num_outputs: int, *, values: bool, rngs: nnx.Rngs):
    self.decoder = nnx.Linear(d_model, num_outputs, rngs=rngs)
    self.values = values

  @staticmethod
  def rows(inputs, lengths):
    """What the backbone runs on: the inputs as they are (a pair head reorders them)."""
    return inputs, lengths

  def readout(self, features):
    """features (..., d) -> logits (..., C), or values (...) for a one-output MSE head."""
    out = self.decoder(features).astype(jnp.float32)
    return out[..., 0] if self.values else out


class Pooled(_Decoded):
  """One output per sequence: the mean of the real positions' features, or the last real position's."""

  def __init__(self, d_model: int, num_outputs: int, *, pooling: str, values: bool, rngs: nnx.Rngs, **_):
    if pooling not in POOLINGS:
      raise ValueError(f"config.model.pooling={pooling!r}; valid: {list(POOLINGS)}")
    super().__init__(d_model, num_outputs, values=values, rngs=rngs)
    self.pooling = pooling

  def __call__(self, x, mask, lengths):
    features = masked_mean(x, mask) if self.pooling == "mean" else last_positions(x, lengths, 1)[:, 0]
    return self.readout(features)


class PerPosition(_Decoded):
  """One output at each of the last `num_positions` real positions."""

  def __init__(self, d_model: int, num_outputs: int, *, num_positions: int, values: bool, rngs: nnx.Rngs, **_):
    if num_positions < 1:
      raise ValueError(f"a per_position head needs num_positions >= 1, got {num_positions}")
    super().__init__(d_model, num_outputs, values=values, rngs=rngs)
    self.num_positions = num_positions

  def __call__(self, x, mask, lengths):
    return self.readout(last_positions(x, lengths, self.num_positions))

