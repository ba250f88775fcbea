"""The step mode equals the scan on the same parameters: each block, and the whole backbone with its head."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

import models


def run_steps(step, state, xs):
  """Steps over time axis 1 of xs with a Python loop (no scan), stacking the outputs."""
  outputs = []
  for t in range(xs.shape[1]):
    state, y = step(state, xs[:, t])
    outputs.append(y)
  return jnp.stack(outputs, axis=1)


@pytest.mark.parametrize("recurrence", ["dense", "diag", "lru"])
@pytest.mark.parametrize("layer_norm", [False, True])
def test_block_step_equals_the_scan(recurrence, layer_norm):
  init = "lru_ring" if recurrence == "lru" else "glorot_half"
  block = models.BLOCKS[recurrence](6, 10, init=init, recurrent_layer_norm=layer_norm, rngs=nnx.Rngs(params=3))
  x = jax.random.normal(jax.random.key(1), (2, 5, 6))
  y_scan, _ = block(x, jnp.ones((2, 5), bool))
  y_step = run_steps(block.step, block.initial_state(2), x)
  np.testing.assert_allclose(y_step, y_scan, rtol=2e-4, atol=2e-5)


def model_config(recurrence, norm):
  return ml_collections.ConfigDict(dict(
      recurrence=recurrence, init="lru_ring" if recurrence == "lru" else "glorot_half",
      init_params=ml_collections.ConfigDict(), d_model=8, d_hidden=12, n_layers=2, norm=norm, dropout=0.0,
      scan="auto", recurrent_layer_norm=False, bidirectional=False, double_gelu=False, remat="none",
      pooling="last"))


@pytest.mark.parametrize("recurrence, norm", [("dense", "batch"), ("lru", "layer")])
def test_model_step_equals_the_forward_pass(recurrence, norm):
  task = models.TaskShape(head="per_position", loss="mse", input_dim=2, num_outputs=1, num_positions=3)
  model = models.build(model_config(recurrence, norm), task, rngs=nnx.Rngs(params=0))
  x = jax.random.normal(jax.random.key(2), (2, 5, 2))
  lengths = jnp.full((2,), 5, jnp.int32)
  features, _, _ = model.backbone(x, lengths, train=False)
  stepped = run_steps(model.step, model.initial_state(2), x)
  np.testing.assert_allclose(stepped, model.head.readout(features), rtol=2e-4, atol=2e-5)
  outputs, _ = model(x, lengths, train=False)
  np.testing.assert_allclose(outputs, stepped[:, -3:], rtol=2e-4, atol=2e-5)   # the last 3 positions


def test_bidirectional_block_has_no_step_mode():
  block = models.BLOCKS["diag"](4, 6, init="glorot_half", bidirectional=True, rngs=nnx.Rngs(params=0))
  with pytest.raises(ValueError, match="bidirectional"):
    block.step(block.initial_state(1), jnp.zeros((1, 4)))
