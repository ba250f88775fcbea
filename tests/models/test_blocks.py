"""Tests of the recurrent blocks: float64 loop references, spectra of the inits, LRU mapping and normalisation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import inits
import models
from inits import theory
from models import lru as lru_lib
from models import norms

BLOCK_CLASSES = {"dense": models.LinearRNN, "diag": models.DiagonalRNN, "lru": models.LRU}
LN_EPS = norms.RECURRENT_LAYER_NORM_EPS


def _to_float64(block):
  """Casts every parameter of `block` to float64 (inside the x64 fixture)."""
  state = nnx.state(block)
  nnx.update(block, jax.tree.map(lambda p: jnp.asarray(p, jnp.float64), state))


def _randomise_layer_norm(block, rng):
  n = block.norm_scale[...].shape[0]
  block.norm_scale[...] = jnp.asarray(1.0 + 0.3 * rng.standard_normal(n), jnp.float32)
  for name in ("norm_bias", "norm_bias_re", "norm_bias_im"):
    if hasattr(block, name):
      getattr(block, name)[...] = jnp.asarray(0.2 * rng.standard_normal(n), jnp.float32)


def _effective_matrices(kind, block):
  """(M, B, C, D) in complex128/float64 numpy such that h_t = M h_{t-1} + B u_t, y_t = Re(C h_t) + D u_t."""
  get = lambda name: np.asarray(getattr(block, name)[...], np.float64)  # noqa: E731
  if kind == "dense":
    return get("A"), get("B"), get("C"), get("D")
  B = get("B_re") + 1j * get("B_im")
  if kind == "diag":
    lam = get("lambda_re") + 1j * get("lambda_im")
    return np.diag(lam), B, get("C"), get("D")
  lam = np.exp(-np.exp(get("nu_log")) + 1j * np.exp(get("theta_log")))
  gamma = np.exp(get("gamma_log"))
  return np.diag(lam), gamma[:, None] * B, get("C_re") + 1j * get("C_im"), get("D")


def _layer_norm_reference(z, block):
  scale = np.asarray(block.norm_scale[...], np.float64)
  if hasattr(block, "norm_bias"):
    bias = np.asarray(block.norm_bias[...], np.float64)
  else:
    bias = np.asarray(block.norm_bias_re[...], np.float64) + 1j * np.asarray(block.norm_bias_im[...], np.float64)
  centred = z - z.mean()
  return scale * centred / np.sqrt(np.mean(np.abs(centred) ** 2) + LN_EPS) + bias


def _loop_reference(kind, block, x, lengths, *, recurrent_layer_norm, bidirectional):
  """Plain Python loop over examples and time, float64: returns (y (B, L, d), max_abs_h, final_state_norm)."""
  M, B, C, D = _effective_matrices(kind, block)
  n = M.shape[0]
  batch, length, d_model = x.shape
  y = np.zeros((batch, length, d_model))
  max_abs_h, final_norms = 0.0, []

  def step(h, u):
    z = M @ h + B @ u
    return _layer_norm_reference(z, block) if recurrent_layer_norm else z

  for i in range(batch):
    T = int(lengths[i])
    forward, reverse = np.zeros((T, n), complex), np.zeros((T, n), complex)
    h = np.zeros(n, complex)
    for t in range(T):
      h = step(h, x[i, t])
      forward[t] = h
    final_sq = np.sum(np.abs(h) ** 2) if T else 0.0
    states = forward
    if bidirectional:
      h = np.zeros(n, complex)
      for t in reversed(range(T)):
        h = step(h, x[i, t])
        reverse[t] = h
      final_sq += np.sum(np.abs(h) ** 2) if T else 0.0
      states = np.concatenate([forward, reverse], axis=1)
    for t in range(T):
      y[i, t] = np.real(C @ states[t]) + D * x[i, t]
    if T:
      max_abs_h = max(max_abs_h, np.abs(states).max())
    final_norms.append(np.sqrt(final_sq))
  return y, max_abs_h, float(np.mean(final_norms))


def _jit_call(block, x, mask):
  """block(x, mask) under one jax.jit (faster than op-by-op for a scan)."""
  graphdef, state = nnx.split(block)
  return jax.jit(lambda state, x, mask: nnx.merge(graphdef, state)(x, mask))(
      state, jnp.asarray(x, jnp.float32), jnp.asarray(mask))


def _padded_input(rng, batch, length, d_model, lengths):
  x = rng.standard_normal((batch, length, d_model))
  mask = np.arange(length)[None, :] < np.asarray(lengths)[:, None]
  return x, mask


@pytest.mark.parametrize("kind", ["dense", "diag", "lru"])
@pytest.mark.parametrize("recurrent_layer_norm,bidirectional", [(False, False), (False, True), (True, True)])
def test_block_equals_float64_loop(x64, kind, recurrent_layer_norm, bidirectional):
  """Given tiny padded inputs (odd length, an empty row), the block equals a plain float64 loop, stats too."""
  rng = np.random.default_rng(0)
  d_model, n, lengths = 3, 4, [7, 4, 0, 1]
  init = "lru_ring" if kind == "lru" else "glorot"
  block = BLOCK_CLASSES[kind](d_model, n, init=init, recurrent_layer_norm=recurrent_layer_norm,
                              bidirectional=bidirectional, rngs=nnx.Rngs(params=1))
  if recurrent_layer_norm:
    _randomise_layer_norm(block, rng)
  _to_float64(block)
  x, mask = _padded_input(rng, len(lengths), 7, d_model, lengths)

  y, stats = block(jnp.asarray(x), jnp.asarray(mask))

  y_ref, max_ref, final_ref = _loop_reference(kind, block, x, lengths, recurrent_layer_norm=recurrent_layer_norm,
                                              bidirectional=bidirectional)
  assert y.dtype == jnp.float64
  np.testing.assert_allclose(np.asarray(y), y_ref, rtol=1e-10, atol=1e-10)
  np.testing.assert_allclose(float(stats["max_abs_h"]), max_ref, rtol=1e-6)
  np.testing.assert_allclose(float(stats["final_state_norm"]), final_ref, rtol=1e-6)


@pytest.mark.parametrize("kind,scan", [("dense", "doubling"), ("lru", "associative")])
def test_block_scan_impl_is_passed_through(kind, scan):
  """Given another scan implementation, the block's output is the same within float32 tolerance."""
  rng = np.random.default_rng(1)
  x, mask = _padded_input(rng, 2, 9, 3, [9, 5])
  init = "lru_ring" if kind == "lru" else "glorot_half"
  outputs = [_jit_call(BLOCK_CLASSES[kind](3, 5, init=init, scan=impl, rngs=nnx.Rngs(params=0)), x, mask)[0]
             for impl in ("auto", scan)]
  np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["dense", "diag", "lru"])
