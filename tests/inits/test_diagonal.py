"""Tests for the normal-matrix initializers diag_uniform, lru_ring and orthogonal: laws by KS tests, matrices by\ntheir spectra."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import inits
from inits import diagonal


def test_diag_uniform_moduli_have_density_2r_and_uniform_phases():
  eigenvalues = np.asarray(inits.get("diag_uniform")(jax.random.key(0), (4000,), jnp.complex64))
  moduli, phases = np.abs(eigenvalues), np.mod(np.angle(eigenvalues), 2 * np.pi)
  assert moduli.max() <= 1.0
  assert stats.kstest(moduli, lambda r: np.clip(r, 0, 1) ** 2).pvalue > 0.01  # CDF r^2 <=> density 2r
  assert stats.kstest(moduli, "uniform").pvalue < 1e-6  # the code's r = U (a spiral) would pass this instead
  assert stats.kstest(phases, stats.uniform(0, 2 * np.pi).cdf).pvalue > 0.01
  assert abs(stats.spearmanr(moduli, phases).statistic) < 0.05  # independent radius and angle


def test_lru_ring_moduli_and_phases_lie_in_their_ranges():
  r_min, r_max, max_phase = 0.5, 0.95, math.pi / 4
  eigenvalues = np.asarray(inits.get("lru_ring", r_min=r_min, r_max=r_max, max_phase=max_phase)(
      jax.random.key(0), (4000,), jnp.complex64))
  moduli, phases = np.abs(eigenvalues), np.angle(eigenvalues)
  assert moduli.min() >= r_min - 1e-6 and moduli.max() <= r_max + 1e-6
  assert phases.min() >= -1e-6 and phases.max() <= max_phase + 1e-6
  ring_cdf = lambda r: np.clip((r**2 - r_min**2) / (r_max**2 - r_min**2), 0, 1)  # uniform on the ring's area
  assert stats.kstest(moduli, ring_cdf).pvalue > 0.01


def test_lru_ring_defaults_are_the_codes():
  eigenvalues = np.asarray(inits.get("lru_ring")(jax.random.key(1), (2000,), jnp.complex64))
  assert 0.4 - 1e-6 <= np.abs(eigenvalues).min() and np.abs(eigenvalues).max() <= 0.9 + 1e-6
  assert np.angle(eigenvalues).min() >= -1e-6 and np.angle(eigenvalues).max() <= math.pi + 1e-6


@pytest.mark.parametrize("params, match", [
    (dict(r_min=0.9, r_max=0.4), "0 <= r_min <= r_max, got r_min=0.9, r_max=0.4"),
    (dict(r_min=-0.1), "r_min=-0.1"),
    (dict(max_phase=0.0), r"max_phase must lie in \(0, 2 pi\], got max_phase=0.0"),
])
def test_lru_ring_rejects_bad_parameters(params, match):
  with pytest.raises(ValueError, match=match):
    inits.get("lru_ring", **params)


@pytest.mark.parametrize("n", [10, 11])
@pytest.mark.parametrize("name", ["diag_uniform", "lru_ring"])
def test_real_matrix_is_normal_with_conjugate_pairs_from_the_law(name, n):
  matrix = np.asarray(inits.get(name)(jax.random.key(3), (n, n)), np.float64)
  assert matrix.dtype == np.float64 and np.isrealobj(matrix)
  np.testing.assert_allclose(matrix @ matrix.T, matrix.T @ matrix, atol=1e-5)  # Q M Q^T with M normal
  eigenvalues = np.linalg.eigvals(matrix)
  np.testing.assert_allclose(np.sort_complex(eigenvalues), np.sort_complex(eigenvalues.conj()), atol=1e-5)
  moduli = np.abs(eigenvalues)
  if name == "diag_uniform":
    assert moduli.max() <= 1 + 1e-5
  else:
    assert moduli.min() >= 0.4 - 1e-5 and moduli.max() <= 0.9 + 1e-5
  assert np.sum(np.abs(eigenvalues.imag) < 1e-6) == n % 2  # one real eigenvalue for odd n (generic draw)


def test_real_matrix_eigenvalues_are_the_drawn_pairs():
  n, key = 8, jax.random.key(4)
  radius_key, phase_key, _ = jax.random.split(key, 3)
  radii = np.sqrt(np.asarray(jax.random.uniform(radius_key, (n // 2,))))
  phases = 2 * np.pi * np.asarray(jax.random.uniform(phase_key, (n // 2,)))
  expected = np.concatenate([radii * np.exp(1j * phases), radii * np.exp(-1j * phases)])
  matrix = np.asarray(inits.get("diag_uniform")(key, (n, n)), np.float64)
  np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(matrix)), np.sort_complex(expected), atol=1e-5)


@pytest.mark.parametrize("name", ["diag_uniform", "lru_ring"])
def test_complex_matrix_has_the_vector_draw_as_eigenvalues(name):
  init, key, n = inits.get(name), jax.random.key(5), 12
  eigenvalues = np.asarray(init(key, (n,), jnp.complex64))
  matrix = np.asarray(init(key, (n, n), jnp.complex64), np.complex128)
  np.testing.assert_allclose(matrix @ matrix.conj().T, matrix.conj().T @ matrix, atol=1e-5)
  np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(matrix)), np.sort_complex(eigenvalues), atol=1e-5)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.complex64])
def test_haar_basis_is_orthogonal_or_unitary(dtype):
  basis = np.asarray(diagonal.haar_orthogonal(jax.random.key(0), 16, dtype), np.complex128)
  np.testing.assert_allclose(basis.conj().T @ basis, np.eye(16), atol=1e-5)
  assert (np.iscomplexobj(np.asarray(diagonal.haar_orthogonal(jax.random.key(0), 4, dtype)))
          == (dtype == jnp.complex64))


@pytest.mark.parametrize("n", [1, 7, 64])
def test_orthogonal_is_orthogonal_with_unit_modulus_eigenvalues(n):
  init = inits.get("orthogonal")
  matrix = np.asarray(init(jax.random.key(n), (n, n)), np.float64)
  np.testing.assert_allclose(matrix.T @ matrix, np.eye(n), atol=2e-6)
  np.testing.assert_allclose(np.abs(np.linalg.eigvals(matrix)), 1.0, atol=2e-6)
  eigenvalues = np.asarray(init(jax.random.key(n), (n,), jnp.complex64))
  np.testing.assert_allclose(np.abs(eigenvalues), 1.0, atol=2e-6)
  np.testing.assert_allclose(np.sort_complex(eigenvalues), np.sort_complex(np.linalg.eigvals(matrix)), atol=1e-5)
  unitary = np.asarray(init(jax.random.key(n), (n, n), jnp.complex64), np.complex128)
  np.testing.assert_allclose(unitary.conj().T @ unitary, np.eye(n), atol=2e-6)


def test_orthogonal_has_haar_moments():
  # Haar O(n): E tr Q = 0 and E (tr Q)^2 = 1 (Diaconis-Shahshahani); QR without R's signs has Q_00 < 0 always.
  keys = jax.random.split(jax.random.key(0), 400)
  draws = np.asarray(jax.vmap(lambda k: inits.get("orthogonal")(k, (8, 8)))(keys), np.float64)
  traces = np.trace(draws, axis1=1, axis2=2)
  assert abs(traces.mean()) < 4 / np.sqrt(400) and traces.var() == pytest.approx(1.0, abs=0.3)
  corner = draws[:, 0, 0]
  assert abs(corner.mean()) < 4 / np.sqrt(8 * 400) and np.mean(corner ** 2) * 8 == pytest.approx(1.0, abs=0.25)
