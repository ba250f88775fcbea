"""The recurrent step mode of a whole model: one time step, `step(state, x_t) -> (state, y_t)`.

What the scans compute for a whole sequence, one step at a time, on the same parameters (tests/models/test_step.py
checks them equal): the autoregressive rollout of a forecaster calls it, jitted, once a step. Forward only and
in evaluation mode (BatchNorm's running statistics, no dropout); a bidirectional block has no step mode.
Each block (LinearRNN, DiagonalRNN, LRU) has its own step; this module runs a residual layer and a backbone:

  h = block.initial_state(batch)           # zeros (B, n): float32 (dense) or complex64 (diag, lru)
  h, y_t = block.step(h, u_t)              # u_t (B, d_model) -> y_t (B, d_model)
  states = model_initial_state(model, batch)
  states, features_t = model_step(model, states, inputs_t)
"""

import jax
import jax.numpy as jnp


def layer_step(layer, h, x):
  """One step of a ResidualLayer in evaluation mode: x (B, d) -> (h, x + GLU(GELU(block(norm(x)))))."""
  z = x[:, None, :]
  if layer.norm_kind == "batch":
    z = layer.norm(z, use_running_average=True)
  else:
    z = layer.norm(z)
  h, y = layer.block.step(h, z[:, 0])
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
  return [layer.block.initial_state(batch) for layer in model.layers]


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
