"""The one model type: a backbone and a task head; `build(config.model, task, rngs)` makes it for any task.

    model = models.build(config.model, task, rngs=nnx.Rngs(params=key, dropout=key))
    outputs, stats = model(inputs, lengths, train=True, dropout_key=key)

The step mode runs the model one time step at a time on the same parameters (forward only, evaluation mode:
BatchNorm's running statistics, no dropout; a bidirectional block has none): the forecaster's rollout calls it.

    states = model.initial_state(batch)
    states, outputs_t = model.step(states, inputs_t)
"""

import dataclasses

from flax import nnx

from models import heads as heads_lib
from models import diagonal_rnn, linear_rnn, lru
from models.backbone import Backbone

BLOCKS = {"dense": linear_rnn.LinearRNN, "diag": diagonal_rnn.DiagonalRNN, "lru": lru.LRU}
RECURRENCES = tuple(BLOCKS)


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
    x, mask, stats = self.backbone(inputs, lengths, train=train, dropout_key=dropout_key)
    return self.head(x, mask, lengths), stats

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


def build(model_cfg, task, *, rngs: nnx.Rngs, kernels: str = "auto") -> SequenceModel:
  """The model for `task` (its head, vocab_size / input_dim, num_outputs, num_positions, loss) from `config.model`
  (configs/common.py lists its fields); `kernels` ("auto": per platform) as models/cpu_kernels.py says.

  Raises:
    ValueError: a field with no valid value (the message names it and the valid ones); an LRU init with
      |lambda| >= 1.
  """
  if model_cfg.recurrence not in BLOCKS:
    raise ValueError(f"config.model.recurrence={model_cfg.recurrence!r}; valid: {list(RECURRENCES)}")
  if task.head not in heads_lib.HEADS:
    raise ValueError(f"task {task.name!r} has head {task.head!r}; valid: {list(heads_lib.HEADS)}")
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
  head = heads_lib.HEADS[task.head](
      model_cfg.d_model, task.num_outputs, pooling=model_cfg.pooling, num_positions=task.num_positions,
      values=task.loss == "mse", rngs=rngs)
  return SequenceModel(backbone, head)
