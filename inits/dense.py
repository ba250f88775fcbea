"""Dense Glorot-family initializers for an (n, n) recurrent matrix, or the eigenvalues of one draw (shape (n,)).

Every factory returns `init(key, shape, dtype=jnp.float32)`, seeded only by `key`:
  shape (n, n), real dtype:    A = scale * G, G_ij ~ N(0, 1/n) (Glorot for a square matrix: 2/(fan_in+fan_out)).
  shape (n, n), complex dtype: complex Ginibre, E|G_ij|^2 = 1/n (real and imaginary parts N(0, 1/2n)).
  shape (n,), complex dtype:   the eigenvalues of an (n, n) REAL draw (conjugate pairs), for diagonal recurrences;
                               `calibrated_glorot(field="complex")` takes them from a complex draw instead.
The eigenvalues are computed on the host by numpy in float64 through `jax.pure_callback`, so the init also runs
under `jax.jit` / `nnx.eval_shape` and on a GPU (jax's own eig is CPU-only). Their order is LAPACK's.
The same key gives the same G for every dense name, so rescaled_glorot(key) = glorot(key) / c_n exactly;
spectral_glorot scales each draw by its own radius instead: radius * glorot(key) / rho(glorot(key)).
"""

import math

import jax
import jax.numpy as jnp

from inits import calibration
from inits import theory

GLOROT_HALF_OF = ("variance", "std")
TRUNCATION_SIGMAS = 2.0  # Haiku's TruncatedNormal: N(0, 1/n) cut at +-2 sigma, not re-normalised


def _is_complex(dtype):
  return jnp.issubdtype(dtype, jnp.complexfloating)


def parse_shape(name, shape, dtype):
  """Returns (n, wants_eigenvalues) for shape (n, n) or (n,); raises ValueError for anything else."""
  shape = tuple(int(size) for size in shape)
  if len(shape) == 2 and shape[0] == shape[1] and shape[0] >= 1:
    return shape[0], False
  if len(shape) == 1 and shape[0] >= 1:
    if not _is_complex(dtype):
      raise ValueError(
          f"{name}: shape (n,) asks for the eigenvalues of a draw, which are complex; got dtype "
          f"{jnp.dtype(dtype).name}: pass a complex dtype (jnp.complex64), or shape (n, n) for a real matrix")
    return shape[0], True
  raise ValueError(f"{name}: shape must be (n, n) (a recurrent matrix) or (n,) (its eigenvalues), got {shape}")


def eigenvalues_on_host(matrix, dtype):
  """Eigenvalues of `matrix` (..., n, n) as `dtype` (..., n), computed by numpy on the host via pure_callback."""
  out_dtype = jax.dtypes.canonicalize_dtype(dtype)
  result = jax.ShapeDtypeStruct(matrix.shape[:-1], out_dtype)
  return jax.pure_callback(lambda m: theory.eigvals_host(m).astype(out_dtype), result, matrix,
                           vmap_method="expand_dims")


def _real_dtype_of(dtype):
  return jnp.finfo(dtype).dtype  # float32 for complex64, the dtype itself for a real dtype


def _truncated_ginibre(key, n, dtype):
  """N(0, 1/n) entries cut at +-2 sigma (std ~0.88 / sqrt n); complex: both parts N(0, 1/2n) cut at +-2 sigma."""
  if not _is_complex(dtype):
    return jax.random.truncated_normal(key, -TRUNCATION_SIGMAS, TRUNCATION_SIGMAS, (n, n), dtype) / math.sqrt(n)
  part_dtype = _real_dtype_of(dtype)
  real_key, imag_key = jax.random.split(key)
  parts = [jax.random.truncated_normal(k, -TRUNCATION_SIGMAS, TRUNCATION_SIGMAS, (n, n), part_dtype)
           for k in (real_key, imag_key)]
  return (parts[0] + 1j * parts[1]).astype(dtype) / math.sqrt(2 * n)


def _scaled_init(name, scale_of_n, sample=theory.ginibre, eig_field="real", check_dtype=None):
  """An init drawing scale_of_n(n) * sample(key, n, dtype); shape (n,) returns the eigenvalues of the draw."""

  def init(key, shape, dtype=jnp.float32):
    n, wants_eigenvalues = parse_shape(name, shape, dtype)
    if check_dtype is not None:
      check_dtype(dtype, wants_eigenvalues)
    scale = scale_of_n(n)
    if not wants_eigenvalues:
      return (scale * sample(key, n, dtype)).astype(dtype)
    draw_dtype = dtype if eig_field == "complex" else _real_dtype_of(dtype)
    return eigenvalues_on_host(scale * sample(key, n, draw_dtype), dtype)

  init.__name__ = name
  return init


def glorot():
  """Glorot for a square matrix: A_ij ~ N(0, 1/n)."""
  return _scaled_init("glorot", lambda n: 1.0)


