"""The LRA backbone: encoder, residual recurrent layers, mean pooling over real tokens, and `build(config)`.

Notation: B batch, L length, d `d_model`, n `d_hidden`. Padding is given by lengths: positions t >= length are
padding, excluded from every recurrence (`models.norms`), from BatchNorm statistics and from the pooling, so
the logits do not depend on what the padded positions hold.
"""

import jax
import jax.numpy as jnp
from flax import nnx
from jax.ad_checkpoint import checkpoint_name

from models import diagonal_rnn
from models import linear_rnn
from models import lru
from models import norms
from models import remat as remat_lib
from models import scan as scan_lib
from models.tokenwise import tokenwise_matmul

BLOCKS = {"dense": linear_rnn.LinearRNN, "diag": diagonal_rnn.DiagonalRNN, "lru": lru.LRU}
RECURRENCES = tuple(BLOCKS)
NORMS = ("batch", "layer")
# model.remat: what the backward pass recomputes of each residual layer (models/remat.py), as the checkpoint
# names it keeps. "none": nothing (autodiff keeps every intermediate); "full": everything from the layer's input
# (one more forward pass); "states": keeps the recurrence's states, so the scan and the matmul feeding it do not
# run again; "elementwise": keeps the outputs of the layer's matmuls and scans (the recurrence's states, the
# block's output, the GLU's pre-activations) and recomputes only elementwise work (norm, GELU, dropout).
BLOCK_OUTPUT, GLU_PREACTIVATIONS = "block", "glu"
REMAT_KEEPS = {"full": (), "states": (scan_lib.STATES,),
               "elementwise": (scan_lib.STATES, BLOCK_OUTPUT, GLU_PREACTIVATIONS)}
REMATS = ("none", *REMAT_KEEPS)
# "auto" per platform. CPU: "states", as memory is what is scarce there. GPU / TPU: "none", plain autodiff as in
# the authors' code, since the step fits in accelerator memory and recomputing only costs time (docs/models.md).
REMAT_AUTO = {"cpu": "states", "gpu": "none", "tpu": "none"}


def resolve_remat(remat: str, platform: str | None = None) -> str:
  """The remat mode for `remat` ("auto" or one of REMATS); "auto" picks by platform.

  Args:
    remat: "auto" or one of REMATS.
    platform: "cpu" | "gpu" | "tpu" (also "cuda" / "rocm"); None means `jax.default_backend()`.
  """
  if remat != "auto":
    if remat not in REMATS:
      raise ValueError(f"unknown remat {remat!r}; valid: {['auto', *REMATS]}")
    return remat
  platform = jax.default_backend() if platform is None else platform
  platform = {"cuda": "gpu", "rocm": "gpu"}.get(platform, platform)
  if platform not in REMAT_AUTO:
    raise ValueError(f"resolve_remat: unknown platform {platform!r}; valid: {sorted(REMAT_AUTO)}")
  return REMAT_AUTO[platform]


def masked_mean(x, mask):
  """Mean over time of x (B, L, d) at real tokens only -> (B, d); 0 for an empty sequence."""
  total = jnp.sum(jnp.where(mask[..., None], x, 0.0), axis=1)
  count = jnp.maximum(jnp.sum(mask, axis=1, dtype=x.dtype), 1.0)
  return total / count[:, None]


