"""Tests for the S4D-Lin, S4D-Inv and HiPPO-N initializers: moduli and phases against their formulas."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import inits
from inits import ssm


def naive_hippo_n_eigenvalues(n):
  """S5's make_DPLR_HiPPO written out: HiPPO-LegS, plus P P^T, eigenvalues (np.linalg.eigvals, not eigh)."""
  legs = np.zeros((n, n))
  for j in range(n):
    for k in range(n):
      if j > k:
        legs[j, k] = -math.sqrt(2 * j + 1) * math.sqrt(2 * k + 1)
      elif j == k:
        legs[j, k] = -(j + 1)
  p = np.sqrt(np.arange(n) + 0.5)
  return np.linalg.eigvals(legs + np.outer(p, p))


def expected_continuous(name, n):
  k = np.arange(n)
  if name == "s4d_lin":
    return -0.5 + 1j * math.pi * k
  if name == "s4d_inv":
    return -0.5 + 1j * (n / math.pi) * (n / (2 * k + 1) - 1)
  return -0.5 + 1j * np.sort(naive_hippo_n_eigenvalues(n).imag)[::-1]


def wrapped(phases):
  return np.angle(np.exp(1j * phases))


@pytest.mark.parametrize("name", ["s4d_lin", "s4d_inv", "hippo_n"])
def test_eigenvalues_are_the_zoh_of_the_formula(name):
  n = 32
  eigenvalues = np.asarray(inits.get(name)(jax.random.key(3), (n,), jnp.complex64), np.complex128)
  moduli = np.abs(eigenvalues)
  np.testing.assert_allclose(moduli, moduli[0], rtol=1e-6)  # one step Delta for the draw
  step = -2.0 * math.log(moduli[0])
  assert 0.001 * (1 - 1e-5) <= step <= 0.1 * (1 + 1e-5)
  expected = np.exp(step * expected_continuous(name, n))
  np.testing.assert_allclose(eigenvalues.real, expected.real, atol=1e-4)
  np.testing.assert_allclose(eigenvalues.imag, expected.imag, atol=1e-4)
  np.testing.assert_allclose(wrapped(np.angle(eigenvalues) - step * expected_continuous(name, n).imag), 0,
                             atol=3e-4 * max(1.0, step * np.abs(expected_continuous(name, n).imag).max()))


def test_hippo_n_normal_part_matches_s5_and_is_normal():
  n = 12
  matrix = ssm.hippo_normal_matrix(n)
  np.testing.assert_allclose(matrix @ matrix.T, matrix.T @ matrix, atol=1e-10)
  np.testing.assert_allclose(np.diagonal(matrix), -0.5)
  naive = naive_hippo_n_eigenvalues(n)
  np.testing.assert_allclose(np.sort(ssm.hippo_n_frequencies(n)), np.sort(naive.imag), atol=1e-9)
  np.testing.assert_allclose(naive.real, -0.5, atol=1e-9)


def test_step_is_log_uniform_over_keys():
  keys = jax.random.split(jax.random.key(0), 400)
  init = inits.get("s4d_lin", dt_min=1e-3, dt_max=1e-1)
  moduli = np.abs(np.asarray(jax.vmap(lambda k: init(k, (2,), jnp.complex64))(keys), np.complex128)[:, 0])
  log_steps = np.log(-2 * np.log(moduli))
  assert stats.kstest(log_steps, stats.uniform(math.log(1e-3), math.log(100)).cdf).pvalue > 0.01


@pytest.mark.parametrize("n", [10, 11])
@pytest.mark.parametrize("name", ["s4d_lin", "s4d_inv", "hippo_n"])
def test_real_matrix_has_the_conjugate_pairs_of_the_first_modes(name, n):
  key = jax.random.key(7)
  matrix = np.asarray(inits.get(name)(key, (n, n)), np.float64)
  np.testing.assert_allclose(matrix @ matrix.T, matrix.T @ matrix, atol=1e-5)
  modes = np.asarray(inits.get(name)(key, (n,), jnp.complex64), np.complex128)  # same key: same Delta
  pairs = modes[:n // 2]
  expected = np.concatenate([pairs, pairs.conj()])
  if n % 2:
    last = modes[n // 2]
    expected = np.append(expected, abs(last) * np.sign(math.cos(np.angle(last))))
  np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(matrix)), np.sort_complex(expected), atol=1e-5)


def test_hippo_n_real_matrix_has_every_hippo_eigenvalue():
  n, key = 12, jax.random.key(2)
  matrix = np.asarray(inits.get("hippo_n")(key, (n, n)), np.float64)
  modes = np.asarray(inits.get("hippo_n")(key, (n,), jnp.complex64), np.complex128)
  np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(matrix)), np.sort_complex(modes), atol=1e-5)


def test_complex_matrix_has_the_modes_as_eigenvalues():
  n, key = 9, jax.random.key(5)
  matrix = np.asarray(inits.get("s4d_inv")(key, (n, n), jnp.complex64), np.complex128)
  modes = np.asarray(inits.get("s4d_inv")(key, (n,), jnp.complex64), np.complex128)
  np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(matrix)), np.sort_complex(modes), atol=1e-4)


@pytest.mark.parametrize("params", [dict(dt_min=0.0), dict(dt_min=0.2, dt_max=0.1), dict(dt_max=float("inf"))])
def test_bad_steps_raise_naming_the_values(params):
  with pytest.raises(ValueError, match=r"^s4d_lin: need 0 < dt_min <= dt_max, got dt_min="):
    inits.get("s4d_lin", **params)