def test_unknown_scan_impl_raises(kind):
  with pytest.raises(ValueError, match="valid"):
    BLOCK_CLASSES[kind](3, 4, init="lru_ring", scan="bogus", rngs=nnx.Rngs(params=0))


@pytest.mark.parametrize("init", ["glorot", "glorot_half", "rescaled_glorot", "truncated_glorot", "diag_uniform",
                                  "lru_ring"])
def test_dense_block_has_the_spectrum_of_its_init(init):
  """LinearRNN's A is the init's draw with the first params key: same matrix, same spectral radius."""
  n = 170
  block = models.LinearRNN(4, n, init=init, rngs=nnx.Rngs(params=3))
  expected = inits.get(init)(nnx.Rngs(params=3).params(), (n, n), jnp.float32)
  np.testing.assert_array_equal(np.asarray(block.A[...]), np.asarray(expected))
  assert block.spectral_radius() == pytest.approx(float(theory.spectral_radius(np.asarray(expected))), rel=1e-12)
  if init == "rescaled_glorot":  # theory: rho(G) / c_n, glorot's radius divided by c_n exactly
    glorot_radius = theory.spectral_radius(np.asarray(inits.get("glorot")(nnx.Rngs(params=3).params(), (n, n))))
    assert block.spectral_radius() == pytest.approx(glorot_radius / theory.c_n(n), rel=1e-5)
  if init == "lru_ring":
    assert 0.4 - 1e-5 <= block.spectral_radius() <= 0.9 + 1e-5


