"""Tests for inits.theory: c_n reference values, the Gumbel law against scipy, norms against naive loops."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import inits
from inits import theory

C_N_REFERENCE = {192: 1.22332, 256: 1.12613, 384: 1.08308, 512: 1.06680, 1024: 1.04356}
GAMMA_N_REFERENCE = {192: 0.1003, 256: 0.2814, 384: 0.5458, 512: 0.7390, 1024: 1.2215}


@pytest.mark.parametrize("n", [192, 256, 384])
def test_c_n_must_show_values(n):
  assert abs(theory.c_n(n) - C_N_REFERENCE[n]) < 1e-5


@pytest.mark.parametrize("n", sorted(C_N_REFERENCE))
def test_c_n_and_gamma_n_match_paper_table(n):
  assert theory.c_n(n) == pytest.approx(C_N_REFERENCE[n], abs=1e-5)
  assert theory.gamma_n(n) == pytest.approx(GAMMA_N_REFERENCE[n], abs=1e-4)


def test_c_n_from_its_definition_and_vectorised():
  n = np.array([200, 300, 5000])
  gamma = np.log(n / (2 * np.pi * np.log(n) ** 2))
  q = np.euler_gamma + 2.5 * np.pi / np.sqrt(6)
  expected = 1 + np.sqrt(gamma / (4 * n)) + q / np.sqrt(4 * n * gamma)
  np.testing.assert_allclose(theory.c_n(n, k=2.5), expected, rtol=1e-12)


def test_gamma_n_changes_sign_between_163_and_164():
  assert theory.gamma_n(163) < 0 < theory.gamma_n(164)
  with pytest.raises(ValueError, match="n must be >= 2"):
    theory.gamma_n(1)


def test_rescaled_glorot_min_width_is_the_first_n_with_positive_gamma_n():
  widths = np.arange(2, 1000)
  first = int(widths[np.argmax(np.log(widths / (2 * np.pi * np.log(widths) ** 2)) > 0)])
  assert theory.rescaled_glorot_min_width() == first == 164
  theory.check_rescalable(first)
  with pytest.raises(ValueError, match=r"^c_n: gamma_n = .* <= 0 for n <= 163 \(got n=163\), .*calibrated_glorot"):
    theory.check_rescalable(first - 1)


@pytest.mark.parametrize("n", [2, 100, 163])
def test_c_n_below_164_explains_and_names_calibrated_glorot(n):
  with pytest.raises(ValueError, match=r"gamma_n.*<= 0.*calibrated_glorot"):
    theory.c_n(n)


def test_gumbel_q_from_k_and_from_delta():
  assert theory.gumbel_q(1.0) == pytest.approx(0.5772156649 + math.pi / math.sqrt(6), abs=1e-10)
  assert theory.gumbel_q(0.0) == pytest.approx(stats.gumbel_r.mean(), abs=1e-12)
  for delta in (0.01, 0.05, 0.3):
    assert stats.gumbel_r.sf(theory.gumbel_q(delta=delta)) == pytest.approx(delta, rel=1e-10)


@pytest.mark.parametrize("k, delta, match", [(2.0, 0.05, "either k or delta"), (1.0, 0.0, r"\(0, 1\)"),
                                             (1.0, 1.5, r"\(0, 1\)")])
def test_gumbel_q_rejects_bad_parameters(k, delta, match):
  with pytest.raises(ValueError, match=match):
    theory.gumbel_q(k, delta)


@pytest.mark.parametrize("delta", [0.01, 0.05, 0.2])
def test_c_n_with_delta_has_gumbel_exceedance_delta(delta):
  n = 512
  scale = 1 / theory.c_n(n, delta=delta)
  assert theory.gumbel_prob_above_one(n, scale, "complex") == pytest.approx(delta, rel=1e-9)


@pytest.mark.parametrize("field", ["complex", "real"])
@pytest.mark.parametrize("n, scale", [(256, 1.0), (1024, 0.9)])
def test_gumbel_functions_match_scipy_gumbel_r(field, n, scale):
  gamma = np.log(n / (2 * np.pi * np.log(n) ** 2))
  beta = scale / np.sqrt(4 * n * gamma)
  loc = scale * (1 + np.sqrt(gamma / (4 * n))) - (beta * np.log(2) if field == "real" else 0.0)
  law = stats.gumbel_r(loc=loc, scale=beta)
  assert theory.spectral_radius_mean(n, scale, field) == pytest.approx(law.mean(), rel=1e-12)
  assert theory.spectral_radius_sd(n, scale, field) == pytest.approx(law.std(), rel=1e-12)
  xs = np.linspace(law.ppf(0.01), law.ppf(0.99), 7)
  np.testing.assert_allclose(theory.spectral_radius_cdf(xs, n, scale, field), law.cdf(xs), rtol=1e-10)
  ps = np.array([0.05, 0.5, 0.95])
  np.testing.assert_allclose(theory.spectral_radius_quantile(ps, n, scale, field), law.ppf(ps), rtol=1e-12)
  assert theory.gumbel_prob_above_one(n, scale, field) == pytest.approx(law.sf(1.0), rel=1e-9, abs=1e-15)


def test_real_field_is_rider_sinclair_law():
  n = 300
  loc, beta = theory.gumbel_loc_scale(n, field="complex")
  x = np.array([-1.0, 0.0, 2.0])
  np.testing.assert_allclose(theory.spectral_radius_cdf(loc + beta * x, n, field="real"), np.exp(-np.exp(-x) / 2),
                             rtol=1e-10)


def test_gumbel_functions_reject_bad_input():
  with pytest.raises(ValueError, match="unknown field 'quaternion'; valid: complex, real"):
    theory.spectral_radius_mean(256, field="quaternion")
  with pytest.raises(ValueError, match="p must lie in"):
    theory.spectral_radius_quantile(1.0, 256)
  with pytest.raises(ValueError, match="n >= 164"):
    theory.gumbel_loc_scale(100)


def test_spectral_radius_batched_numpy_and_jax():
  rotation = 0.5 * np.array([[0.0, -1.0], [1.0, 0.0]])  # eigenvalues +-0.5i
  upper = np.array([[0.9, 100.0], [0.0, -0.3]])  # non-normal: radius 0.9 though the norm is ~100
  batch = np.stack([rotation, upper])
  np.testing.assert_allclose(theory.spectral_radius(batch), [0.5, 0.9], rtol=1e-12)
  np.testing.assert_allclose(theory.spectral_radius(jnp.asarray(batch)), [0.5, 0.9], rtol=1e-6)
  assert theory.spectral_radius(upper).shape == ()
  with pytest.raises(ValueError, match="square"):
    theory.spectral_radius(np.zeros((3, 2)))


def test_ginibre_variance_real_and_complex():
  n = 256
  real = np.asarray(theory.ginibre(jax.random.key(0), n))
  complex_ = np.asarray(theory.ginibre(jax.random.key(1), n, jnp.complex64))
  assert real.dtype == np.float32 and complex_.dtype == np.complex64
  assert np.mean(real**2) * n == pytest.approx(1.0, rel=0.03)  # 65536 entries: relative SE 0.6%
  assert np.mean(np.abs(complex_) ** 2) * n == pytest.approx(1.0, rel=0.03)
  assert np.var(complex_.real) * n == pytest.approx(0.5, rel=0.03)


def test_exceedance_probability_and_standard_error():
  p, se = theory.exceedance_probability([0.5, 1.5, 2.0, 0.9])
  assert p == 0.5 and se == pytest.approx(math.sqrt(0.25 / 4))
  assert theory.exceedance_probability([0.1, 0.2])[1] == 0.0
  with pytest.raises(ValueError, match="empty"):
    theory.exceedance_probability([])


def test_monte_carlo_spectral_radii_matches_per_draw_loop():
  init = inits.get("glorot")
  key = jax.random.key(3)
  radii = theory.monte_carlo_spectral_radii(init, 12, 7, key, chunk_size=3)
  keys = jax.random.split(key, 7)
  expected = [np.abs(np.linalg.eigvals(np.asarray(init(k, (12, 12)), np.float64))).max() for k in keys]
  np.testing.assert_allclose(radii, expected, rtol=1e-6)  # float32 draws: jit/vmap may round differently


@pytest.mark.parametrize("ord", [2, "fro"])
def test_power_norms_match_matrix_power(ord):
  matrices = np.random.default_rng(0).standard_normal((3, 9, 9)) / 3
  ts = [0, 1, 2, 3, 7, 8, 20, 33]
  expected = [[np.linalg.norm(np.linalg.matrix_power(a, t), ord) for t in ts] for a in matrices]
  np.testing.assert_allclose(theory.power_norms(matrices, ts, ord=ord), expected, rtol=1e-10)
  np.testing.assert_allclose(theory.power_norms(matrices[0], ts, ord=ord), expected[0], rtol=1e-10)
  with pytest.raises(ValueError, match="strictly increasing"):
    theory.power_norms(matrices, [3, 2])


def test_power_norms_large_matrix_arpack_path_matches_full_svd():
  matrices = np.random.default_rng(2).standard_normal((1, 96, 96)) / np.sqrt(96)  # n > 64: ARPACK's svds
  ts = [1, 5, 300]  # ||A^300|| ~ 1e3 .. 1e10: the rescaling by the largest entry keeps it exact
  expected = [np.linalg.norm(np.linalg.matrix_power(matrices[0], t), 2) for t in ts]
  np.testing.assert_allclose(theory.power_norms(matrices, ts)[0], expected, rtol=1e-9)


def test_simulate_hidden_norms_matches_numpy_loop(x64):
  matrices = np.random.default_rng(1).standard_normal((2, 5, 5)) / np.sqrt(5)
  key = jax.random.key(7)
  num_steps = 30
  norms = theory.simulate_hidden_norms(matrices, num_steps, key)
  h = np.zeros((2, 5))
  expected = []
  for t in range(1, num_steps + 1):
    x = np.asarray(jax.random.normal(jax.random.fold_in(key, t), (2, 5), jnp.float64))
    h = np.einsum("bij,bj->bi", matrices, h) + x
    expected.append(np.linalg.norm(h, axis=-1))
  assert norms.shape == (2, num_steps) and norms.dtype == np.float64
  np.testing.assert_allclose(norms, np.array(expected).T, rtol=1e-10)


def test_simulate_hidden_norms_float64_holds_what_float32_overflows():
  doubling = np.stack([2.0 * np.eye(4)])  # ||h_t|| ~ 2^t: 2^200 ~ 1.6e60 > float32's 3.4e38
  norms64 = theory.simulate_hidden_norms(doubling, 200, jax.random.key(0))
  norms32 = theory.simulate_hidden_norms(doubling, 200, jax.random.key(0), dtype=np.float32)
  assert np.all(np.isfinite(norms64)) and 1e55 < norms64[0, -1] < 1e65
  assert not np.isfinite(norms32[0, -1])
  assert not jax.config.jax_enable_x64  # the float64 switch stays inside the call
  with pytest.raises(ValueError, match="float32 or float64"):
    theory.simulate_hidden_norms(doubling, 3, jax.random.key(0), dtype=np.int32)


def test_hidden_state_explodes_for_glorot_only():
  """Must show: n = 256, t = 2048, median ||h_t|| / sqrt(n): Glorot > 1e10, rescaled and Glorot/2 < 10."""
  n, num_steps, n_draws = 256, 2048, 16
  keys = jax.random.split(jax.random.key(0), n_draws)
  medians = {}
  for name in ("glorot", "rescaled_glorot", "glorot_half"):
    init = inits.get(name)
    matrices = np.stack([np.asarray(init(k, (n, n))) for k in keys])
    norms = theory.simulate_hidden_norms(matrices, num_steps, jax.random.key(1))
    medians[name] = float(np.median(norms[:, -1]) / math.sqrt(n))
  assert medians["glorot"] > 1e10, medians
  assert medians["rescaled_glorot"] < 10, medians
  assert medians["glorot_half"] < 10, medians