def glorot_half(half_of="variance"):
  """Glorot/2. half_of="variance": N(0, 1/(2n)), eigenvalues / sqrt 2 (the authors' code, default);
  half_of="std": N(0, 1/(4n)), eigenvalues / 2 (the rebuttal's reading)."""
  if half_of not in GLOROT_HALF_OF:
    raise ValueError(f"glorot_half: unknown half_of={half_of!r}; valid: {', '.join(map(repr, GLOROT_HALF_OF))}")
  scale = 1.0 / math.sqrt(2.0) if half_of == "variance" else 0.5
  return _scaled_init("glorot_half", lambda n: scale)


def rescaled_glorot(k=1.0, delta=None):
  """The paper's rescaled Glorot: A = G / c_n.

  Args:
    k: Gumbel standard deviations above the Gumbel mean in c_n (the paper's k = 1).
    delta: or a target probability of a spectral radius above 1 (Gumbel critical value q = -log(-log(1-delta))).
      Give k or delta, not both.

  The init raises ValueError below `theory.rescaled_glorot_min_width()` (164), where gamma_n <= 0 (see
  `theory.check_rescalable`); `calibrated_glorot` works at any n.
  """
  theory.gumbel_q(k, delta)  # validates k / delta now rather than at the first draw
  return _scaled_init("rescaled_glorot", lambda n: 1.0 / theory.c_n(n, k=k, delta=delta))


def truncated_glorot():
  """Haiku's default: N(0, 1/n) truncated at +-2 sigma without re-normalising (std ~0.88 / sqrt n)."""
  return _scaled_init("truncated_glorot", lambda n: 1.0, sample=_truncated_ginibre)


def calibrated_glorot(delta=0.05, field="real", n_draws=1000, seed=0, cache_dir=None):
  """Glorot scaled by s with P(rho(s G) > 1) = delta at any n, by Monte Carlo (see `inits.calibration`).

  Args:
    delta: the target probability of a spectral radius above 1.
    field: "real" (calibrated on real Glorot draws) or "complex" (complex Ginibre). A matrix draw (n, n) must
      use a dtype of this field; shape (n,) returns the eigenvalues of a draw in this field.
    n_draws: Monte Carlo draws of the calibration (its fixed seed is `seed`; the init's key draws the matrix).
    seed: the calibration's seed.
    cache_dir: where the scale is cached; default $GLOROT_LRA_CACHE or ~/.cache/glorot_lra.
  """
  calibration.check_params(None, delta, field, n_draws)

  def check_dtype(dtype, wants_eigenvalues):
    if wants_eigenvalues or _is_complex(dtype) == (field == "complex"):
      return
    if field == "complex":  # the dense recurrence: its matrix is real, so a complex calibration cannot apply
      raise ValueError(
          f"calibrated_glorot: field='complex' calibrates complex matrices, but a real {jnp.dtype(dtype).name} "
          "matrix was asked for (the dense recurrence); use field='real' for a real matrix, or field='complex' "
          "with a complex recurrence (diag, lru), whose eigenvalues it draws from a complex matrix")
    raise ValueError(
        f"calibrated_glorot: field='real' calibrates real matrices but dtype is {jnp.dtype(dtype).name}; "
        "use field='complex' or a real dtype")

  return _scaled_init(
      "calibrated_glorot",
      lambda n: calibration.calibrated_scale(n, delta, field, n_draws, seed, cache_dir),
      eig_field=field, check_dtype=check_dtype)


def spectral_glorot(radius=0.99):
  """Glorot scaled so that this draw's spectral radius is exactly `radius` (the echo-state-network practice).

  A = radius * G / rho(G), rho(G) = max |eig(G)| of the same draw, computed on the host in float64; the same key
  gives the same G as `glorot`. A complex dtype of shape (n, n) scales a complex Ginibre draw; shape (n,) returns
  the eigenvalues of a real draw scaled the same way.
  """
  if not (isinstance(radius, (int, float)) and math.isfinite(radius) and radius > 0):
    raise ValueError(f"spectral_glorot: radius must be a finite number > 0, got radius={radius!r}")

  def init(key, shape, dtype=jnp.float32):
    n, wants_eigenvalues = parse_shape("spectral_glorot", shape, dtype)
    complex_dtype = dtype if _is_complex(dtype) else jnp.complex64
    draw = theory.ginibre(key, n, _real_dtype_of(dtype) if wants_eigenvalues else dtype)
    eigenvalues = eigenvalues_on_host(draw, complex_dtype)
    scale = radius / jnp.max(jnp.abs(eigenvalues))
    if wants_eigenvalues:
      return (scale * eigenvalues).astype(dtype)
    return (scale * draw).astype(dtype)

  init.__name__ = "spectral_glorot"
  return init
