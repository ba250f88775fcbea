"""Linear recurrences over time as pure array functions (no Flax): diagonal and dense scans, exact gradients.

Notation: B batch, L length (time), n hidden width, T chunk length, C = ceil(L / T) chunks.
  diag_scan:  h_t = a_t * h_{t-1} + b_t   (elementwise, real or complex); a: (n,) or broadcastable to b,
              b: (B, L, n)
  dense_scan: h_t = A @ h_{t-1} + b_t     (time-invariant); A: (n, n), b: (B, L, n)
  reverse=True runs from t = L-1 down to 0: h_t = a_t * h_{t+1} + b_t, with h0 the state "after" the end.
Both return all states h: (B, L, n) in the accumulation dtype: the promotion of the inputs with float32, so
bfloat16 / float16 inputs accumulate in float32 (complex64 for complex inputs).

Gradients: every implementation is wrapped in one `jax.custom_vjp`. The backward pass of a linear recurrence is
the same recurrence run the other way with the transposed coefficient (the adjoint lambda_t = g_t + A^T
lambda_{t+1}); dA = sum_t lambda_t h_{t-1}^T, db = lambda, dh0 = A^T lambda_first. So the backward pass stores
only the states h (B, L, n) and the coefficient, whatever the implementation (no per-level residuals of the
associative or doubling scans, no per-step residuals of `lax.scan`), and it runs with the same implementation as
the forward pass. The kept states are tagged `checkpoint_name(h, STATES)`, so a `jax.checkpoint` policy can keep
them (then the loop does not run again) or not. JAX's complex convention is used (plain transposes, no
conjugation). Forward-mode AD (`jax.jvp`, `jax.jacfwd`) is not supported by a custom_vjp.

Kernels (`kernels`, models/cpu_kernels.py, chosen by `cpu_kernels.resolve_kernels`): the loops over time
(`scan_axis`: lax.scan, or on CPU a fori_loop writing the states in place), the dense dA and the diagonal
sequential adjoint run through "plain" (the math, on GPU / TPU) or "cpu" (XLA:CPU's layout of the same math).

Implementations (`impl`), chosen by `resolve_impl`:
  diag:  "sequential"   a loop over L steps, O(B L n) work and memory.
         "associative"  jax.lax.associative_scan, log-depth, O(B L n log L) work (the authors' choice).
         "chunked"      a loop over T steps on (B*C, n) chunks + a loop over C chunk carries + an elementwise
                        fix-up with the powers a^(t+1): O(T + C) sequential steps instead of L.
  dense: "sequential"   a loop over L steps of (B, n) @ (n, n) (the authors' choice, as a lax.scan).
         "doubling"     log-depth Hillis-Steele scan: h_t += A^(2^k) h_{t-2^k} for k = 0, 1, ..., squaring A
                        each level: O(B L n^2 log L) work, O(B L n) memory, every op a big matmul.
         "chunked"      two passes of T steps of (B*C, n) @ (n, n) (chunk-local final states, then the states
                        from the right chunk carries) around a scan of C steps with A^T: O(2 B L n^2) work in
                        T + C sequential steps of larger matmuls.
"""

import functools

import jax
import jax.numpy as jnp
from jax.ad_checkpoint import checkpoint_name

from models import cpu_kernels
from models import platform as platform_lib

DIAG_IMPLS = ("sequential", "associative", "chunked")
DENSE_IMPLS = ("sequential", "doubling", "chunked")
_KINDS = {"diag": DIAG_IMPLS, "dense": DENSE_IMPLS}

# "auto" per platform and kind. CPU: the fastest implementation at every size of scripts/bench_scan.py
# ("sequential" for both kinds). GPU / TPU: the log-depth scans, where a sequential step is a kernel launch or a
# latency-bound tiny op; chosen by reasoning, to be set from a measurement there (docs/bench_scan.md).
_AUTO = {
    ("cpu", "diag"): "sequential",
    ("cpu", "dense"): "sequential",
    ("gpu", "diag"): "associative",
    ("gpu", "dense"): "doubling",
    ("tpu", "diag"): "associative",
    ("tpu", "dense"): "doubling",
}

_HIGHEST = jax.lax.Precision.HIGHEST  # no bf16 / tf32 matmul passes on accelerators: errors compound over L