@pytest.mark.parametrize("kind", ["diag", "lru"])
@pytest.mark.parametrize("init", ["rescaled_glorot", "glorot_half", "diag_uniform", "lru_ring"])
def test_diagonal_blocks_have_the_eigenvalues_of_their_init(kind, init):
  """lambda of a diagonal block (LRU: after the (nu, theta) mapping) are the init's eigenvalues for that key."""
  n = 170
  block = BLOCK_CLASSES[kind](4, n, init=init, rngs=nnx.Rngs(params=5))
  expected = np.asarray(inits.get(init)(nnx.Rngs(params=5).params(), (n,), jnp.complex64))
  np.testing.assert_allclose(np.asarray(block.eigenvalues()), expected, atol=2e-6)
  assert block.spectral_radius() == pytest.approx(np.abs(expected).max(), rel=1e-5)


def test_lru_mapping_handles_every_phase():
  """Positive real, negative real and conjugate eigenvalues map to finite (nu, theta) and back exactly."""
  eigenvalues = np.array([0.5, -0.5, 0.3 - 0.4j, 0.3 + 0.4j, 0.0, 1j * 0.99], np.complex64)
  params = lru_lib.lru_parameters(eigenvalues)
  assert all(np.all(np.isfinite(np.asarray(v))) for v in params.values())
  phases = np.exp(np.asarray(params["theta_log"]))
  assert np.all((phases > 0) & (phases <= 2 * np.pi + 1e-6))
  back = np.asarray(lru_lib.lru_eigenvalues(params["nu_log"], params["theta_log"]))
  np.testing.assert_allclose(back, np.where(eigenvalues == 0, lru_lib.MIN_MODULUS, eigenvalues), atol=1e-6)
  np.testing.assert_allclose(np.exp(2 * np.asarray(params["gamma_log"])), 1 - np.abs(back) ** 2, rtol=1e-5)


def test_lru_rejects_eigenvalues_outside_the_unit_disk():
  with pytest.raises(ValueError, match=r"'glorot': 2 of 3 eigenvalues have modulus >= 1"):
    lru_lib.lru_parameters(np.array([0.5, 1.2, -1.0 + 0j]), "glorot")


def test_lru_block_with_glorot_says_why_it_cannot_be_built():
  """Glorot at n = 256 has spectral radius > 1 for key 1 (checked), so the LRU cannot represent it."""
  n = 256
  radius = theory.spectral_radius(np.asarray(inits.get("glorot")(nnx.Rngs(params=1).params(), (n, n))))
  assert radius > 1.0
  with pytest.raises(ValueError, match="init 'glorot'.*modulus >= 1.*cannot represent"):
    models.LRU(4, n, init="glorot", rngs=nnx.Rngs(params=1))


def test_lru_gamma_keeps_white_noise_state_of_order_one():
  """White-noise inputs: E|h_i|^2 = gamma_i^2 sum_k |lambda_i|^2k E|(B u)_i|^2 ~ 1 with gamma, >> 1 without."""
  d_model, n, length, batch = 32, 32, 256, 16
  block = models.LRU(d_model, n, init="lru_ring", init_params=dict(r_min=0.9, r_max=0.97),
                     rngs=nnx.Rngs(params=0))
  u = jax.random.normal(jax.random.key(1), (batch, length, d_model))
  mask = jnp.ones((batch, length), bool)
  graphdef, state = nnx.split(block)
  final_state_norm = jax.jit(lambda state: nnx.merge(graphdef, state)(u, mask)[1]["final_state_norm"])

  per_unit = float(final_state_norm(state)) / np.sqrt(n)  # ~ sqrt(E|h_i|^2) at the last step (0.97^512 ~ 0)
  block.gamma_log[...] = jnp.zeros(n)
  per_unit_without = float(final_state_norm(nnx.state(block))) / np.sqrt(n)

  stationary_without = np.mean(1.0 / (1.0 - np.abs(np.asarray(block.eigenvalues())) ** 2))  # E|h_i|^2, gamma = 1
  assert 0.8 < per_unit ** 2 < 1.2
  assert stationary_without > 5.0  # 1/(1 - r^2) >= 5.3 for r >= 0.9
  assert 0.7 < per_unit_without ** 2 / stationary_without < 1.3


