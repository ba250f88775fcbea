"""Linear recurrences over time as pure array functions (no Flax).

Notation: B batch, L length (time), n hidden width.
  diag_scan:  h_t = a_t * h_{t-1} + b_t   (elementwise, complex or real), a: (n,) or (B, L, n), b: (B, L, n)
  dense_scan: h_t = A @ h_{t-1} + b_t     (time-invariant), A: (n, n), b: (B, L, n)
Both return all states h: (B, L, n), accumulated in float32 / complex64 at least.
"""

import jax
import jax.numpy as jnp


def _acc_dtype(dtype):
  return jnp.promote_types(dtype, jnp.float32)


def diag_scan(a, b, h0=None, *, reverse=False, impl="auto"):
  """h_t = a_t * h_{t-1} + b_t over axis 1 of b (B, L, n); h0: (B, n) or None (zeros)."""
  dtype = _acc_dtype(jnp.result_type(a, b))
  b = b.astype(dtype)
  a = jnp.broadcast_to(jnp.asarray(a, dtype), b.shape)
  if h0 is not None:  # fold the initial state into the first input
    first = 0 if not reverse else -1
    b = b.at[:, first].add(a[:, first] * h0.astype(dtype))
  if impl in ("auto", "associative"):
    def op(x, y):
      ax, bx = x
      ay, by = y
      return ay * ax, ay * bx + by
    _, h = jax.lax.associative_scan(op, (a, b), axis=1, reverse=reverse)
    return h
  if impl == "sequential":
    def step(h, ab):
      at, bt = ab
      h = at * h + bt
      return h, h
    init = jnp.zeros((b.shape[0], b.shape[2]), dtype)
    _, h = jax.lax.scan(step, init, (jnp.swapaxes(a, 0, 1), jnp.swapaxes(b, 0, 1)), reverse=reverse)
    return jnp.swapaxes(h, 0, 1)
  raise ValueError(f"diag_scan: unknown impl {impl!r}; valid: 'auto', 'associative', 'sequential'")


def dense_scan(A, b, h0=None, *, reverse=False, impl="auto"):
  """h_t = A @ h_{t-1} + b_t over axis 1 of b (B, L, n); h0: (B, n) or None (zeros)."""
  dtype = _acc_dtype(jnp.result_type(A, b))
  A, b = A.astype(dtype), b.astype(dtype)
  if impl in ("auto", "sequential"):
    def step(h, bt):
      h = h @ A.T + bt
      return h, h
    init = jnp.zeros((b.shape[0], b.shape[2]), dtype) if h0 is None else h0.astype(dtype)
    _, h = jax.lax.scan(step, init, jnp.swapaxes(b, 0, 1), reverse=reverse)
    return jnp.swapaxes(h, 0, 1)
  raise ValueError(f"dense_scan: unknown impl {impl!r}; valid: 'auto', 'sequential'")
