"""Rematerialisation that holds on XLA:CPU: recompute a function in the backward pass, keeping chosen values.

`jax.checkpoint` does not save memory on XLA:CPU (jax 0.10): once its optimisation barriers are removed, the
CPU scheduler runs the recomputation early, next to the forward pass, so every layer's activations are live at
once (measured: same peak with and without). `recompute_in_backward` makes the recomputation take a data
dependency on the incoming cotangent (a sum of its first few entries, made finite, times 0: a float product XLA
does not fold), so it cannot start before the backward pass reaches the function; so do the values it kept.

What to keep is the function's choice: it returns the values worth keeping (the outputs of its matmuls and
scans, say) next to its outputs, and in the backward pass it is called again with them and substitutes them for
what it would recompute: `reuse(value, saved)` for any value, `scan.dense_scan(..., states=saved)` for a
recurrence. The computation of a reused value is then dead code (a matmul's gradient needs its inputs, not its
output), so only what feeds the gradients is recomputed: with the matmul outputs and the scan states kept, only
elementwise work is.
"""

import jax
import jax.numpy as jnp


def recompute_in_backward(fn):
  """Wraps fn(differentiable, others, saved) -> (outputs, to_save) so that its backward pass recomputes it.

  The forward pass calls fn(differentiable, others, None) and keeps `differentiable`, `others` and `to_save`
  (nothing else) for the backward pass, which calls fn(differentiable, others, to_save) under `jax.vjp`. Only
  `differentiable` (float leaves) gets gradients; `to_save` gets none.

  Returns:
    wrapped(differentiable, others) -> outputs.
  """
  @jax.custom_vjp
  def wrapped(differentiable, others):
    return fn(differentiable, others, None)[0]

  def forward(differentiable, others):
    outputs, to_save = fn(differentiable, others, None)
    return outputs, (differentiable, others, to_save)

  def backward(residuals, cotangents):
    differentiable, others, saved = residuals
    # A sum over a few entries, not one entry: a scalar slice gets fused into the elementwise consumers, where
    # XLA:CPU recomputes it per element and stops vectorising (a 20x slower GELU, measured); a reduction is not
    # fused (an optimization_barrier would not help: XLA:CPU removes them).
    first = jax.tree.leaves(cotangents)[0].ravel()[:8]
    zero = jnp.sum(jnp.where(jnp.isfinite(first), first, 0.0) * 0.0)
    after_cotangent = lambda leaf: leaf + zero.astype(leaf.dtype)  # noqa: E731
    # The kept values too: else what depends on them alone (a GELU of a kept matmul output) runs early.
    differentiable, saved = jax.tree.map(after_cotangent, (differentiable, saved))
    _, vjp = jax.vjp(lambda d: fn(d, others, saved)[0], differentiable)
    return vjp(cotangents)[0], None

  wrapped.defvjp(forward, backward)
  return wrapped


@jax.custom_vjp
def _substitute(value, saved):
  del value
  return saved


def _substitute_fwd(value, saved):
  del value
  return saved, None


def _substitute_bwd(_, cotangent):
  return cotangent, None


_substitute.defvjp(_substitute_fwd, _substitute_bwd)


def reuse(value, saved):
  """`saved` in place of `value` (same shape and dtype) if it is not None, with `value`'s gradient.

  The cotangent flows to `value` unchanged, so gradients are exactly those of computing `value`; what only
  produced `value`'s primal is left dead and XLA drops it.
  """
  if saved is None:
    return value
  if saved.shape != value.shape or saved.dtype != value.dtype:
    raise ValueError(f"reuse: saved {saved.shape} {saved.dtype} does not match the value {value.shape} "
                     f"{value.dtype}")
  return _substitute(value, saved)
