"""State-space-model eigenvalue initializers: S4D-Lin, S4D-Inv (Gu et al. 2022) and HiPPO-N (S5), ZOH-discretised.

Continuous-time eigenvalues a_k, k = 0..n-1:
  s4d_lin:  a_k = -1/2 + i pi k
  s4d_inv:  a_k = -1/2 + i (n / pi) (n / (2k + 1) - 1)
  hippo_n:  the eigenvalues -1/2 + i omega_k of the normal part of HiPPO-LegS (S5's HiPPO-N), omega descending,
            so the first ceil(n/2) are the non-negative half of the conjugate pairs.
Each draw takes ONE step Delta, log-uniform in [dt_min, dt_max] (one SSM, as in S4D), and discretises by zero-order
hold: lambda_k = exp(Delta a_k), so every |lambda_k| = exp(-Delta / 2). Shapes as in `inits.diagonal`: (n,)
complex gives lambda_0..lambda_{n-1}; a real (n, n) matrix has the conjugate pairs lambda_k, conj(lambda_k) of the
first ceil(n/2) modes (S4D's conjugate-symmetric half; odd n: the last of them gives the real eigenvalue
|lambda| sign(cos(angle))); a complex (n, n) matrix is U diag(lambda) U^H.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from inits import dense
from inits import diagonal

REAL_PART = -0.5  # Re(a_k) of every law here: S4D's -1/2, and HiPPO-N's constant diagonal


def s4d_lin_frequencies(n):
  """omega_k = Im(a_k) = pi k of S4D-Lin, k = 0..n-1 (float64)."""
  return math.pi * np.arange(n, dtype=np.float64)


def s4d_inv_frequencies(n):
  """omega_k = Im(a_k) = (n / pi) (n / (2k + 1) - 1) of S4D-Inv, k = 0..n-1 (float64)."""
  k = np.arange(n, dtype=np.float64)
  return (n / math.pi) * (n / (2.0 * k + 1.0) - 1.0)


def hippo_normal_matrix(n):
  """The normal part S of HiPPO-LegS (S5's HiPPO-N), (n, n) float64: S = A_LegS + P P^T, P_j = sqrt(j + 1/2).

  A_LegS[j, k] = -sqrt(2j+1) sqrt(2k+1) below the diagonal, -(j+1) on it, 0 above; S is -1/2 I plus a
  skew-symmetric matrix, hence normal with eigenvalues -1/2 + i omega.
  """
  index = np.arange(n, dtype=np.float64)
  p = np.sqrt(2.0 * index + 1.0)
  legs = -(np.tril(np.outer(p, p)) - np.diag(index))
  half = np.sqrt(index + 0.5)
  return legs + np.outer(half, half)


@functools.lru_cache(maxsize=32)
def _hippo_n_frequencies(n):
  skew = hippo_normal_matrix(n) - REAL_PART * np.eye(n)
  omegas = np.sort(np.linalg.eigvalsh(-1j * skew))[::-1]  # -iK is Hermitian for a real skew-symmetric K
  omegas.setflags(write=False)
  return omegas


def hippo_n_frequencies(n):
  """omega_k of HiPPO-N (eigenvalues -1/2 + i omega_k of `hippo_normal_matrix(n)`), descending (float64)."""
  return np.array(_hippo_n_frequencies(int(n)))


FREQUENCIES = {"s4d_lin": s4d_lin_frequencies, "s4d_inv": s4d_inv_frequencies, "hippo_n": hippo_n_frequencies}


def draw_step(key, dt_min, dt_max, dtype=jnp.float32):
  """Delta = exp(U(log dt_min, log dt_max)): the draw's zero-order-hold step."""
  return jnp.exp(jax.random.uniform(key, (), dtype, math.log(dt_min), math.log(dt_max)))


def _zoh_init(name, dt_min, dt_max):
  if not (0.0 < dt_min <= dt_max and math.isfinite(dt_max)):
    raise ValueError(f"{name}: need 0 < dt_min <= dt_max, got dt_min={dt_min!r}, dt_max={dt_max!r}")
  frequencies = FREQUENCIES[name]

  def init(key, shape, dtype=jnp.float32):
    n, wants_eigenvalues = dense.parse_shape(name, shape, dtype)
    step_key, basis_key = jax.random.split(key)
    part_dtype = jnp.finfo(dtype).dtype
    count = diagonal.mode_count(n, wants_eigenvalues, dtype)
    step = draw_step(step_key, dt_min, dt_max, part_dtype)
    omegas = jnp.asarray(frequencies(n)[:count], part_dtype)
    radii = jnp.full((count,), jnp.exp(REAL_PART * step), part_dtype)
    return diagonal.from_modes(n, wants_eigenvalues, dtype, radii, step * omegas, basis_key)

  init.__name__ = name
  return init


def s4d_lin(dt_min=0.001, dt_max=0.1):
  """S4D-Lin: lambda_k = exp(Delta (-1/2 + i pi k)), Delta log-uniform in [dt_min, dt_max] (one per draw)."""
  return _zoh_init("s4d_lin", dt_min, dt_max)


def s4d_inv(dt_min=0.001, dt_max=0.1):
  """S4D-Inv: lambda_k = exp(Delta (-1/2 + i (n/pi)(n/(2k+1) - 1))), Delta log-uniform in [dt_min, dt_max]."""
  return _zoh_init("s4d_inv", dt_min, dt_max)


def hippo_n(dt_min=0.001, dt_max=0.1):
  """HiPPO-N (S5): lambda_k = exp(Delta (-1/2 + i omega_k)), omega_k from the normal part of HiPPO-LegS."""
  return _zoh_init("hippo_n", dt_min, dt_max)