# The checkpoint_name of the states h that a differentiated scan keeps for its backward pass: under
# `jax.checkpoint(..., policy=jax.checkpoint_policies.save_only_these_names(STATES))` they are saved and the
# scan does not run again (docs/models.md).
STATES = "states"


def _name_states(h):
  """h tagged STATES. A complex h is tagged as its real and imaginary parts: jax.checkpoint rounds every saved
  value with reduce_precision, which rejects complex dtypes."""
  if jnp.iscomplexobj(h):
    return jax.lax.complex(checkpoint_name(jnp.real(h), STATES), checkpoint_name(jnp.imag(h), STATES))
  return checkpoint_name(h, STATES)


def resolve_impl(kind: str, impl: str = "auto", platform: str | None = None) -> str:
  """Returns the concrete implementation name for `kind` ("diag" | "dense"); "auto" picks by platform.

  Args:
    kind: "diag" or "dense".
    impl: "auto" or one of DIAG_IMPLS / DENSE_IMPLS.
    platform: "cpu" | "gpu" | "tpu" (also "cuda" / "rocm"); None means `jax.default_backend()`.
  """
  if kind not in _KINDS:
    raise ValueError(f"resolve_impl: unknown kind {kind!r}; valid: {sorted(_KINDS)}")
  auto = {p: choice for (p, k), choice in _AUTO.items() if k == kind}
  return platform_lib.resolve(impl, _KINDS[kind], auto, field=f"{kind} scan impl", platform=platform)


def _acc_dtype(*dtypes):
  return jnp.promote_types(jnp.result_type(*dtypes), jnp.float32)


def _check_b(fn_name, b):
  if b.ndim != 3:
    raise ValueError(f"{fn_name}: b must be (batch, length, n), got shape {b.shape}")


def _check_h0(fn_name, h0, b):
  if h0 is not None and h0.shape != (b.shape[0], b.shape[2]):
    raise ValueError(f"{fn_name}: h0 must be (batch, n) = {(b.shape[0], b.shape[2])}, got shape {h0.shape}")


def _chunk_length(length: int) -> int:
  """T ~ sqrt(L), a power of two in [8, 128]: balances the T-step and C-step scans."""
  chunk = 8
  while chunk * chunk < length and chunk < 128:
    chunk *= 2
  return chunk


def _first_index(reverse):
  return -1 if reverse else 0


# ---------------------------------------------------------------------------------------------------------------
# Diagonal kernels. Coefficient `a` is either (Ba, n) (time-invariant, Ba in {1, B}) or (B, L, n) (time-varying).
# All take b (B, L, n) and h0 (B, n) in the accumulation dtype and return h (B, L, n).


def _diag_sequential(a, b, h0, reverse, k):
  if a.ndim == 2:
    _, h = k.scan_axis(lambda h, b_t: a * h + b_t, h0, [b], 1, reverse=reverse)
  else:
    _, h = k.scan_axis(lambda h, a_t, b_t: a_t * h + b_t, h0, [a, b], 1, reverse=reverse)
  return h


def _diag_associative(a, b, h0, reverse, k):
  del k  # no loop to tune
  a = jnp.broadcast_to(a[:, None] if a.ndim == 2 else a, b.shape)
  first = _first_index(reverse)
  b = b.at[:, first].add(a[:, first] * h0)

  def combine(earlier, later):
    a_x, b_x = earlier
    a_y, b_y = later
    return a_y * a_x, a_y * b_x + b_y

  _, h = jax.lax.associative_scan(combine, (a, b), axis=1, reverse=reverse)
  return h


def _pad_time(x, length, chunk, reverse):
  """Pads axis 1 to a multiple of `chunk`: at the end (forward) or the start (reverse), where it is computed last."""
  pad = -length % chunk
  if pad == 0:
    return x
  widths = [(0, 0)] * x.ndim
  widths[1] = (pad, 0) if reverse else (0, pad)
  return jnp.pad(x, widths)


