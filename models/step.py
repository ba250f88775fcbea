"""The recurrent step mode: one time step of a block or of a whole model, `step(state, x_t) -> (state, y_t)`.

What the scans compute for a whole sequence, one step at a time, on the same parameters (tests/models/test_step.py
checks them equal): the autoregressive rollout of a forecaster calls it, jitted, once a step. Forward only and
in evaluation mode (BatchNorm's running statistics, no dropout); a bidirectional block has no step mode.

  h = initial_state(block, batch)          # zeros (B, n): float32 (dense) or complex64 (diag, lru)
  h, y_t = block_step(block, h, u_t)       # u_t (B, d_model) -> y_t (B, d_model)
"""

import jax
import jax.numpy as jnp

from models import diagonal_rnn
from models import linear_rnn
from models import lru
from models import norms


def initial_state(block, batch: int):
  """h_0 = 0 of `block` for `batch` sequences: (B, n) float32 for the dense block, complex64 otherwise."""
  if isinstance(block, linear_rnn.LinearRNN):
    return jnp.zeros((batch, block.A.shape[0]), block.D[...].dtype)
  n = block.B_re.shape[0]
  return jnp.zeros((batch, n), jnp.complex64 if block.D[...].dtype == jnp.float32 else jnp.complex128)


def block_step(block, h, u):
  """One step h_t = A h_{t-1} + B u_t (or its LN variant), y_t = C h_t + D u_t, of a unidirectional block.

  Args:
    block: a LinearRNN, DiagonalRNN or LRU.
    h: (B, n) the state after the previous step (`initial_state` before the first).
    u: (B, d_model) the block's input at this step.

  Returns:
    (h_t (B, n), y_t (B, d_model) float).
  """
  if block.bidirectional:
    raise ValueError("a bidirectional block has no step mode (its output reads the future)")
  D = block.D[...]
  u = u.astype(D.dtype)
  if isinstance(block, linear_rnn.LinearRNN):
    h = h @ block.A[...].T + u @ block.B[...].T
    if block.recurrent_layer_norm:
      h = norms.recurrent_layer_norm(h, block.norm_scale[...], block.norm_bias[...])
    return h, h @ block.C[...].T + D * u
  if isinstance(block, lru.LRU):
    gamma = jnp.exp(block.gamma_log[...])
    B_re, B_im = gamma[:, None] * block.B_re[...], gamma[:, None] * block.B_im[...]
  elif isinstance(block, diagonal_rnn.DiagonalRNN):
    B_re, B_im = block.B_re[...], block.B_im[...]
  else:
    raise TypeError(f"block_step: unknown block {type(block).__name__}")
  h = block.eigenvalues() * h + jax.lax.complex(u @ B_re.T, u @ B_im.T)
  if block.recurrent_layer_norm:
    bias = jax.lax.complex(block.norm_bias_re[...], block.norm_bias_im[...])
    h = norms.recurrent_layer_norm(h, block.norm_scale[...], bias)
  if isinstance(block, lru.LRU):
    y = jnp.real(h) @ block.C_re[...].T - jnp.imag(h) @ block.C_im[...].T
  else:
    y = jnp.real(h) @ block.C[...].T
  return h, y + D * u


def layer_step(layer, h, x):
  """One step of a ResidualLayer in evaluation mode: x (B, d) -> (h, x + GLU(GELU(block(norm(x)))))."""
  z = x[:, None, :]
  if layer.norm_kind == "batch":
    z = layer.norm(z, use_running_average=True)
  else:
    z = layer.norm(z)
  h, y = block_step(layer.block, h, z[:, 0])
  y = jax.nn.gelu(y)
  if layer.double_gelu:
    y = jax.nn.gelu(y)
  kernel, bias = layer.glu.kernel[...], layer.glu.bias[...]
  d_model = kernel.shape[0]
  value = y @ kernel[:, :d_model] + bias[:d_model]
  gate = y @ kernel[:, d_model:] + bias[d_model:]
  return h, x + value * jax.nn.sigmoid(gate)


def model_initial_state(model, batch: int) -> list:
  """The zero states of every layer of a SequenceClassifier (or a models.heads.SequenceModel's body)."""
  return [initial_state(layer.block, batch) for layer in model.layers]


def model_step(model, states: list, inputs_t):
  """One step of the backbone: inputs_t (B,) int tokens or (B, input_dim) values -> (states, features (B, d))."""
  if model.vocab_size is not None:
    x = model.encoder(inputs_t)
  else:
    x = model.encoder(inputs_t.astype(jnp.float32))
  new_states = []
  for layer, h in zip(model.layers, states):
    h, x = layer_step(layer, h, x)
    new_states.append(h)
  return new_states, x
