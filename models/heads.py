"""Task heads over the LRA backbone: sequence classification or regression (pooling mean | last) and per-position
outputs at the last P real positions; `build(config.model, task, rngs)`.

Heads (`task.head`, lra/tasks/data.py): "classify" -> (B, num_outputs) logits; "regress" -> (B,) values;
"per_position" -> (B, P, num_outputs) logits, or (B, P) values when num_outputs is 1 and the loss is MSE.
A classification with mean pooling is exactly `models.classifier.SequenceClassifier` (what ListOps, sCIFAR and
IMDB train); every other head wraps one, reusing its encoder, layers and decoder.
"""

import jax.numpy as jnp
from flax import nnx

from models import classifier
from models import step as step_lib

POOLINGS = ("mean", "last")


def last_positions(x, lengths, count: int):
  """x (B, L, d) at the last `count` real positions of each row -> (B, count, d)."""
  index = lengths[:, None] - count + jnp.arange(count)[None, :]
  return jnp.take_along_axis(x, jnp.clip(index, 0, x.shape[1] - 1)[..., None], axis=1)


class SequenceModel(nnx.Module):
  """A SequenceClassifier's backbone with a task head (see the module docstring).

  Attributes:
    body: the SequenceClassifier whose encoder and layers it runs; its decoder maps d -> num_outputs.
    head: "classify" | "regress" | "per_position".
    pooling: sequence heads: "mean" over real positions or the "last" real position.
    num_positions: per_position: outputs at the last num_positions real positions.
    values: outputs are values (squeezed to (B,) or (B, P)) rather than logits.
  """

  def __init__(self, body, *, head: str, pooling: str, num_positions: int, values: bool):
    if head not in ("classify", "regress", "per_position"):
      raise ValueError(f"unknown head {head!r}; valid: ['classify', 'regress', 'per_position']")
    if pooling not in POOLINGS:
      raise ValueError(f"unknown pooling {pooling!r}; valid: {list(POOLINGS)}")
    if head == "per_position" and num_positions < 1:
      raise ValueError(f"a per_position head needs num_positions >= 1, got {num_positions}")
    self.body = body
    self.head = head
    self.pooling = pooling
    self.num_positions = num_positions
    self.values = values

  def __call__(self, inputs, lengths, *, train: bool, dropout_key=None):
    """Returns (outputs float32, stats): (B, C) logits, (B,) values, (B, P, C) logits or (B, P) values."""
    x, mask, stats = self.body.features(inputs, lengths, train=train, dropout_key=dropout_key)
    if self.head == "per_position":
      features = last_positions(x, lengths, self.num_positions)
    elif self.pooling == "mean":
      features = classifier.masked_mean(x, mask)
    else:
      features = last_positions(x, lengths, 1)[:, 0]
    out = self.body.decoder(features).astype(jnp.float32)
    return (out[..., 0] if self.values else out), stats

  def readout(self, features):
    """The head's map of backbone features (..., d) -> outputs, for the step mode."""
    out = self.body.decoder(features).astype(jnp.float32)
    return out[..., 0] if self.values else out

  def initial_state(self, batch: int) -> list:
    return step_lib.model_initial_state(self.body, batch)

  def step(self, states, inputs_t):
    """One step (evaluation mode): inputs_t (B,) tokens or (B, input_dim) values -> (states, outputs at t)."""
    states, features = step_lib.model_step(self.body, states, inputs_t)
    return states, self.readout(features)

  def spectral_radii(self) -> list[float]:
    return self.body.spectral_radii()


def build(model_cfg, task, *, rngs: nnx.Rngs):
  """The model for `task` (its head, num_outputs, num_positions, loss) from `config.model`.

  A classification with mean pooling is `classifier.build`'s SequenceClassifier itself.
  """
  if model_cfg.pooling not in POOLINGS:
    raise ValueError(f"unknown pooling {model_cfg.pooling!r}; valid: {list(POOLINGS)}")
  body = classifier.build(model_cfg, vocab_size=task.vocab_size, input_dim=task.input_dim,
                          num_classes=task.num_outputs, rngs=rngs)
  if task.head == "classify" and model_cfg.pooling == "mean":
    return body
  return SequenceModel(body, head=task.head, pooling=model_cfg.pooling, num_positions=task.num_positions,
                       values=task.loss == "mse")
