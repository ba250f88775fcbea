"""The optimizer: recurrent parameters (models.RecurrentParam) get Adam at lr * lr_factor without weight decay,
the rest AdamW."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from flax import nnx

import models
from lra.train import optim, steps


class TwoGroups(nnx.Module):
  """The group comes from the variable type, not the name: `kernel` is recurrent, `A` is not."""
  def __init__(self):
    self.kernel = models.RecurrentParam(jnp.full((3, 3), 2.0))   # recurrent
    self.A = nnx.Param(jnp.full((3, 2), 2.0))                    # other


def optim_cfg(**overrides):
  cfg = ml_collections.ConfigDict(dict(lr=1e-2, lr_factor=0.1, weight_decay=0.5, warmup_epochs=1.0,
                                       end_lr=1e-7, clip_norm=0.0))
  cfg.update(overrides)
  return cfg


def test_labels_split_recurrent_from_other_and_the_train_state_keeps_both():
  model = TwoGroups()
  labels = optim.param_labels(nnx.state(model, nnx.Param))
  assert jax.tree.leaves(labels["kernel"]) == [optim.RECURRENT]
  assert jax.tree.leaves(labels["A"]) == [optim.OTHER]
  # A RecurrentParam is an nnx.Param: the train state's params hold it, with its type.
  _, state = steps.init_state(model, optax.sgd(1.0))
  assert set(state["params"]) == {"kernel", "A"} and not state["model_state"]
  assert isinstance(state["params"]["kernel"], models.RecurrentParam)


def test_schedule_warmup_peak_and_cosine_end():
  cfg = optim_cfg()
  schedules = optim.learning_rate_schedules(cfg, steps_per_epoch=10, total_steps=100)
  assert float(schedules[optim.OTHER](0)) == pytest.approx(cfg.end_lr, rel=1e-2)
  assert float(schedules[optim.OTHER](10)) == pytest.approx(cfg.lr)
  assert float(schedules[optim.RECURRENT](10)) == pytest.approx(cfg.lr * cfg.lr_factor)
  assert float(schedules[optim.OTHER](100)) == pytest.approx(cfg.end_lr, rel=1e-2)
  mid = float(schedules[optim.OTHER](55))  # halfway through the cosine: half the peak
  assert mid == pytest.approx(cfg.end_lr + 0.5 * (cfg.lr - cfg.end_lr), rel=1e-3)


def test_weight_decay_only_on_other_and_lr_factor_on_recurrent():
  params = nnx.state(TwoGroups(), nnx.Param)
  cfg = optim_cfg()
  tx = optim.make_optimizer(cfg, params, steps_per_epoch=1, total_steps=100)
  opt_state = tx.init(params)
  lr_at_step0 = cfg.end_lr  # warm-up starts at end_lr
  # Zero gradients: Adam moves nothing, AdamW decays by lr * weight_decay * param.
  zeros = jax.tree.map(jnp.zeros_like, params)
  updates, opt_state = tx.update(zeros, opt_state, params)
  np.testing.assert_allclose(updates["kernel"][...], 0.0)
  np.testing.assert_allclose(updates["A"][...], -lr_at_step0 * cfg.weight_decay * 2.0, rtol=1e-2)
  # Unit gradients with no warm-up: Adam's first step moves each parameter by its group's learning rate.
  cfg = optim_cfg(warmup_epochs=0.0, weight_decay=0.0)
  tx = optim.make_optimizer(cfg, params, steps_per_epoch=1, total_steps=100)
  updates, _ = tx.update(jax.tree.map(jnp.ones_like, params), tx.init(params), params)
  np.testing.assert_allclose(updates["kernel"][...], -cfg.lr * cfg.lr_factor, rtol=1e-5)
  np.testing.assert_allclose(updates["A"][...], -cfg.lr, rtol=1e-5)


def test_clipping_and_bad_lr():
  params = nnx.state(TwoGroups(), nnx.Param)
  tx = optim.make_optimizer(optim_cfg(clip_norm=1.0), params, steps_per_epoch=1, total_steps=10)
  assert isinstance(tx, optax.GradientTransformation)
  with pytest.raises(ValueError, match="lr_factor"):
    optim.make_optimizer(optim_cfg(lr_factor=0.0), params, steps_per_epoch=1, total_steps=10)


@pytest.mark.parametrize("recurrence, recurrent_names", [
    ("dense", {"A", "B"}), ("diag", {"lambda_re", "lambda_im", "B_re", "B_im"}),
    ("lru", {"nu_log", "theta_log", "gamma_log", "B_re", "B_im"})])
def test_built_models_give_their_recurrent_parameters_the_recurrent_group(recurrence, recurrent_names):
  """Exactly the recurrence's parameters are labelled recurrent, and in one update each parameter moves by its
  group's learning rate (unit gradients) and decays by its group's weight decay (zero gradients)."""
  from tests.lra.test_divergence import model_config
  init = "lru_ring" if recurrence == "lru" else "glorot_half"
  model = models.build(model_config(recurrence, init, 8), models.TaskShape(vocab_size=5, num_outputs=3),
                       rngs=nnx.Rngs(0))
  params = nnx.state(model, nnx.Param)
  labels = optim.param_labels(params)
  flat = jax.tree_util.tree_flatten_with_path(labels)[0]
  names = {str(path[-2].key): label for path, label in flat}  # path ends in (..., name, .value)
  assert {n for n, l in names.items() if l == optim.RECURRENT} == recurrent_names
  assert {"kernel", "embedding", "D"} <= {n for n, l in names.items() if l == optim.OTHER}
  is_recurrent = [label == optim.RECURRENT for label in jax.tree.leaves(labels)]
  cfg = optim_cfg(warmup_epochs=0.0, weight_decay=0.0)
  tx = optim.make_optimizer(cfg, params, steps_per_epoch=1, total_steps=100)
  updates, _ = tx.update(jax.tree.map(jnp.ones_like, params), tx.init(params), params)
  for recurrent, update in zip(is_recurrent, jax.tree.leaves(updates)):
    np.testing.assert_allclose(update, -cfg.lr * (cfg.lr_factor if recurrent else 1.0), rtol=1e-5)
  cfg = optim_cfg(warmup_epochs=0.0, weight_decay=0.5)
  tx = optim.make_optimizer(cfg, params, steps_per_epoch=1, total_steps=100)
  updates, _ = tx.update(jax.tree.map(jnp.zeros_like, params), tx.init(params), params)
  for recurrent, update, param in zip(is_recurrent, jax.tree.leaves(updates), jax.tree.leaves(params)):
    np.testing.assert_allclose(update, 0.0 if recurrent else -cfg.lr * cfg.weight_decay * param, rtol=1e-5,
                               atol=1e-12)


def test_updates_equal_plain_optax_with_the_schedules():
  """The optimizer keeps its learning rates in its state (inject_hyperparams, for logging) and otherwise is
  Adam / AdamW driven by the schedules: five updates equal those of optax.adam / adamw(schedule)."""
  from tests.lra.test_divergence import model_config
  model = models.build(model_config("dense", "glorot_half", 8), models.TaskShape(vocab_size=5, num_outputs=3),
                       rngs=nnx.Rngs(0))
  params = nnx.state(model, nnx.Param)
  cfg = ml_collections.ConfigDict(dict(lr=2e-3, lr_factor=0.1, weight_decay=0.05, warmup_epochs=1.0, end_lr=1e-7,
                                       clip_norm=0.0))
  tx = optim.make_optimizer(cfg, params, steps_per_epoch=2, total_steps=6)
  schedules = optim.learning_rate_schedules(cfg, steps_per_epoch=2, total_steps=6)
  plain = optax.partition({optim.RECURRENT: optax.adam(schedules[optim.RECURRENT]),
                           optim.OTHER: optax.adamw(schedules[optim.OTHER], weight_decay=0.05)},
                          optim.param_labels(params))
  states = [tx.init(params), plain.init(params)]
  for step in range(5):
    grads = jax.tree.map(lambda p: jnp.sin(p + step), params)
    (u1, states[0]), (u2, states[1]) = tx.update(grads, states[0], params), plain.update(grads, states[1], params)
    for a, b in zip(jax.tree.leaves(u1), jax.tree.leaves(u2)):
      np.testing.assert_array_equal(a, b)
    assert optim.learning_rates(states[0]) == pytest.approx(
        {g: float(s(step)) for g, s in schedules.items()}, rel=1e-6)
