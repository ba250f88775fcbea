"""Training and evaluation steps for every head: per-task losses and metrics over `lra.train.steps`' state.

Classification tasks (ListOps, sCIFAR, IMDB, sMNIST) train with `steps.train_step` itself; these steps cover
the other heads (lra/tasks/data.py): per-position cross-entropy (copy: loss and accuracy on the K output
positions only) and MSE (adding: one value; forecast: the horizon). The state, the divergence rule (a
non-finite step leaves the state unchanged and reports `finite = False`) and the metric names are those of
`steps`.
"""

import jax
import jax.numpy as jnp
import optax

from lra.train import steps

_forward, _apply_update = steps._forward, steps._apply_update  # noqa: SLF001 - the same forward pass and update


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
    raise ValueError(f"unknown loss {loss!r}; valid: ['cross_entropy', 'mse']")
  axes = tuple(range(1, losses.ndim))
  return {"loss": jnp.mean(losses, axis=axes), "correct": jnp.mean(right, axis=axes),
          "seq_correct": jnp.all(right > 0, axis=axes).astype(jnp.float32)}


def train_step(graphdef, tx, state, batch, base_key, *, loss: str):
  """One optimizer step on `batch` with the task's `loss`; returns (state, metrics) as `steps.train_step`."""
  dropout_key = jax.random.fold_in(base_key, state["step"])

  def loss_fn(params):
    outputs, stats, model_state = _forward(graphdef, params, state["model_state"], batch, train=True,
                                           dropout_key=dropout_key)
    terms = per_example(loss, outputs, batch["labels"])
    return terms["loss"].mean(), (terms, stats, model_state)

  (value, (terms, stats, model_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
  new_state, finite, grad_norm = _apply_update(tx, state, grads, model_state, value)
  metrics = {"loss": value, "accuracy": terms["correct"].mean(), "finite": finite, "grad_norm": grad_norm,
             "param_norm": optax.tree.norm(state["params"]), "tokens": jnp.sum(batch["lengths"]), **stats}
  return new_state, metrics


def eval_step(graphdef, state, batch, *, loss: str):
  """Sums over a batch (weights 0 mark padding rows): correct, seq_correct, count, loss_sum; hidden-state stats."""
  outputs, stats, _ = _forward(graphdef, state["params"], state["model_state"], batch, train=False)
  weights = batch["weights"].astype(jnp.float32)
  terms = per_example(loss, outputs, batch["labels"])
  return {"correct": jnp.sum(weights * terms["correct"]), "seq_correct": jnp.sum(weights * terms["seq_correct"]),
          "count": jnp.sum(weights), "loss_sum": jnp.sum(weights * terms["loss"]), **stats}