def _to_chunks(x, chunk):
  """(B, C*T, n) -> (B, C, T, n), a free reshape."""
  batch, length, width = x.shape
  return x.reshape(batch, length // chunk, chunk, width)


def _from_chunks(x, length, reverse):
  """(B, C, T, n) -> (B, L, n), dropping the padding added by _pad_time."""
  batch, n_chunks, chunk, width = x.shape
  x = x.reshape(batch, n_chunks * chunk, width)
  return x[:, x.shape[1] - length:] if reverse else x[:, :length]


def _diag_chunked(a, b, h0, reverse, k):
  """Chunk-local states from zero (T steps on (B, C, n)), chunk carries (C steps), then an elementwise fix-up."""
  batch, length, width = b.shape
  chunk = _chunk_length(length)
  b_c = _to_chunks(_pad_time(b, length, chunk, reverse), chunk)  # (B, C, T, n)
  n_chunks = b_c.shape[1]
  zeros = jnp.zeros((batch, n_chunks, width), b.dtype)
  last = 0 if reverse else -1
  if a.ndim == 2:
    a_b = a[:, None]  # (Ba, 1, n): broadcasts over chunks
    _, local = k.scan_axis(lambda h, b_t: a_b * h + b_t, zeros, [b_c], 2, reverse=reverse)
    powers = jnp.cumprod(jnp.broadcast_to(a[:, None], (a.shape[0], chunk, width)), axis=1)  # a^(t+1): (Ba, T, n)
    chunk_power = powers[:, -1]
    _, carry_out = k.scan_axis(lambda c, last_k: chunk_power * c + last_k, h0, [local[:, :, last]], 1,
                               reverse=reverse)
    carry_in = cpu_kernels.prev_states(carry_out, h0, reverse)  # the state entering each chunk: (B, C, n)
    if reverse:  # the carry enters at the chunk's end: position t gets a^(T-t)
      powers = powers[:, ::-1]
    h = local + powers[:, None] * carry_in[:, :, None]
  else:
    a_c = _to_chunks(_pad_time(a, length, chunk, reverse), chunk)

    def step(hp, a_t, b_t):
      h, p = hp
      return a_t * h + b_t, a_t * p
    _, (local, powers) = k.scan_axis(step, (zeros, jnp.ones_like(zeros)), [a_c, b_c], 2, reverse=reverse)
    _, carry_out = k.scan_axis(lambda c, p_k, last_k: p_k * c + last_k, h0,
                               [powers[:, :, last], local[:, :, last]], 1, reverse=reverse)
    carry_in = cpu_kernels.prev_states(carry_out, h0, reverse)
    h = local + powers * carry_in[:, :, None]
  return _from_chunks(h, length, reverse)


_DIAG_KERNELS = {"sequential": _diag_sequential, "associative": _diag_associative, "chunked": _diag_chunked}


def _sum_to_shape(x, shape):
  """Sums a (B, L, n) array down to `shape` (a broadcast source shape)."""
  lead = x.ndim - len(shape)
  x = x.sum(axis=tuple(range(lead))) if lead else x
  axes = tuple(i for i, s in enumerate(shape) if s == 1 and x.shape[i] != 1)
  return x.sum(axis=axes, keepdims=True) if axes else x


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def _diag_recurrence(a, b, h0, impl, reverse, kernels):
  return _DIAG_KERNELS[impl](a, b, h0, reverse, cpu_kernels.get(kernels))


def _diag_recurrence_fwd(a, b, h0, impl, reverse, kernels):
  h = _name_states(_DIAG_KERNELS[impl](a, b, h0, reverse, cpu_kernels.get(kernels)))
  return h, (a, h, h0)


def _diag_recurrence_bwd(impl, reverse, kernels, residuals, g):
  a, h, h0 = residuals
  k = cpu_kernels.get(kernels)
  if impl == "sequential" and a.ndim == 2 and k.diag_sequential_adjoint is not None:
    adjoint, grad_a = k.diag_sequential_adjoint(a, g, h, h0, reverse)
    grad_h0 = a * adjoint[:, _first_index(reverse)]
    return _sum_to_shape(grad_a, a.shape), adjoint, grad_h0
  if a.ndim == 3:  # the adjoint at t multiplies a_{t+1}: shift the coefficients one step against the direction
    a_adj = jnp.concatenate([a[:, :1], a[:, :-1]], axis=1) if reverse else jnp.concatenate(
        [a[:, 1:], a[:, -1:]], axis=1)
  else:
    a_adj = a
  adjoint = _DIAG_KERNELS[impl](a_adj, g, jnp.zeros_like(h0), not reverse, k)
  first = _first_index(reverse)
  a_first = a if a.ndim == 2 else a[:, first]
  grad_h0 = a_first * adjoint[:, first]
  grad_a = adjoint * cpu_kernels.prev_states(h, h0, reverse)
  grad_a = grad_a.sum(axis=1) if a.ndim == 2 else grad_a
  return _sum_to_shape(grad_a, a.shape), adjoint, grad_h0


_diag_recurrence.defvjp(_diag_recurrence_fwd, _diag_recurrence_bwd)


@functools.partial(jax.jit, static_argnames=("reverse", "impl", "kernels"))  # one compile when called eagerly
def diag_scan(a, b, h0=None, *, reverse=False, impl="auto", kernels="auto"):
  """All states of h_t = a_t * h_{t-1} + b_t (elementwise) over axis 1 of b.

  Args:
    a: coefficients, (n,) time-invariant (the common case: never broadcast to (B, L, n)), or any shape
      broadcastable to b's, e.g. (B, 1, n) or (B, L, n).
    b: inputs (B, L, n), real or complex, any float precision.
    h0: initial state (B, n), or None for zeros. With reverse=True it is the state after the last step.
    reverse: run from the end of the sequence to its start.
    impl: "auto" or one of DIAG_IMPLS (see `resolve_impl`).
    kernels: "auto", "plain" or "cpu": the loops' and the backward pass's kernels (models/cpu_kernels.py).

  Returns:
    h: (B, L, n) in the accumulation dtype (float32 / complex64 at least).
  """
  impl = resolve_impl("diag", impl)
  kernels = cpu_kernels.resolve_kernels(kernels)
  b = jnp.asarray(b)
  a = jnp.asarray(a)
  _check_b("diag_scan", b)
  _check_h0("diag_scan", h0, b)
  try:
    jnp.broadcast_shapes(a.shape, b.shape)
  except ValueError:
    raise ValueError(f"diag_scan: a of shape {a.shape} does not broadcast to b of shape {b.shape}") from None
  h0 = jnp.zeros((b.shape[0], b.shape[2]), b.dtype) if h0 is None else jnp.asarray(h0)
  dtype = _acc_dtype(a.dtype, b.dtype, h0.dtype)
  # astype's transpose casts cotangents back (real part for real inputs): gradients keep the inputs' dtypes.
  a_c, b_c, h0_c = a.astype(dtype), b.astype(dtype), h0.astype(dtype)
  a_full = (1,) * (3 - a_c.ndim) + a_c.shape
  if a_full[1] == 1:  # time-invariant: (Ba, n)
    a_c = a_c.reshape(a_full[0], a_full[2])
    a_c = jnp.broadcast_to(a_c, (a_c.shape[0], b.shape[2]))
  else:
    a_c = jnp.broadcast_to(a_c.reshape(a_full), b.shape)
  return _diag_recurrence(a_c, b_c, h0_c, impl, reverse, kernels)


# ---------------------------------------------------------------------------------------------------------------
# Dense kernels: A (n, n), b (B, L, n), h0 (B, n), all in the accumulation dtype; return h (B, L, n).


def _apply(h, A):
  """A @ h for every row vector in h (..., n)."""
  return jnp.matmul(h, A.T, precision=_HIGHEST)


def _times_transposed(h, A_T):
  """h @ A_T: A @ h for every row vector in h, given A_T = A.T already transposed (outside the loop: a
  transposed operand in a loop's dot slows a small-n scan on XLA:CPU, docs/models.md)."""
  return jnp.matmul(h, A_T, precision=_HIGHEST)


def _dense_sequential(A, b, h0, reverse, k):
  A_T = A.T
  _, h = k.scan_axis(lambda h, b_t: _times_transposed(h, A_T) + b_t, h0, [b], 1, reverse=reverse)
  return h


def _dense_doubling(A, b, h0, reverse, k):
  del k  # no loop to tune
  length = b.shape[1]
  first = _first_index(reverse)
  h = b.at[:, first].add(_apply(h0, A))
  power, shift = A, 1  # power = A^shift
  while shift < length:
    if reverse:
      h = h.at[:, :-shift].add(_apply(h[:, shift:], power))
    else:
      h = h.at[:, shift:].add(_apply(h[:, :-shift], power))
    shift *= 2
    if shift < length:
      power = jnp.matmul(power, power, precision=_HIGHEST)
  return h


def _dense_chunked(A, b, h0, reverse, k):
  """Chunk-local final states (T steps on (B, C, n)), chunk carries with A^T (C steps), then the states (T steps)."""
  batch, length, width = b.shape
  chunk = _chunk_length(length)
  b_c = _to_chunks(_pad_time(b, length, chunk, reverse), chunk)  # (B, C, T, n)
  n_chunks = b_c.shape[1]

  A_T = A.T

  def step(h, b_t):
    return _times_transposed(h, A_T) + b_t
  local_last, _ = k.scan_axis(step, jnp.zeros((batch, n_chunks, width), b.dtype), [b_c], 2, reverse=reverse,
                              keep_states=False)
  with jax.default_matmul_precision("highest"):
    chunk_power_T = jnp.linalg.matrix_power(A, chunk).T
  _, carry_out = k.scan_axis(lambda c, last_k: _times_transposed(c, chunk_power_T) + last_k, h0, [local_last],
                             1, reverse=reverse)
  carry_in = cpu_kernels.prev_states(carry_out, h0, reverse)
  _, h = k.scan_axis(step, carry_in, [b_c], 2, reverse=reverse)
  return _from_chunks(h, length, reverse)


_DENSE_KERNELS = {"sequential": _dense_sequential, "doubling": _dense_doubling, "chunked": _dense_chunked}


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def _dense_recurrence(A, b, h0, impl, reverse, kernels):
  return _DENSE_KERNELS[impl](A, b, h0, reverse, cpu_kernels.get(kernels))


def _dense_recurrence_fwd(A, b, h0, impl, reverse, kernels):
  h = _name_states(_DENSE_KERNELS[impl](A, b, h0, reverse, cpu_kernels.get(kernels)))
  return h, (A, h, h0)


def _dense_recurrence_bwd(impl, reverse, kernels, residuals, g):
  A, h, h0 = residuals
  k = cpu_kernels.get(kernels)
  adjoint = _DENSE_KERNELS[impl](A.T, g, jnp.zeros_like(h0), not reverse, k)
  grad_h0 = _apply(adjoint[:, _first_index(reverse)], A.T)
  return k.dense_grad_A(adjoint, h, h0, reverse), adjoint, grad_h0


_dense_recurrence.defvjp(_dense_recurrence_fwd, _dense_recurrence_bwd)


@functools.partial(jax.jit, static_argnames=("reverse", "impl", "kernels"))  # one compile when called eagerly
def dense_scan(A, b, h0=None, *, reverse=False, impl="auto", kernels="auto"):
  """All states of h_t = A @ h_{t-1} + b_t over axis 1 of b (time-invariant A).

  Args:
    A: (n, n) real or complex.
    b: inputs (B, L, n), any float precision.
    h0: initial state (B, n), or None for zeros. With reverse=True it is the state after the last step.
    reverse: run from the end of the sequence to its start (h_t = A @ h_{t+1} + b_t).
    impl: "auto" or one of DENSE_IMPLS (see `resolve_impl`).
    kernels: "auto", "plain" or "cpu": the loops' and the backward pass's kernels (models/cpu_kernels.py).

  Returns:
    h: (B, L, n) in the accumulation dtype (float32 / complex64 at least).
  """
  impl = resolve_impl("dense", impl)
  kernels = cpu_kernels.resolve_kernels(kernels)
  A, b = jnp.asarray(A), jnp.asarray(b)
  _check_b("dense_scan", b)
  _check_h0("dense_scan", h0, b)
  if A.shape != (b.shape[2], b.shape[2]):
    raise ValueError(f"dense_scan: A must be (n, n) = {(b.shape[2], b.shape[2])}, got shape {A.shape}")
  h0 = jnp.zeros((b.shape[0], b.shape[2]), b.dtype) if h0 is None else jnp.asarray(h0)
  dtype = _acc_dtype(A.dtype, b.dtype, h0.dtype)
  A, b, h0 = A.astype(dtype), b.astype(dtype), h0.astype(dtype)
  return _dense_recurrence(A, b, h0, impl, reverse, kernels)