class ResidualLayer(nnx.Module):
  """x + dropout(GLU(dropout(GELU(block(norm(x)))))), GLU(z) = Dense(z) * sigmoid(Dense'(z)).

  Attributes:
    norm: BatchNorm (statistics over real tokens only) or LayerNorm, before the block (pre-norm).
    block: a recurrent block (LinearRNN, DiagonalRNN or LRU).
    glu: Linear(d, 2d); its halves are the GLU's value and gate.
    dropout: nnx.Dropout with one mask per (example, feature) shared over time (broadcast over axis 1, as
      minimal-LRU's Dropout(broadcast_dims=[0]) per example); its keys are the layer's `dropout_key`, split
      in two, so the masks are a function of that key alone.
  """

  def __init__(self, block, d_model: int, *, norm: str, dropout_rate: float, double_gelu: bool, remat: str,
               rngs: nnx.Rngs):
    if norm not in NORMS:
      raise ValueError(f"unknown norm {norm!r}; valid: {list(NORMS)}")
    if not 0.0 <= dropout_rate < 1.0:
      raise ValueError(f"dropout={dropout_rate} must lie in [0, 1)")
    self.norm = (nnx.BatchNorm(d_model, rngs=rngs) if norm == "batch" else nnx.LayerNorm(d_model, rngs=rngs))
    self.block = block
    self.glu = nnx.Linear(d_model, 2 * d_model, rngs=rngs)
    self.dropout = nnx.Dropout(dropout_rate, broadcast_dims=(1,))
    self.norm_kind = norm
    self.double_gelu = double_gelu
    self.remat = resolve_remat(remat)

  def __call__(self, x, mask, *, train: bool, dropout_key=None):
    """x (B, L, d), mask (B, L) -> (x', stats of the block); 0 at padded steps.

    dropout_key: a jax random key, needed when train and the dropout rate is above 0.

    Unless remat is "none", the layer (norm included) is recomputed in the backward pass from its input but for
    the values named `REMAT_KEEPS[remat]` (`remat_lib.recompute_in_backward`); BatchNorm's running statistics
    are carried out of the recomputed function and written back here.
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

    out, stats, batch_stats = remat_lib.recompute_in_backward(pure_forward, REMAT_KEEPS[self.remat])(
        (params, x), (rest, mask, dropout_key))
    nnx.update(self, batch_stats)
    return out, stats

  def _forward(self, x, mask, *, train: bool, dropout_key=None):
    """The layer, with the values a remat may keep tagged by `checkpoint_name` (the scans tag their states)."""
    if self.norm_kind == "batch":
      z = self.norm(x, use_running_average=not train, mask=mask[..., None])
    else:
      z = self.norm(x)
    keys = (None, None) if dropout_key is None else tuple(jax.random.split(dropout_key))
    y, stats = self.block(z, mask)
    y = jax.nn.gelu(checkpoint_name(y, BLOCK_OUTPUT))
    if self.double_gelu:
      y = jax.nn.gelu(y)
    y = self.dropout(y, deterministic=not train, rngs=keys[0])
    # The GLU's value and gate as two (d, d) matmuls on the halves of one Linear(d, 2d): faster on XLA:CPU than
    # one (d, 2d) matmul and a split (docs/models.md).
    kernel, bias = self.glu.kernel[...], self.glu.bias[...]
    d_model = kernel.shape[0]
    value = tokenwise_matmul(y, kernel[:, :d_model]) + bias[:d_model]
    gate = tokenwise_matmul(y, kernel[:, d_model:]) + bias[d_model:]
    value, gate = checkpoint_name(value, GLU_PREACTIVATIONS), checkpoint_name(gate, GLU_PREACTIVATIONS)
    y = self.dropout(value * jax.nn.sigmoid(gate), deterministic=not train, rngs=keys[1])
    return x + jnp.where(mask[..., None], y, 0.0), stats


class SequenceClassifier(nnx.Module):
  """Tokens (B, L) int or values (B, L, input_dim) -> logits (B, num_classes), with per-layer state stats.

  encoder (Embed, or Linear for values) -> n_layers x ResidualLayer -> mean over real tokens -> decoder.
  The token embedding is the authors' one-hot -> Dense without the matmul: rows ~ N(0, 1/vocab_size), as
  lecun_normal gives that Dense (its bias folds into the rows).
  """

  def __init__(self, make_block, *, vocab_size: int | None, input_dim: int, num_classes: int, d_model: int,
               n_layers: int, norm: str = "batch", dropout_rate: float = 0.0, double_gelu: bool = False,
               remat: str = "auto", rngs: nnx.Rngs):
    """make_block(rngs) -> a recurrent block of width d_model; called once per layer."""
    if vocab_size is not None:
      self.encoder = nnx.Embed(vocab_size, d_model, embedding_init=nnx.initializers.lecun_normal(), rngs=rngs)
    else:
      self.encoder = nnx.Linear(input_dim, d_model, rngs=rngs)
    self.layers = nnx.List([
        ResidualLayer(make_block(rngs), d_model, norm=norm, dropout_rate=dropout_rate, double_gelu=double_gelu,
                      remat=remat, rngs=rngs)
        for _ in range(n_layers)])
    self.decoder = nnx.Linear(d_model, num_classes, rngs=rngs)
    self.vocab_size = vocab_size
    self.input_dim = input_dim

  def __call__(self, inputs, lengths, *, train: bool, dropout_key=None):
    """Returns (logits (B, num_classes) float32, {"layer_{i}/max_abs_h", "layer_{i}/final_state_norm"}).

    Args:
      inputs: (B, L) int32 tokens (vocab_size given) or (B, L, input_dim) float values.
      lengths: (B,) int32 real lengths; positions >= length are padding.
      train: BatchNorm uses batch statistics and updates its running ones; dropout is on.
      dropout_key: a jax random key (needed when train and dropout > 0), split once per layer.
    """
    x, mask, stats = self.features(inputs, lengths, train=train, dropout_key=dropout_key)
    return self.decoder(masked_mean(x, mask)).astype(jnp.float32), stats

  def features(self, inputs, lengths, *, train: bool, dropout_key=None):
    """The backbone before pooling: (x (B, L, d_model), mask (B, L), per-layer stats); heads read every position.

    Args: as `__call__`.
    """
    if self.vocab_size is not None:
      if inputs.ndim != 2:
        raise ValueError(f"token inputs must be (batch, length) ints, got shape {inputs.shape}")
      x = self.encoder(inputs)
    else:
      if inputs.ndim != 3 or inputs.shape[-1] != self.input_dim:
        raise ValueError(f"value inputs must be (batch, length, {self.input_dim}), got shape {inputs.shape}")
      x = self.encoder(inputs.astype(jnp.float32))
    mask = norms.prefix_mask(lengths, inputs.shape[1])
    x = jnp.where(mask[..., None], x, 0.0)
    layer_keys = [None] * len(self.layers)
    if dropout_key is not None:
      layer_keys = list(jax.random.split(dropout_key, len(self.layers)))
    stats = {}
    for i, (layer, key) in enumerate(zip(self.layers, layer_keys)):
      x, layer_stats = layer(x, mask, train=train, dropout_key=key)
      stats.update({f"layer_{i}/{name}": value for name, value in layer_stats.items()})
    return x, mask, stats

  def spectral_radii(self) -> list[float]:
    """Each layer's recurrence spectral radius, from the live parameters (host)."""
    return [layer.block.spectral_radius() for layer in self.layers]


