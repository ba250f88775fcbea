"""The optimizer of the paper's code as one optax transformation: two parameter groups and one schedule.

Recurrent parameters (A, B, lambda, nu, theta, gamma: the `models.RecurrentParam` variables) get Adam at
`lr * lr_factor` with no weight decay; all other parameters get AdamW at `lr` with `weight_decay`. Both follow
linear warm-up from `end_lr` to the peak over `warmup_epochs`, then cosine decay to `end_lr` at the last step.
Optional global-norm clipping (`clip_norm > 0`) runs before both. Nothing here edits optimizer state from Python;
each group's learning rate of the last step is kept in the optimizer state (`optax.inject_hyperparams`), where
`learning_rates` reads it for logging.
"""

import jax
import optax
from flax import nnx

import models
from configs.errors import ConfigError, check_at_least

RECURRENT, OTHER = "recurrent", "other"


def learning_rate_schedules(optim_cfg, *, steps_per_epoch: int, total_steps: int) -> dict:
  """Returns {group: schedule(step) -> lr}, the same warm-up + cosine shape, scaled per group."""
  warmup_steps = int(round(optim_cfg.warmup_epochs * steps_per_epoch))
  warmup_steps = min(max(warmup_steps, 0), max(total_steps - 1, 0))

  def schedule(peak):
    return optax.warmup_cosine_decay_schedule(
        init_value=optim_cfg.end_lr, peak_value=peak, warmup_steps=warmup_steps,
        decay_steps=max(total_steps, warmup_steps + 1), end_value=optim_cfg.end_lr)

  return {RECURRENT: schedule(optim_cfg.lr * optim_cfg.lr_factor), OTHER: schedule(optim_cfg.lr)}


def param_labels(params):
  """The nnx.State `params` with each Variable's value replaced by its group: RECURRENT for a
  `models.RecurrentParam`, OTHER for any other Variable."""
  def label(variable):
    return variable.replace(RECURRENT if isinstance(variable, models.RecurrentParam) else OTHER)
  return jax.tree.map(label, params, is_leaf=lambda x: isinstance(x, nnx.Variable))


def check_config(optim_cfg) -> None:
  """Raises ConfigError, naming the field and its range, for `config.optim` values no optimizer can take."""
  for field in ("lr", "lr_factor"):
    if not optim_cfg[field] > 0:
      raise ConfigError(f"config.optim.{field}={optim_cfg[field]} must be > 0")
  for field in ("weight_decay", "warmup_epochs", "end_lr", "clip_norm"):
    check_at_least(f"optim.{field}", optim_cfg[field], 0.0)
  if optim_cfg.end_lr > optim_cfg.lr * optim_cfg.lr_factor:
    raise ConfigError(f"config.optim.end_lr={optim_cfg.end_lr} must not exceed the smaller peak learning rate "
                      f"config.optim.lr * config.optim.lr_factor = {optim_cfg.lr * optim_cfg.lr_factor}")


def make_optimizer(optim_cfg, params, *, steps_per_epoch: int, total_steps: int):
  """Builds the optax transformation for `params` (an nnx.State) from the `config.optim` fields."""
  check_config(optim_cfg)
  schedules = learning_rate_schedules(optim_cfg, steps_per_epoch=steps_per_epoch, total_steps=total_steps)
  # Only the learning rate is injected: the others stay Python floats, so the updates are bitwise those of
  # optax.adam / adamw(schedule) (an injected float32 eps or b1 rounds differently).
  constants = ("b1", "b2", "eps", "eps_root")
  adam = optax.inject_hyperparams(optax.adam, static_args=constants)
  adamw = optax.inject_hyperparams(optax.adamw, static_args=(*constants, "weight_decay"))
  tx = optax.partition(
      {RECURRENT: adam(learning_rate=schedules[RECURRENT]),
       OTHER: adamw(learning_rate=schedules[OTHER], weight_decay=optim_cfg.weight_decay)},
      param_labels(params))
  if optim_cfg.clip_norm > 0:
    tx = optax.chain(optax.clip_by_global_norm(optim_cfg.clip_norm), tx)
  return tx


def learning_rates(opt_state) -> dict:
  """{group: the learning rate its last update used}, read from an optimizer state of `make_optimizer`."""
  rates = {}
  for path, value in optax.tree_utils.tree_get_all_with_path(opt_state, "learning_rate"):
    if getattr(path[-2], "name", None) == "hyperparams":  # not the schedule's own state beside it
      group = next(k.key for k in path if isinstance(k, jax.tree_util.DictKey) and k.key in (RECURRENT, OTHER))
      rates[group] = float(value)
  return rates