@pytest.mark.parametrize("kind", ["dense", "diag", "lru"])
def test_padding_never_reaches_the_state(kind):
  """Huge values at padded steps change neither the output at real steps, nor stats, nor gradients."""
  rng = np.random.default_rng(2)
  lengths = [6, 3]
  x, mask = _padded_input(rng, 2, 6, 3, lengths)
  x_other = np.where(mask[..., None], x, 1e30)
  block = BLOCK_CLASSES[kind](3, 4, init="lru_ring" if kind == "lru" else "glorot", bidirectional=True,
                              rngs=nnx.Rngs(params=0))
  graphdef, params = nnx.split(block)

  def loss(params, x):
    y, stats = nnx.merge(graphdef, params)(x, jnp.asarray(mask))
    return jnp.sum(y ** 2), (y, stats)

  value_and_grad = jax.jit(jax.value_and_grad(loss, has_aux=True))
  (_, (y, stats)), grads = value_and_grad(params, jnp.asarray(x, jnp.float32))
  (_, (y2, stats2)), grads2 = value_and_grad(params, jnp.asarray(x_other, jnp.float32))
  np.testing.assert_array_equal(y, y2)
  assert np.all(np.asarray(y)[~mask] == 0)
  for name in stats:
    assert float(stats[name]) == float(stats2[name])
  for g, g2 in zip(jax.tree.leaves(grads), jax.tree.leaves(grads2)):
    np.testing.assert_array_equal(g, g2)


def test_roll_time_and_its_gradient_are_inverse_rolls():
  x = jnp.arange(2 * 5, dtype=jnp.float32).reshape(2, 5)
  shift = jnp.array([2, -1])
  np.testing.assert_array_equal(norms.roll_time(x, shift), np.stack([np.roll(x[0], 2), np.roll(x[1], -1)]))
  weights = jnp.arange(10.0).reshape(2, 5) ** 2
  grad = jax.grad(lambda x: jnp.sum(weights * norms.roll_time(x, shift)))(x)
  np.testing.assert_array_equal(grad, np.stack([np.roll(weights[0], -2), np.roll(weights[1], 1)]))


def test_recurrent_params_are_the_recurrence_only():
  """models.RecurrentParam marks A / B, lambda / B, nu / theta / gamma / B; every other parameter (C, D, the
  recurrent LayerNorm) is a plain nnx.Param, and both are caught by the nnx.Param filter."""
  def params_by_type(cls):
    block = nnx.eval_shape(lambda: cls(3, 4, init="lru_ring", recurrent_layer_norm=True, rngs=nnx.Rngs(params=0)))
    flat = nnx.to_flat_state(nnx.state(block, nnx.Param))
    return ({str(path[-1]) for path, v in flat if isinstance(v, models.RecurrentParam)},
            {str(path[-1]) for path, v in flat if type(v) is nnx.Param})

  recurrent, other = zip(*(params_by_type(cls) for cls in BLOCK_CLASSES.values()))
  recurrent, other = dict(zip(BLOCK_CLASSES, recurrent)), dict(zip(BLOCK_CLASSES, other))
  assert recurrent["dense"] == {"A", "B"}
  assert recurrent["diag"] == {"lambda_re", "lambda_im", "B_re", "B_im"}
  assert recurrent["lru"] == {"nu_log", "theta_log", "gamma_log", "B_re", "B_im"}
  assert other["dense"] == {"C", "D", "norm_scale", "norm_bias"}
  assert other["diag"] == {"C", "D", "norm_scale", "norm_bias_re", "norm_bias_im"}
  assert other["lru"] == {"C_re", "C_im", "D", "norm_scale", "norm_bias_re", "norm_bias_im"}
