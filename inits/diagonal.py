"""Normal-matrix initializers: diag_uniform (uniform on the unit disk), lru_ring (Orvieto et al. 2023), orthogonal.

Every factory returns `init(key, shape, dtype)`, seeded only by `key` (split once per independent draw):
  shape (n,), complex dtype:   n i.i.d. eigenvalues lambda = r e^{i theta} (a diagonal recurrence).
  shape (n, n), real dtype:    a real matrix Q M Q^T with the same law: M holds floor(n/2) conjugate pairs as
                               2x2 rotation-scaling blocks [[r cos t, -r sin t], [r sin t, r cos t]] (eigenvalues
                               r e^{+-it}); odd n adds one real eigenvalue r * sign(cos theta); Q is Haar orthogonal.
  shape (n, n), complex dtype: U diag(lambda) U^H with U Haar unitary.
`orthogonal` is the Haar matrix itself; shape (n,) gives the eigenvalues of a real draw. `inits.ssm` builds the
S4D / HiPPO-N laws on `from_modes`.
"""

import math

import jax
import jax.numpy as jnp

from inits import dense


def haar_orthogonal(key, n, dtype=jnp.float32):
  """A Haar-distributed orthogonal (real dtype) or unitary (complex dtype) (n, n) matrix: QR with phase fix."""
  q, r = jnp.linalg.qr(jax.random.normal(key, (n, n), dtype))
  diagonal = jnp.diagonal(r)
  phases = jnp.where(jnp.abs(diagonal) > 0, diagonal / jnp.abs(diagonal), 1).astype(dtype)
  return q * phases[None, :]


def times_rotation_blocks(basis, radii, phases):
  """basis @ M, M block-diagonal with 2x2 blocks [[r cos t, -r sin t], [r sin t, r cos t]] (eigenvalues r e^{+-it});
  for odd n the last diagonal entry of M is the real eigenvalue r * sign(cos t). Column operations, no scatter.

  Args:
    basis: (n, n) real matrix.
    radii, phases: (ceil(n/2),) arrays, one per block (the last one gives the real eigenvalue for odd n).
  """
  n = basis.shape[-1]
  pairs = n // 2
  cosines, sines = radii[:pairs] * jnp.cos(phases[:pairs]), radii[:pairs] * jnp.sin(phases[:pairs])
  even, odd = basis[:, 0:2 * pairs:2], basis[:, 1:2 * pairs:2]
  columns = jnp.stack([cosines * even + sines * odd, cosines * odd - sines * even], axis=-1).reshape(n, 2 * pairs)
  if n % 2:
    real_eigenvalue = jnp.where(jnp.cos(phases[-1]) >= 0, 1.0, -1.0).astype(radii.dtype) * radii[-1]
    columns = jnp.concatenate([columns, real_eigenvalue * basis[:, -1:]], axis=1)
  return columns


def from_modes(n, wants_eigenvalues, dtype, radii, phases, basis_key):
  """The init's output from eigenvalue moduli and phases: the (n,) eigenvalues r e^{i theta} (complex dtype), a real
  Q M Q^T with M's rotation blocks (real dtype; radii/phases of length ceil(n/2)), or U diag(lambda) U^H."""
  is_complex = jnp.issubdtype(dtype, jnp.complexfloating)
  if not is_complex:
    basis = haar_orthogonal(basis_key, n, dtype)
    return (times_rotation_blocks(basis, radii, phases) @ basis.T).astype(dtype)
  eigenvalues = (radii * jnp.exp(1j * phases)).astype(dtype)
  if wants_eigenvalues:
    return eigenvalues
  basis = haar_orthogonal(basis_key, n, dtype)
  return ((basis * eigenvalues[None, :]) @ basis.conj().T).astype(dtype)


def mode_count(n, wants_eigenvalues, dtype):
  """How many (modulus, phase) modes the output needs: n, or ceil(n/2) conjugate-pair blocks for a real matrix."""
  return n if (wants_eigenvalues or jnp.issubdtype(dtype, jnp.complexfloating)) else (n + 1) // 2


def _eigenvalue_law_init(name, sample_radii, sample_phases):
  """An init from a law of eigenvalue moduli and phases (both i.i.d., independent of each other)."""

  def init(key, shape, dtype=jnp.float32):
    n, wants_eigenvalues = dense.parse_shape(name, shape, dtype)
    radius_key, phase_key, basis_key = jax.random.split(key, 3)
    part_dtype = jnp.finfo(dtype).dtype
    count = mode_count(n, wants_eigenvalues, dtype)
    radii = sample_radii(radius_key, (count,), part_dtype)
    phases = sample_phases(phase_key, (count,), part_dtype)
    return from_modes(n, wants_eigenvalues, dtype, radii, phases, basis_key)

  init.__name__ = name
  return init


def diag_uniform():
  """Eigenvalues uniform on the unit disk: r = sqrt(U1), theta = 2 pi U2, independent (modulus density 2r)."""
  return _eigenvalue_law_init(
      "diag_uniform",
      lambda key, shape, dtype: jnp.sqrt(jax.random.uniform(key, shape, dtype)),
      lambda key, shape, dtype: 2.0 * math.pi * jax.random.uniform(key, shape, dtype))


def lru_ring(r_min=0.4, r_max=0.9, max_phase=math.pi):
  """LRU init: modulus uniform on the ring area r_min <= r <= r_max, phase uniform on [0, max_phase].

  r = sqrt(U (r_max^2 - r_min^2) + r_min^2). Defaults are the authors' code's (0.4, 0.9, pi).
  """
  if not 0.0 <= r_min <= r_max:
    raise ValueError(f"lru_ring: need 0 <= r_min <= r_max, got r_min={r_min!r}, r_max={r_max!r}")
  if not 0.0 < max_phase <= 2.0 * math.pi:
    raise ValueError(f"lru_ring: max_phase must lie in (0, 2 pi], got max_phase={max_phase!r}")

  def sample_radii(key, shape, dtype):
    return jnp.sqrt(jax.random.uniform(key, shape, dtype) * (r_max**2 - r_min**2) + r_min**2)

  return _eigenvalue_law_init(
      "lru_ring", sample_radii, lambda key, shape, dtype: max_phase * jax.random.uniform(key, shape, dtype))


def orthogonal():
  """Haar-random orthogonal matrix (QR of a Gaussian, R's diagonal signs folded into Q): every |lambda| = 1.

  Shape (n, n), real dtype: Q with Q^T Q = I; complex dtype: a Haar unitary. Shape (n,), complex dtype: the
  eigenvalues of a real draw (conjugate pairs on the unit circle), computed on the host like the dense names'.
  """

  def init(key, shape, dtype=jnp.float32):
    n, wants_eigenvalues = dense.parse_shape("orthogonal", shape, dtype)
    if not wants_eigenvalues:
      return haar_orthogonal(key, n, dtype)
    return dense.eigenvalues_on_host(haar_orthogonal(key, n, jnp.finfo(dtype).dtype), dtype)

  init.__name__ = "orthogonal"
  return init
