"""The model's kernels: the plain math (`PLAIN`, any platform) and its XLA:CPU tuning (`CPU`), chosen once.

The blocks, the residual layer and the scans call their token-wise matmuls, their GLU, their rematerialised
layer and their sequential loops through a `Kernels` value that `resolve_kernels` picks per platform (like
`scan.resolve_impl` and `remat.resolve_remat`): "plain" on GPU / TPU, "cpu" on CPU. Both compute the same
function with the same gradients (tests/models/test_cpu_kernels.py); the CPU ones only change how XLA:CPU lays
the work out (docs/models.md, "The CPU layer"):

  matmul          plain: x @ kernel.  cpu: x flattened to (rows, d_in) first, so the weight gradient contracts
                  one axis and XLA:CPU reads the cotangent in place instead of copying it transposed.
  glu             plain: value, gate = jnp.split(Linear(d, 2d)(y), 2).  cpu: two (d, d) matmuls on the halves
                  of the one Linear's kernel (no concatenated cotangent in the backward pass).
  checkpoint      plain: jax.checkpoint with a save_only_these_names policy.  cpu: the same, run through
                  jax.vjp in the forward pass with the kept values made to depend on the incoming cotangent,
                  since XLA:CPU drops checkpoint's barriers and recomputes right after the forward pass.
  scan_axis       plain: lax.scan over the axis moved to the front.  cpu: a fori_loop that reads and writes the
                  axis in place, overwriting its input with the states (no transposes, no hoisted zero buffer).
  dense_grad_A    plain: sum_t lambda_t h_{t-1}^T as one einsum over (B, L, n).  cpu: one matmul over the
                  flattened arrays shifted by a row, corrected at the sequence boundaries (no sliced copies).
  diag_sequential_adjoint  plain: None (the adjoint scan, then grad_a from the shifted states).  cpu: one loop
                  that runs the adjoint and accumulates grad_a from h in the same step.
"""

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from models import platform as platform_lib

KERNELS = ("plain", "cpu")
# "auto" per platform: the tuning was measured on XLA:CPU only; an accelerator runs the plain math.
AUTO = {"cpu": "cpu", "gpu": "plain", "tpu": "plain"}

_HIGHEST = jax.lax.Precision.HIGHEST


def resolve_kernels(kernels: str = "auto", platform: str | None = None) -> str:
  """The kernels' name for `kernels` ("auto" or one of KERNELS); "auto" picks by platform.

  Args:
    kernels: "auto", "plain" or "cpu".
    platform: "cpu" | "gpu" | "tpu" (also "cuda" / "rocm"); None means `jax.default_backend()`.
  """
  return platform_lib.resolve(kernels, KERNELS, AUTO, field="kernels", platform=platform)


def get(kernels: str) -> "Kernels":
  """The `Kernels` of a resolved name ("plain" or "cpu")."""
  if kernels not in _BY_NAME:
    raise ValueError(f"kernels={kernels!r}; valid: {list(KERNELS)} (resolve 'auto' with resolve_kernels)")
  return _BY_NAME[kernels]


def prev_states(h, h0, reverse):
  """h_{t-1} for every t (h_{t+1} when reverse), with h0 at the first step: (B, L, n)."""
  if reverse:
    return jnp.concatenate([h[:, 1:], h0[:, None]], axis=1)
  return jnp.concatenate([h0[:, None], h[:, :-1]], axis=1)


# ---------------------------------------------------------------------------------------------------------------
# The plain math.


def _plain_matmul(x, kernel):
  return x @ kernel


def _plain_glu(linear, y):
  return jnp.split(linear(y), 2, axis=-1)


def _plain_checkpoint(fn, names):
  return jax.checkpoint(fn, policy=jax.checkpoint_policies.save_only_these_names(*names))


def _plain_scan_axis(step, init, xs, axis, *, reverse=False, keep_states=True):
  def body(state, x_t):
    state = step(state, *x_t)
    return state, (state if keep_states else None)
  final, states = jax.lax.scan(body, init, [jnp.moveaxis(x, axis, 0) for x in xs], reverse=reverse)
  if keep_states:
    states = jax.tree.map(lambda s: jnp.moveaxis(s, 0, axis), states)
  return final, states


