"""The training and evaluation steps: pure functions of (graph, state, batch), jitted once per run.

The train state is a dict pytree: `step` (int32), `params` and `model_state` (nnx.State: parameters, and the
rest such as BatchNorm statistics), `opt_state` (optax). A step whose loss or gradients are not finite leaves
the state unchanged and reports `finite = False`: the loop records the divergence and stops.
"""

import functools

import jax
import jax.numpy as jnp
import optax
from flax import nnx


def init_state(model, tx):
  """Splits a model into (graphdef, state) with a fresh optimizer state."""
  graphdef, params, model_state = nnx.split(model, nnx.Param, ...)
  state = {"step": jnp.zeros((), jnp.int32), "params": params, "model_state": model_state,
           "opt_state": tx.init(params)}
  return graphdef, state


def _all_finite(tree) -> jax.Array:
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def _forward(graphdef, params, model_state, batch, *, train, dropout_key=None):
  model = nnx.merge(graphdef, params, model_state, copy=True)
  logits, stats = model(batch["inputs"], batch["lengths"], train=train, dropout_key=dropout_key)
  _, _, new_model_state = nnx.split(model, nnx.Param, ...)
  return logits.astype(jnp.float32), stats, new_model_state


def _apply_update(tx, state, grads, model_state, loss):
  """One optimizer step with the divergence rule: (new state, finite, grad_norm); the new state is `state` itself
  when the loss, the gradients or the stepped state are not finite."""
  grad_norm = optax.tree.norm(grads)
  updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
  new_state = {"step": state["step"] + 1, "params": optax.apply_updates(state["params"], updates),
               "model_state": model_state, "opt_state": opt_state}
  finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm) & _all_finite(new_state)
  return jax.tree.map(functools.partial(jnp.where, finite), new_state, state), finite, grad_norm


def train_step(graphdef, tx, state, batch, base_key):
  """One optimizer step on `batch` {"inputs", "lengths", "labels"}; returns (state, metrics)."""
  dropout_key = jax.random.fold_in(base_key, state["step"])

  def loss_fn(params):
    logits, stats, model_state = _forward(graphdef, params, state["model_state"], batch, train=True,
                                          dropout_key=dropout_key)
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, batch["labels"])
    return losses.mean(), (logits, stats, model_state)

  (loss, (logits, stats, model_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
  new_state, finite, grad_norm = _apply_update(tx, state, grads, model_state, loss)
  metrics = {
      "loss": loss,
      "accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["labels"]),
      "finite": finite,
      "grad_norm": grad_norm,
      "param_norm": optax.tree.norm(state["params"]),
      "tokens": jnp.sum(batch["lengths"]),
      **stats,
  }
  return new_state, metrics


def eval_step(graphdef, state, batch):
  """Sums over a batch (weights 0 mark padding examples): correct, count, loss; and max hidden-state stats."""
  logits, stats, _ = _forward(graphdef, state["params"], state["model_state"], batch, train=False)
  weights = batch["weights"].astype(jnp.float32)
  losses = optax.softmax_cross_entropy_with_integer_labels(logits, batch["labels"])
  return {
      "correct": jnp.sum(weights * (jnp.argmax(logits, -1) == batch["labels"])),
      "count": jnp.sum(weights),
      "loss_sum": jnp.sum(weights * losses),
      **stats,
  }
