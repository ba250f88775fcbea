"""A linear map applied to every token: (..., d_in) @ (d_in, d_out) as ONE 2-D matmul over the flattened
leading axes.

Written as an einsum over (B, L, d), its weight gradient contracts two axes (batch and time); XLA:CPU then
copies the cotangent transposed into a new buffer before the dot (4 such copies a layer: docs/models.md).
On the flattened (B L, d) array the weight gradient contracts one
axis and the dot reads both operands in place. The reshapes are free (contiguous arrays).
"""

import jax


def tokenwise_matmul(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """x (..., d_in) @ kernel (d_in, d_out) -> (..., d_out), computed on x flattened to (rows, d_in)."""
  if x.shape[-1] != kernel.shape[0]:
    raise ValueError(f"tokenwise_matmul: x (..., {x.shape[-1]}) does not match kernel {kernel.shape} (d_in, d_out)")
  return (x.reshape(-1, x.shape[-1]) @ kernel).reshape(*x.shape[:-1], kernel.shape[-1])
