"""The one model type: a backbone and a task head; `build(config.model, task, rngs)` makes it for any task.

    model = models.build(config.model, task, rngs=nnx.Rngs(params=key, dropout=key))
    outputs, stats = model(inputs, lengths, train=True, dropout_key=key)

The step mode runs the model one time step at a time on the same parameters (forward only, evaluation mode:
BatchNorm's running statistics, no dropout; a bidirectional block has none): the forecaster's rollout calls it.

    states = model.initial_state(batch)
    states, outputs_t = model.step(states, inputs_t)
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

import inits
from configs.errors import ConfigError, check_at_least, check_between, check_choice
from inits import theory
from models import heads as heads_lib
from models import diagonal_rnn, dual_encoder, linear_rnn, lru
from models import remat as remat_lib
from models import scan as scan_lib
from models.backbone import Backbone
from models.layer import NORMS

BLOCKS = {"dense": linear_rnn.LinearRNN, "diag": diagonal_rnn.DiagonalRNN, "lru": lru.LRU}
RECURRENCES = tuple(BLOCKS)
HEADS = {"classify": heads_lib.Pooled, "regress": heads_lib.Pooled, "per_position": heads_lib.PerPosition,
         "dual_encoder": dual_encoder.DualEncoderHead}


@dataclasses.dataclass(frozen=True)
class TaskShape:
  """What `build` reads of a task (lra/tasks/data.py documents the fields); any task object with these fields will
  do, this one is for code that builds a model without a task (tests, benchmarks, your own models)."""
  name: str = "task"
  head: str = "classify"
  vocab_size: int | None = None
  input_dim: int = 1
  num_outputs: int = 2
  num_positions: int = 0
  loss: str = "cross_entropy"


class SequenceModel(nnx.Module):
  """backbone (encoder and residual recurrent layers) -> head.

  Attributes:
    backbone: models.backbone.Backbone.
    head: a head of models/heads.py (`head(x, mask, lengths) -> outputs`, `head.readout(features)`).
  """

  def __init__(self, backbone: Backbone, head: nnx.Module):
    self.backbone = backbone
    self.head = head

  def __call__(self, inputs, lengths, *, train: bool, dropout_key=None):
    """Returns (outputs float32, per-layer state stats); outputs as the head gives them (models/heads.py)."""
    rows, row_lengths = self.head.rows(inputs, lengths)
    x, mask, stats = self.backbone(rows, row_lengths, train=train, dropout_key=dropout_key)
    return self.head(x, mask, row_lengths), stats

  def initial_state(self, batch: int) -> list:
    return self.backbone.initial_state(batch)

  def step(self, states, inputs_t):
    """One step: inputs_t (B,) tokens or (B, input_dim) values -> (states, the head's readout at t)."""
    states, features = self.backbone.step(states, inputs_t)
    return states, self.head.readout(features)

  def spectral_radii(self) -> list[float]:
    return self.backbone.spectral_radii()


def init_params(model_cfg) -> dict:
  """The set (not None) fields of config.model.init_params, passed as they are to inits.get(config.model.init)."""
  return {key: value for key, value in model_cfg.init_params.items() if value is not None}


def check_config(model_cfg) -> None:
  """Raises ConfigError, naming the field and its valid values, for a `config.model` that `build` cannot make."""
  check_choice("model.recurrence", model_cfg.recurrence, RECURRENCES)
  for field in ("d_model", "d_hidden", "n_layers"):
    check_at_least(f"model.{field}", model_cfg[field], 1)
  check_between("model.dropout", model_cfg.dropout, 0.0, 1.0, high_open=True)
  if model_cfg.get("head_hidden") is not None:  # the dual-encoder head's MLP width (configs/retrieval.py)
    check_at_least("model.head_hidden", model_cfg.head_hidden, 1)
  check_choice("model.norm", model_cfg.norm, NORMS)
  check_choice("model.pooling", model_cfg.pooling, heads_lib.POOLINGS)
  check_choice("model.remat", model_cfg.remat, ("auto", *remat_lib.REMATS))
  if model_cfg.scan != "auto":
    impls = scan_lib.DENSE_IMPLS if model_cfg.recurrence == "dense" else scan_lib.DIAG_IMPLS
    check_choice("model.scan", model_cfg.scan, ("auto", *impls))
  check_choice("model.init", model_cfg.init, inits.names())
  if model_cfg.init == "rescaled_glorot" and model_cfg.d_hidden < theory.rescaled_glorot_min_width():
    raise ConfigError(
        f"config.model.init=rescaled_glorot needs config.model.d_hidden >= {theory.rescaled_glorot_min_width()} "
        f"(gamma_n <= 0 at d_hidden={model_cfg.d_hidden}, so c_n is undefined): raise d_hidden, or use "
        f"--config.model.init=calibrated_glorot, which works at any width")
  # One draw of the recurrence as the block makes it (dense: the real (n, n) matrix; diagonal and LRU: n complex
  # eigenvalues), so that an initializer's ValueError on these parameters is a config error now, not a traceback.
  n = model_cfg.d_hidden
  shape, dtype = ((n, n), jnp.float32) if model_cfg.recurrence == "dense" else ((n,), jnp.complex64)
  try:
    inits.get(model_cfg.init, **init_params(model_cfg))(jax.random.key(0), shape, dtype)
  except ValueError as e:  # a parameter this initializer does not take, or a bad value
    raise ConfigError(f"config.model.init_params: {e}") from None


def build(model_cfg, task, *, rngs: nnx.Rngs, kernels: str = "auto") -> SequenceModel:
  """The model for `task` (its head, vocab_size / input_dim, num_outputs, num_positions, loss) from `config.model`
  (configs/common.py lists its fields); `kernels` ("auto": per platform) as models/cpu_kernels.py says.

  Raises:
    ValueError: a field with no valid value (the message names it and the valid ones); an LRU init with
      |lambda| >= 1.
  """
  if model_cfg.recurrence not in BLOCKS:
    raise ValueError(f"config.model.recurrence={model_cfg.recurrence!r}; valid: {list(RECURRENCES)}")
  if task.head not in HEADS:
    raise ValueError(f"task {task.name!r} has head {task.head!r}; valid: {list(HEADS)}")
  block_class = BLOCKS[model_cfg.recurrence]
  params = init_params(model_cfg)

  def make_block(block_rngs):
    return block_class(
        model_cfg.d_model, model_cfg.d_hidden, init=model_cfg.init, init_params=params,
        scan=model_cfg.scan, recurrent_layer_norm=model_cfg.recurrent_layer_norm,
        bidirectional=model_cfg.bidirectional, kernels=kernels, rngs=block_rngs)

  backbone = Backbone(
      make_block, vocab_size=task.vocab_size, input_dim=task.input_dim, d_model=model_cfg.d_model,
      n_layers=model_cfg.n_layers, norm=model_cfg.norm, dropout_rate=float(model_cfg.dropout),
      double_gelu=model_cfg.double_gelu, remat=model_cfg.remat, kernels=kernels, rngs=rngs)
  head = HEADS[task.head](
      model_cfg.d_model, task.num_outputs, pooling=model_cfg.pooling, num_positions=task.num_positions,
      values=task.loss == "mse", hidden=model_cfg.get("head_hidden"), rngs=rngs)
  return SequenceModel(backbone, head)
