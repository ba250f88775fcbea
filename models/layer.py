"""The residual layer around a recurrent block: x + dropout(GLU(dropout(GELU(block(norm(x)))))).

Notation: B batch, L length, d `d_model`. Padding is given by a prefix mask (B, L): BatchNorm's statistics skip
padded positions and the layer adds 0 there, so nothing a padded position holds reaches a real one. The layer's
math is written once, in `_pre` (the norm) and `_post` (activation, GLU, dropout, residual); `__call__` runs
them around the block's scan and `step` around the block's step.
"""

import jax
import jax.numpy as jnp
from flax import nnx
from jax.ad_checkpoint import checkpoint_name

from models import cpu_kernels
from models import remat as remat_lib

NORMS = ("batch", "layer")


class ResidualLayer(nnx.Module):
  """x + dropout(GLU(dropout(GELU(block(norm(x)))))), GLU(z) = Dense(z) * sigmoid(Dense'(z)).

  Attributes:
    norm: BatchNorm (statistics over real tokens only) or LayerNorm, before the block (pre-norm).
    block: a recurrent block (LinearRNN, DiagonalRNN or LRU).
    glu: Linear(d, 2d); its halves are the GLU's value and gate.
    dropout: nnx.Dropout with one mask per (example, feature) shared over time (broadcast over axis 1, as
      minimal-LRU's Dropout(broadcast_dims=[0]) per example); its keys are the layer's `dropout_key`, split
      in two, so the masks are a function of that key alone.
    remat: what the backward pass recomputes (models/remat.py), resolved for the platform.
    kernels: "plain" or "cpu", the GLU's and the remat's kernels (models/cpu_kernels.py), resolved for the
      platform.
  """

  def __init__(self, block, d_model: int, *, norm: str, dropout_rate: float, double_gelu: bool, remat: str,
               kernels: str = "auto", rngs: nnx.Rngs):
    if norm not in NORMS:
      raise ValueError(f"config.model.norm={norm!r}; valid: {list(NORMS)}")
    if not 0.0 <= dropout_rate < 1.0:
      raise ValueError(f"config.model.dropout={dropout_rate} must lie in [0, 1)")
    self.norm = (nnx.BatchNorm(d_model, rngs=rngs) if norm == "batch" else nnx.LayerNorm(d_model, rngs=rngs))
    self.block = block
    self.glu = nnx.Linear(d_model, 2 * d_model, rngs=rngs)
    self.dropout = nnx.Dropout(dropout_rate, broadcast_dims=(1,))
    self.norm_kind = norm
    self.double_gelu = double_gelu
    self.remat = remat_lib.resolve_remat(remat)
    self.kernels = cpu_kernels.resolve_kernels(kernels)

  def __call__(self, x, mask, *, train: bool, dropout_key=None):
    """x (B, L, d), mask (B, L) -> (x', stats of the block); 0 at padded steps.

    dropout_key: a jax random key, needed when train and the dropout rate is above 0.

    Unless remat is "none", the layer (norm included) is recomputed in the backward pass from its input but for
    the values named `remat.KEEPS[remat]`; BatchNorm's running statistics are carried out of the recomputed
    function and written back here.
    """
    if train and self.dropout.rate > 0 and dropout_key is None:
      raise ValueError(f"dropout rate {self.dropout.rate} in training needs a dropout_key (a jax random key), "
                       "got None")
    if self.remat == "none":
      return self._forward(x, mask, train=train, dropout_key=dropout_key)
    graphdef, params, rest = nnx.split(self, nnx.Param, ...)

    def pure_forward(differentiable, others):
      params, x = differentiable
      rest, mask, dropout_key = others
      layer = nnx.merge(graphdef, params, rest, copy=True)
      out, stats = layer._forward(x, mask, train=train, dropout_key=dropout_key)
      return out, stats, nnx.state(layer, nnx.BatchStat)

    checkpointed = cpu_kernels.get(self.kernels).checkpoint(pure_forward, remat_lib.KEEPS[self.remat])
    out, stats, batch_stats = checkpointed((params, x), (rest, mask, dropout_key))
    nnx.update(self, batch_stats)
    return out, stats

  def _forward(self, x, mask, *, train: bool, dropout_key=None):
    y, stats = self.block(self._pre(x, mask, train=train), mask)
    return self._post(x, y, mask, train=train, dropout_key=dropout_key), stats

  def step(self, h, x):
    """One time step in evaluation mode: x (B, d) -> (h, x + GLU(GELU(block.step(h, norm(x))))) (models/model.py)."""
    z = self._pre(x[:, None, :], None, train=False)[:, 0]
    h, y = self.block.step(h, z)
    return h, self._post(x, y, None, train=False)

  def _pre(self, x, mask, *, train: bool):
    """The pre-norm of x (B, L, d); BatchNorm's statistics over the real positions of `mask` (None: all)."""
    if self.norm_kind == "batch":
      return self.norm(x, use_running_average=not train, mask=None if mask is None else mask[..., None])
    return self.norm(x)

  def _post(self, x, y, mask, *, train: bool, dropout_key=None):
    """x + dropout(GLU(dropout(GELU(y)))) for x, y (..., d), 0 added where `mask` (None: nowhere) is False; the
    values a remat may keep are tagged by `checkpoint_name` (the scans tag their states)."""
    keys = (None, None) if dropout_key is None else tuple(jax.random.split(dropout_key))
    y = jax.nn.gelu(checkpoint_name(y, remat_lib.BLOCK_OUTPUT))
    if self.double_gelu:
      y = jax.nn.gelu(y)
    y = self.dropout(y, deterministic=not train, rngs=keys[0])
    value, gate = cpu_kernels.get(self.kernels).glu(self.glu, y)  # jnp.split(self.glu(y), 2, axis=-1)
    value = checkpoint_name(value, remat_lib.GLU_PREACTIVATIONS)
    gate = checkpoint_name(gate, remat_lib.GLU_PREACTIVATIONS)
    y = self.dropout(value * jax.nn.sigmoid(gate), deterministic=not train, rngs=keys[1])
    return x + (y if mask is None else jnp.where(mask[..., None], y, 0.0))
