"""Rematerialisation that holds on XLA:CPU: `jax.checkpoint` with a names policy, run after the cotangent arrives.

What a function keeps for its backward pass is named where it is computed (`jax.ad_checkpoint.checkpoint_name`:
the scans tag their states `scan.STATES`, the residual layer its block and GLU outputs), and everything else is
recomputed from the function's inputs by `jax.checkpoint` with `save_only_these_names`. A kept matmul or scan
output makes its computation dead code in the recomputation (a matmul's gradient needs its inputs, not its
output), so with the matmul outputs and the scan states kept, only elementwise work runs twice.

On XLA:CPU `jax.checkpoint` alone saves no memory: XLA:CPU removes its optimisation barriers and its scheduler
runs the recomputation right after the forward pass, so every layer's activations are live at once
(docs/models.md). `recompute_in_backward` therefore runs `jax.vjp` of the checkpointed function in the forward
pass and makes the values that vjp keeps take a data dependency on the incoming cotangent (a sum of a few of its
entries, made finite, times 0: a float product XLA does not fold), so the recomputation cannot start before the
backward pass reaches the function.
"""

import jax
import jax.numpy as jnp

from models import scan as scan_lib

# model.remat: what the backward pass recomputes of each residual layer, as the checkpoint names it keeps.
# "none": nothing (autodiff keeps every intermediate); "full": everything from the layer's input (one more forward
# pass); "states": keeps the recurrence's states, so the scan and the matmul feeding it do not run again;
# "elementwise": keeps the outputs of the layer's matmuls and scans (the recurrence's states, the block's output,
# the GLU's pre-activations) and recomputes only elementwise work (norm, GELU, dropout).
BLOCK_OUTPUT, GLU_PREACTIVATIONS = "block", "glu"
KEEPS = {"full": (), "states": (scan_lib.STATES,),
         "elementwise": (scan_lib.STATES, BLOCK_OUTPUT, GLU_PREACTIVATIONS)}
REMATS = ("none", *KEEPS)
# "auto" per platform. CPU: "states", as memory is what is scarce there. GPU / TPU: "none", plain autodiff as in
# the authors' code, since the step fits in accelerator memory and recomputing only costs time (docs/models.md).
AUTO = {"cpu": "states", "gpu": "none", "tpu": "none"}


def resolve_remat(remat: str, platform: str | None = None) -> str:
  """The remat mode for `remat` ("auto" or one of REMATS); "auto" picks by platform.

  Args:
    remat: "auto" or one of REMATS.
    platform: "cpu" | "gpu" | "tpu" (also "cuda" / "rocm"); None means `jax.default_backend()`.
  """
  if remat != "auto":
    if remat not in REMATS:
      raise ValueError(f"config.model.remat={remat!r}; valid: {['auto', *REMATS]}")
    return remat
  platform = jax.default_backend() if platform is None else platform
  platform = {"cuda": "gpu", "rocm": "gpu"}.get(platform, platform)
  if platform not in AUTO:
    raise ValueError(f"resolve_remat: unknown platform {platform!r}; valid: {sorted(AUTO)}")
  return AUTO[platform]


def _after(zero):
  """leaf + zero for float leaves (the data dependency), other leaves (ints, bools, keys) as they are."""
  def add(leaf):
    if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jnp.inexact):
      return leaf + zero.astype(leaf.dtype)
    return leaf
  return add


def recompute_in_backward(fn, names):
  """Wraps fn(differentiable, others) -> outputs so that its backward pass recomputes it but for `names`.

  The forward pass keeps the values fn tags with `checkpoint_name(value, name)` for a name in `names`, and the
  inputs the recomputation needs; the backward pass recomputes the rest, once the cotangent has arrived. Only
  `differentiable` (float leaves) gets gradients; `others` gets none.

  Args:
    fn: a function of (differentiable, others), pytrees of arrays.
    names: the checkpoint names to keep (empty: keep only the inputs and recompute everything).

  Returns:
    wrapped(differentiable, others) -> outputs, with fn's values and gradients.
  """
  policy = jax.checkpoint_policies.save_only_these_names(*names)
  # prevent_cse is not needed: the recomputation's inputs depend on the cotangent, so XLA cannot merge it with
  # the forward pass.
  checkpointed = jax.checkpoint(fn, policy=policy, prevent_cse=False)

  @jax.custom_vjp
  def wrapped(differentiable, others):
    return fn(differentiable, others)

  def forward(differentiable, others):
    return jax.vjp(lambda d: checkpointed(d, others), differentiable)

  def backward(vjp, cotangents):
    # A sum over a few entries, not one entry: a scalar slice gets fused into the elementwise consumers, where
    # XLA:CPU recomputes it per element and stops vectorising; a reduction is not fused (docs/models.md).
    first = jax.tree.leaves(cotangents)[0].ravel()[:8]
    zero = jnp.sum(jnp.where(jnp.isfinite(first), first, 0.0) * 0.0)
    return jax.tree.map(_after(zero), vjp)(cotangents)[0], None

  wrapped.defvjp(forward, backward)
  return wrapped
