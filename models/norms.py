"""Padding-aware machinery shared by the recurrent blocks: time alignment, the recurrent LayerNorm, state stats.

Notation: B batch, L length (time), d model width (`d_model`), n recurrence width (`d_hidden`, the paper's n).
A padding mask is a PREFIX mask: `mask[b, t]` is True for t < length_b and False after (the classifier builds
it from the lengths; a block called directly must get one of this form).

How a block keeps padding out of its recurrence, exactly and without a second pass:
  * Inputs at padded steps are zeroed, so the recurrence input b_t = B u_t is exactly 0 there.
  * The forward recurrence runs on LEFT-aligned sequences (each sequence rolled right by L - length, so its
    padding comes first): the state is exactly 0 through the padding and the real tokens then see h_0 = 0.
    Its final state, the state after the last real token, is simply h[:, -1]. Had the padding come after the
    real tokens, the state would evolve freely there (h_t = A^(t-T) h_T): it can overflow float32 for a
    spectral radius above 1, and 0 * inf in the gradient of A would then give NaN for no reason of the data.
  * The reverse recurrence (bidirectional blocks) runs on the original right-padded sequences: in reverse
    order the padding again comes first. Its final state (after the first real token) is h[:, 0].
  * The recurrent LayerNorm maps 0 to its bias, not to 0, so its scan holds the state at padded steps.
Since the state is exactly 0 at padded steps, max |h_t| over all steps equals the max over real tokens.
"""

import jax
import jax.numpy as jnp

RECURRENT_LAYER_NORM_EPS = 1e-5


def prefix_mask(lengths, max_length: int):
  """(B,) lengths -> (B, L) bool mask, True at real tokens t < length."""
  return jnp.arange(max_length)[None, :] < lengths[:, None]


def _roll_rows(x, shift):
  """out[b, t] = x[b, (t - shift_b) mod L]: rolls each sequence right by shift_b steps (a gather of rows)."""
  length = x.shape[1]
  source = (jnp.arange(length)[None, :] - shift[:, None]) % length
  return x[jnp.arange(x.shape[0])[:, None], source]


@jax.custom_vjp
def roll_time(x, shift):
  """Rolls each sequence of x (B, L, ...) right along time by shift (B,) int steps (negative: left).

  The gradient is the inverse roll (a gather too), not the scatter-add that autodiff of a gather would give.
  """
  return _roll_rows(x, shift)


def _roll_time_fwd(x, shift):
  return _roll_rows(x, shift), shift


def _roll_time_bwd(shift, cotangent):
  return _roll_rows(cotangent, -shift), None


roll_time.defvjp(_roll_time_fwd, _roll_time_bwd)


def recurrent_layer_norm(h, scale, bias, eps=RECURRENT_LAYER_NORM_EPS):
  """LayerNorm over the units (last axis) of a real or complex state.

  LN(z) = scale * (z - mean(z)) / sqrt(mean(|z - mean(z)|^2) + eps) + bias. For complex z the mean is
  complex, the variance is that of the modulus (real and imaginary parts together), `scale` is real and
  `bias` complex: the real LayerNorm is the special case of a real z.
  """
  centred = h - jnp.mean(h, axis=-1, keepdims=True)
  variance = jnp.mean(jnp.real(centred) ** 2 + jnp.imag(centred) ** 2, axis=-1, keepdims=True)
  return scale * centred * jax.lax.rsqrt(variance + eps) + bias


def layer_norm_scan(transition, b, mask, scale, bias, *, reverse=False):
  """The rebuttal's "LN" recurrence, sequential: h_t = LN(transition(h_{t-1}) + b_t) at real steps.

  At padded steps (mask False) the state is held, h_t = h_{t-1}; h before the first step is 0.

  Args:
    transition: h (B, n) -> A h (dense: h @ A.T; diagonal: lambda * h).
    b: (B, L, n) float32 or complex64 recurrence inputs.
    mask: (B, L) bool, True at real tokens.
    scale, bias: (n,) LayerNorm parameters (`recurrent_layer_norm`).
    reverse: run from t = L-1 down to 0.

  Returns:
    h: (B, L, n), the state after each step.
  """
  def step(h, inputs):
    b_t, mask_t = inputs
    h_new = recurrent_layer_norm(transition(h) + b_t, scale, bias)
    h = jnp.where(mask_t[:, None], h_new, h)
    return h, h

  h0 = jnp.zeros((b.shape[0], b.shape[2]), b.dtype)
  _, h = jax.lax.scan(step, h0, (jnp.swapaxes(b, 0, 1), jnp.swapaxes(mask, 0, 1)), reverse=reverse)
  return jnp.swapaxes(h, 0, 1)


def _squared_modulus(h):
  return jnp.real(h) ** 2 + jnp.imag(h) ** 2 if jnp.iscomplexobj(h) else h ** 2


def apply_recurrence(x, mask, *, project_in, recur, project_out, bidirectional):
  """Runs a linear recurrent block over a padded batch, padding kept out exactly (see the module docstring).

  Args:
    x: (B, L, d) float inputs.
    mask: (B, L) bool prefix mask, True at real tokens.
    project_in: u (B, L, d) -> b (B, L, n), linear per step (0 -> 0): the recurrence input B u.
    recur: (b, mask, reverse) -> h (B, L, n), the recurrence h_t = A h_{t-1} + b_t (or its LN variant); it
      may rely on the padded steps coming first in scan order with b = 0 there.
    project_out: (h, u) -> y (B, L, d_out), h (B, L, n), or (B, L, 2n) = [forward, reverse] if bidirectional.
    bidirectional: also run the recurrence in reverse over the same inputs b.

  Returns:
    y: (B, L, d_out), 0 at padded steps.
    stats: max_abs_h (max of |h_t| over batch, real steps and units; both directions), final_state_norm (batch
      mean of the norm of the state after the last real token: [forward, reverse] if bidirectional), float32.
  """
  length = mask.shape[1]
  shift = length - jnp.sum(mask, axis=1, dtype=jnp.int32)
  mask_left = jnp.arange(length)[None, :] >= shift[:, None]
  x_left = roll_time(jnp.where(mask[..., None], x, 0), shift)
  b_left = project_in(x_left)
  h_left = recur(b_left, mask_left, False)
  h_stat = jax.lax.stop_gradient(h_left)
  max_sq = jnp.max(_squared_modulus(h_stat))
  final_sq = jnp.sum(_squared_modulus(h_stat[:, -1]), axis=-1)
  if bidirectional:
    h_reverse = recur(roll_time(b_left, -shift), mask, True)
    h_stat = jax.lax.stop_gradient(h_reverse)
    max_sq = jnp.maximum(max_sq, jnp.max(_squared_modulus(h_stat)))
    final_sq = final_sq + jnp.sum(_squared_modulus(h_stat[:, 0]), axis=-1)
    h_left = jnp.concatenate([h_left, roll_time(h_reverse, shift)], axis=-1)
  y = roll_time(project_out(h_left, x_left), -shift)
  y = jnp.where(mask[..., None], y, 0)
  stats = {"max_abs_h": jnp.sqrt(max_sq).astype(jnp.float32),
           "final_state_norm": jnp.mean(jnp.sqrt(final_sq)).astype(jnp.float32)}
  return y, stats