def _plain_dense_grad_A(adjoint, h, h0, reverse):
  return jnp.einsum("bti,btj->ij", adjoint, prev_states(h, h0, reverse), precision=_HIGHEST)


# ---------------------------------------------------------------------------------------------------------------
# The XLA:CPU kernels.


def _cpu_matmul(x, kernel):
  """x (..., d_in) @ kernel (d_in, d_out) as one 2-D matmul on x flattened to (rows, d_in) (free reshapes):
  written over (B, L, d), the weight gradient contracts two axes and XLA:CPU copies the cotangent transposed."""
  if x.shape[-1] != kernel.shape[0]:
    raise ValueError(f"matmul: x (..., {x.shape[-1]}) does not match kernel {kernel.shape} (d_in, d_out)")
  return (x.reshape(-1, x.shape[-1]) @ kernel).reshape(*x.shape[:-1], kernel.shape[-1])


def _cpu_glu(linear, y):
  """The GLU's value and gate as two (d, d) matmuls on the halves of one Linear(d, 2d): faster on XLA:CPU than
  one (d, 2d) matmul and a split, whose backward concatenates the two cotangents."""
  kernel, bias = linear.kernel[...], linear.bias[...]
  half = kernel.shape[1] // 2
  return (_cpu_matmul(y, kernel[:, :half]) + bias[:half], _cpu_matmul(y, kernel[:, half:]) + bias[half:])


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
  inputs the recomputation needs; the backward pass recomputes the rest, once the cotangent has arrived. On
  XLA:CPU `jax.checkpoint` alone saves no memory: XLA:CPU removes its optimisation barriers and its scheduler
  runs the recomputation right after the forward pass. So the forward pass runs `jax.vjp` of the checkpointed
  function, and the backward pass makes the values that vjp keeps take a data dependency on the incoming
  cotangent (a sum of a few of its entries, made finite, times 0: a float product XLA does not fold). Only
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
    # XLA:CPU recomputes it per element and stops vectorising; a reduction is not fused.
    first = jax.tree.leaves(cotangents)[0].ravel()[:8]
    zero = jnp.sum(jnp.where(jnp.isfinite(first), first, 0.0) * 0.0)
    return jax.tree.map(_after(zero), vjp)(cotangents)[0], None

  wrapped.defvjp(forward, backward)
  return wrapped


def _cpu_scan_axis(step, init, xs, axis, *, reverse=False, keep_states=True):
  """lax.scan along `axis` of every array in xs without moving that axis to the front.

  A fori_loop reads x_t with a dynamic slice and writes the new state in place into the output with a dynamic
  update slice, so there are no (B, L, n) transposes in or out (on CPU they cost about as much as the scan).
  When the state is a single array shaped and typed like x_t and there is one x, the states overwrite xs[0] in
  its own buffer (x_t is read before h_t is written there): no separate output buffer, whose zero-filled
  initial value XLA would otherwise hoist and keep alive for the whole program.
  """
  length = xs[0].shape[axis]
  in_place = (keep_states and len(xs) == 1 and isinstance(init, jax.Array)
              and init.shape == xs[0].shape[:axis] + xs[0].shape[axis + 1:] and init.dtype == xs[0].dtype)

  def body(i, carry):
    state, states = carry
    t = length - 1 - i if reverse else i
    sources = [states] if in_place else xs
    state = step(state, *(jax.lax.dynamic_index_in_dim(x, t, axis, keepdims=False) for x in sources))
    if keep_states:
      states = jax.tree.map(lambda out, s: jax.lax.dynamic_update_index_in_dim(out, s, t, axis), states, state)
    return state, states

  states = None
  if in_place:
    states = xs[0]
  elif keep_states:
    states = jax.tree.map(lambda s: jnp.zeros(s.shape[:axis] + (length,) + s.shape[axis:], s.dtype), init)
  return jax.lax.fori_loop(0, length, body, (init, states))


