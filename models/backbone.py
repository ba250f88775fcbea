"""The LRA backbone: an encoder, then `n_layers` residual recurrent layers; every position's features.

Notation: B batch, L length, d `d_model`. Padding is given by lengths: positions t >= length are padding,
excluded from every recurrence (`models.norms`) and from BatchNorm's statistics, so no real position's features
depend on what the padded positions hold. The heads (models/heads.py) pool or pick positions from the features.
"""

import jax
import jax.numpy as jnp
from flax import nnx

from models import norms
from models.layer import ResidualLayer


class Backbone(nnx.Module):
  """Tokens (B, L) int or values (B, L, input_dim) -> features (B, L, d_model), with per-layer state stats.

  The token embedding is the authors' one-hot -> Dense without the matmul: rows ~ N(0, 1/vocab_size), as
  lecun_normal gives that Dense (its bias folds into the rows).
  """

  def __init__(self, make_block, *, vocab_size: int | None, input_dim: int, d_model: int, n_layers: int,
               norm: str = "batch", dropout_rate: float = 0.0, double_gelu: bool = False, remat: str = "auto",
               kernels: str = "auto", rngs: nnx.Rngs):
    """make_block(rngs) -> a recurrent block of width d_model; called once per layer. kernels: the layers'
    (models/cpu_kernels.py)."""
    if vocab_size is not None:
      self.encoder = nnx.Embed(vocab_size, d_model, embedding_init=nnx.initializers.lecun_normal(), rngs=rngs)
    else:
      self.encoder = nnx.Linear(input_dim, d_model, rngs=rngs)
    self.layers = nnx.List([
        ResidualLayer(make_block(rngs), d_model, norm=norm, dropout_rate=dropout_rate, double_gelu=double_gelu,
                      remat=remat, kernels=kernels, rngs=rngs)
        for _ in range(n_layers)])
    self.vocab_size = vocab_size
    self.input_dim = input_dim

  def __call__(self, inputs, lengths, *, train: bool, dropout_key=None):
    """Returns (x (B, L, d_model), mask (B, L), {"layer_{i}/max_abs_h", "layer_{i}/final_state_norm"}).

    Args:
      inputs: (B, L) int32 tokens (vocab_size given) or (B, L, input_dim) float values.
      lengths: (B,) int32 real lengths; positions >= length are padding.
      train: BatchNorm uses batch statistics and updates its running ones; dropout is on.
      dropout_key: a jax random key (needed when train and dropout > 0), split once per layer.
    """
    want = 2 if self.vocab_size is not None else 3
    if inputs.ndim != want or (want == 3 and inputs.shape[-1] != self.input_dim):
      expected = "token inputs must be (batch, length) ints" if want == 2 else (
          f"value inputs must be (batch, length, {self.input_dim})")
      raise ValueError(f"{expected}, got shape {inputs.shape}")
    mask = norms.prefix_mask(lengths, inputs.shape[1])
    x = jnp.where(mask[..., None], self.embed(inputs), 0.0)
    layer_keys = [None] * len(self.layers)
    if dropout_key is not None:
      layer_keys = list(jax.random.split(dropout_key, len(self.layers)))
    stats = {}
    for i, (layer, key) in enumerate(zip(self.layers, layer_keys)):
      x, layer_stats = layer(x, mask, train=train, dropout_key=key)
      stats.update({f"layer_{i}/{name}": value for name, value in layer_stats.items()})
    return x, mask, stats

  def embed(self, inputs):
    """Tokens (...) int or values (..., input_dim) -> (..., d_model)."""
    if self.vocab_size is not None:
      return self.encoder(inputs)
    return self.encoder(inputs.astype(jnp.float32))

  def initial_state(self, batch: int) -> list:
    """The zero state of every layer's block: (B, n) float32 (dense) or complex64 (diag, lru)."""
    return [layer.block.initial_state(batch) for layer in self.layers]

  def step(self, states: list, inputs_t):
    """One time step in evaluation mode: inputs_t (B,) tokens or (B, input_dim) values -> (states, x_t (B, d))."""
    x = self.embed(inputs_t)
    new_states = []
    for layer, h in zip(self.layers, states):
      h, x = layer.step(h, x)
      new_states.append(h)
    return new_states, x

  def spectral_radii(self) -> list[float]:
    """Each layer's recurrence spectral radius, from the live parameters (host)."""
    return [layer.block.spectral_radius() for layer in self.layers]