def init_params(model_cfg) -> dict:
  """The set (not None) fields of config.model.init_params, passed as they are to inits.get(config.model.init)."""
  return {key: value for key, value in model_cfg.init_params.items() if value is not None}


def build(model_cfg, *, vocab_size: int | None, input_dim: int, num_classes: int, rngs: nnx.Rngs):
  """The classifier described by `config.model` (see configs/common.py for its fields).

  Raises:
    ValueError: unknown recurrence or norm (listing the valid ones); an LRU init with |lambda| >= 1.
  """
  if model_cfg.recurrence not in BLOCKS:
    raise ValueError(f"unknown recurrence {model_cfg.recurrence!r}; valid: {list(RECURRENCES)}")
  if model_cfg.norm not in NORMS:
    raise ValueError(f"unknown norm {model_cfg.norm!r}; valid: {list(NORMS)}")
  block_class = BLOCKS[model_cfg.recurrence]
  params = init_params(model_cfg)

  def make_block(block_rngs):
    return block_class(
        model_cfg.d_model, model_cfg.d_hidden, init=model_cfg.init, init_params=params,
        scan=model_cfg.scan, recurrent_layer_norm=model_cfg.recurrent_layer_norm,
        bidirectional=model_cfg.bidirectional, rngs=block_rngs)

  return SequenceClassifier(
      make_block, vocab_size=vocab_size, input_dim=input_dim, num_classes=num_classes,
      d_model=model_cfg.d_model, n_layers=model_cfg.n_layers, norm=model_cfg.norm,
      dropout_rate=float(model_cfg.dropout), double_gelu=model_cfg.double_gelu, remat=model_cfg.remat, rngs=rngs)