def _cpu_dense_grad_A(adjoint, h, h0, reverse):
  """sum_t lambda_t h_{t-1}^T as ONE (n, B*L) x (B*L, n) matmul over the flattened arrays shifted by one row
  (row k of the adjoint meets row k-1 of h: contiguous slices), minus the B - 1 products where the shift crosses
  from one sequence into the next, plus the h0 term. Slicing (B, L, n) along L instead makes XLA:CPU copy both
  arrays."""
  width = h.shape[-1]
  adjoint_flat, h_flat = adjoint.reshape(-1, width), h.reshape(-1, width)
  first, last = (-1, 0) if reverse else (0, -1)
  if reverse:  # lambda_t meets h_{t+1}
    shifted = (adjoint_flat[:-1], h_flat[1:])
    crossing = (adjoint[:-1, first], h[1:, last])
  else:
    shifted = (adjoint_flat[1:], h_flat[:-1])
    crossing = (adjoint[1:, first], h[:-1, last])
  return (jnp.einsum("ki,kj->ij", *shifted, precision=_HIGHEST)
          - jnp.einsum("bi,bj->ij", *crossing, precision=_HIGHEST)
          + jnp.einsum("bi,bj->ij", adjoint[:, first], h0, precision=_HIGHEST))


def _cpu_diag_sequential_adjoint(a, g, h, h0, reverse):
  """The sequential backward pass for a time-invariant a (Ba, n) in one loop: the adjoint
  lambda_t = g_t + a * lambda_{t+1} (against the forward direction) and grad_a = sum_t lambda_t * h_{t-1}, read
  from h in the same step, so no shifted copy of h and no second pass over (B, L, n) arrays. Returns
  (adjoint (B, L, n), grad_a (B, n))."""
  length = g.shape[1]

  def body(i, carry):  # the adjoint overwrites g in its buffer (g_t is read first; see _cpu_scan_axis)
    adjoint_t, grad_a, adjoint = carry
    t = i if reverse else length - 1 - i
    adjoint_t = a * adjoint_t + jax.lax.dynamic_index_in_dim(adjoint, t, 1, keepdims=False)
    adjoint = jax.lax.dynamic_update_index_in_dim(adjoint, adjoint_t, t, 1)
    t_prev = t + 1 if reverse else t - 1
    in_range = (t_prev >= 0) & (t_prev < length)
    h_prev = jnp.where(in_range, jax.lax.dynamic_index_in_dim(h, jnp.clip(t_prev, 0, length - 1), 1,
                                                              keepdims=False), h0)
    return adjoint_t, grad_a + adjoint_t * h_prev, adjoint

  zeros = jnp.zeros_like(h0)
  _, grad_a, adjoint = jax.lax.fori_loop(0, length, body, (zeros, zeros, g))
  return adjoint, grad_a


@dataclasses.dataclass(frozen=True)
class Kernels:
  """One implementation of each kernel (the module docstring says what each computes).

  Attributes:
    name: "plain" or "cpu".
    matmul: (x (..., d_in), kernel (d_in, d_out)) -> (..., d_out).
    glu: (linear: nnx.Linear(d, 2d), y (..., d)) -> (value, gate), each (..., d).
    checkpoint: (fn(differentiable, others), names) -> fn recomputed in the backward pass but for `names`.
    scan_axis: (step, init, xs, axis, *, reverse, keep_states) -> (final state, states stacked along axis or
      None): step(state, *x_t) -> state over axis `axis` of every array in xs.
    dense_grad_A: (adjoint, h, h0 (B, n), reverse) -> sum_t lambda_t h_{t-1}^T (n, n), h_{t-1} = h0 first.
    diag_sequential_adjoint: None, or (a (Ba, n), g, h, h0, reverse) -> (adjoint, grad_a (B, n)) in one loop.
  """
  name: str
  matmul: Callable
  glu: Callable
  checkpoint: Callable
  scan_axis: Callable
  dense_grad_A: Callable
  diag_sequential_adjoint: Callable | None


PLAIN = Kernels("plain", _plain_matmul, _plain_glu, _plain_checkpoint, _plain_scan_axis, _plain_dense_grad_A, None)
CPU = Kernels("cpu", _cpu_matmul, _cpu_glu, recompute_in_backward, _cpu_scan_axis, _cpu_dense_grad_A,
              _cpu_diag_sequential_adjoint)
_BY_NAME = {"plain": PLAIN, "cpu": CPU}
