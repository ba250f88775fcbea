"""The training and evaluation steps of every task: pure functions of (graph, state, batch), jitted once per run.

The task gives the loss (lra/tasks/data.py): "cross_entropy" over logits (B, C) or per-position logits
(B, P, C), or "mse" over values (B,) or (B, P). The train state is a dict pytree: `step` (int32), `params` and
`model_state` (nnx.State: parameters, and the rest such as BatchNorm statistics), `opt_state` (optax). A step
whose loss or gradients are not finite leaves the state unchanged and reports `finite = False`: the loop records
the divergence and stops.
"""

import functools

import jax
import jax.numpy as jnp
import optax
from flax import nnx

LOSSES = ("cross_entropy", "mse")


def init_state(model, tx):
  """Splits a model into (graphdef, state) with a fresh optimizer state."""
  graphdef, params, model_state = nnx.split(model, nnx.Param, ...)
  state = {"step": jnp.zeros((), jnp.int32), "params": params, "model_state": model_state,
           "opt_state": tx.init(params)}
  return graphdef, state


def per_example(loss: str, outputs, labels) -> dict:
  """Per-example loss, fraction of positions right, and all positions right, each (B,).

  Args:
    loss: "cross_entropy" (outputs (B, C) or (B, P, C) logits, labels (B,) or (B, P) int) or "mse" (outputs
      and labels (B,) or (B, P) float; "correct" is then 0).
  """
  if loss == "cross_entropy":
    losses = optax.softmax_cross_entropy_with_integer_labels(outputs, labels)
    right = (jnp.argmax(outputs, -1) == labels).astype(jnp.float32)
  elif loss == "mse":
    losses = jnp.square(outputs - labels.astype(jnp.float32))
    right = jnp.zeros_like(losses)
  else:
    raise ValueError(f"unknown loss {loss!r}; valid: {list(LOSSES)}")
  axes = tuple(range(1, losses.ndim))
  return {"loss": jnp.mean(losses, axis=axes), "correct": jnp.mean(right, axis=axes),
          "seq_correct": jnp.all(right > 0, axis=axes).astype(jnp.float32)}


def _forward(graphdef, params, model_state, batch, *, train, dropout_key=None):
  model = nnx.merge(graphdef, params, model_state, copy=True)
  outputs, stats = model(batch["inputs"], batch["lengths"], train=train, dropout_key=dropout_key)
  _, _, new_model_state = nnx.split(model, nnx.Param, ...)
  return outputs.astype(jnp.float32), stats, new_model_state


def _all_finite(tree) -> jax.Array:
  return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def train_step(graphdef, tx, state, batch, base_key, *, loss: str):
  """One optimizer step on `batch` {"inputs", "lengths", "labels"} with the task's `loss`; returns (state, metrics).

  The new state is `state` itself when the loss, the gradients or the stepped state are not finite.
  """
  dropout_key = jax.random.fold_in(base_key, state["step"])

  def loss_fn(params):
    outputs, stats, model_state = _forward(graphdef, params, state["model_state"], batch, train=True,
                                           dropout_key=dropout_key)
    terms = per_example(loss, outputs, batch["labels"])
    return terms["loss"].mean(), (terms, stats, model_state)

  (value, (terms, stats, model_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
  grad_norm = optax.tree.norm(grads)
  updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
  stepped = {"step": state["step"] + 1, "params": optax.apply_updates(state["params"], updates),
             "model_state": model_state, "opt_state": opt_state}
  finite = jnp.isfinite(value) & jnp.isfinite(grad_norm) & _all_finite(stepped)
  new_state = jax.tree.map(functools.partial(jnp.where, finite), stepped, state)
  metrics = {"loss": value, "accuracy": terms["correct"].mean(), "finite": finite, "grad_norm": grad_norm,
             "param_norm": optax.tree.norm(state["params"]), "tokens": jnp.sum(batch["lengths"]), **stats}
  return new_state, metrics


def eval_step(graphdef, state, batch, *, loss: str):
  """Per-example loss, correct (fraction of positions right) and seq_correct (all right), each (B,), with
  `weights` (0 marks a padding row), and the batch's hidden-state stats."""
  outputs, stats, _ = _forward(graphdef, state["params"], state["model_state"], batch, train=False)
  return {**per_example(loss, outputs, batch["labels"]), "weights": batch["weights"].astype(jnp.float32), **stats}
