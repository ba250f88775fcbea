"""Spectral theory of Glorot matrices: gamma_n, c_n, the Gumbel law of the spectral radius, Monte Carlo, norms.

Notation: n is the hidden width (`d_hidden`), A an (n, n) recurrent matrix, G a Glorot draw (A_ij ~ N(0, 1/n),
or complex with E|A_ij|^2 = 1/n). Rider (2003), for complex Ginibre matrices at Glorot scale:

    rho(G) ~= 1 + sqrt(gamma_n / 4n) + X / sqrt(4 n gamma_n),   gamma_n = log(n / (2 pi (log n)^2)),

with X standard Gumbel (CDF exp(-e^{-x}), mean gamma_E, sd pi/sqrt 6). For real Ginibre matrices
(Rider & Sinclair 2014) X has CDF exp(-e^{-x}/2), i.e. X = Gumbel - log 2: same sd, mean lower by log 2.
The rescaling constant puts the spectral radius at a Gumbel critical value q:

    c_n = 1 + sqrt(gamma_n / 4n) + q / sqrt(4 n gamma_n),   q = gamma_E + k pi/sqrt 6   or   q = -log(-log(1 - delta)).

Eigenvalues are computed on the host with numpy in float64 (jax.numpy.linalg.eig is CPU-only in JAX).
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy.sparse import linalg as sparse_linalg

EULER_GAMMA = float(np.euler_gamma)  # gamma_E = 0.5772156649...
GUMBEL_SD = math.pi / math.sqrt(6.0)  # sd of a standard Gumbel variable
FIELDS = ("complex", "real")  # complex: Rider (2003); real: Rider & Sinclair (2014)
SMALL_MATRIX_FOR_DENSE_SVD = 64  # power_norms: full SVD up to this n, ARPACK's largest singular value above


def gamma_n(n):
  """gamma_n = log(n / (2 pi (log n)^2)), natural logs; negative for 2 <= n <= 163.

  Args:
    n: width (int or array of ints), n >= 2.

  Returns:
    float (or float64 array) gamma_n.
  """
  n_array = np.asarray(n, dtype=np.float64)
  if np.any(n_array < 2):
    raise ValueError(f"gamma_n: n must be >= 2 (log n = 0 at n = 1), got n={n!r}")
  value = np.log(n_array / (2.0 * np.pi * np.log(n_array) ** 2))
  return float(value) if value.ndim == 0 else value


@functools.cache
def rescaled_glorot_min_width():
  """The smallest width n with gamma_n > 0 (164): rescaled Glorot's c_n and the Gumbel law of rho need it."""
  n = 2
  while gamma_n(n) <= 0.0:
    n += 1
  return n


def check_rescalable(n, what="c_n"):
  """Raises a one-line ValueError, naming calibrated_glorot as the fix, if rescaled Glorot has no c_n at width n.

  Args:
    n: width (int or array of ints).
    what: the quantity that needs gamma_n > 0, named in the message.
  """
  smallest = rescaled_glorot_min_width()
  if np.any(np.asarray(n) < smallest):
    raise ValueError(
        f"{what}: gamma_n = log(n / (2 pi (log n)^2)) <= 0 for n <= {smallest - 1} (got n={n!r}), so the Gumbel "
        "rescaling has no value there; use the Monte Carlo scale of inits 'calibrated_glorot' instead, which works "
        "at any n")


def gumbel_q(k=1.0, delta=None):
  """The Gumbel critical value q in c_n.

  Args:
    k: Gumbel standard deviations above the Gumbel mean: q = gamma_E + k pi/sqrt 6 (the paper's k = 1).
    delta: if given, a target probability of a spectral radius above 1 instead: q = -log(-log(1 - delta)).
      Give either k or delta; delta with k != 1 raises.

  Returns:
    q as a float.
  """
  if delta is None:
    return EULER_GAMMA + float(k) * GUMBEL_SD
  if k != 1.0:
    raise ValueError(f"give either k or delta, not both (got k={k!r}, delta={delta!r})")
  if not 0.0 < delta < 1.0:
    raise ValueError(f"delta must lie in (0, 1), got delta={delta!r}")
  return -math.log(-math.log1p(-delta))


def c_n(n, k=1.0, delta=None):
  """The rescaling constant: rescaled Glorot is A_glorot / c_n.

  c_n = 1 + sqrt(gamma_n / 4n) + q / sqrt(4 n gamma_n), q from `gumbel_q(k, delta)`.
  Reference values (k = 1): c_192 = 1.22332, c_256 = 1.12613, c_384 = 1.08308.

  Raises:
    ValueError: below `rescaled_glorot_min_width()` (n <= 163), where gamma_n <= 0 and the formula has no value.
  """
  gamma = gamma_n(n)
  check_rescalable(n)
  q = gumbel_q(k, delta)
  n_array = np.asarray(n, dtype=np.float64)
  value = 1.0 + np.sqrt(gamma / (4.0 * n_array)) + q / np.sqrt(4.0 * n_array * gamma)
  return float(value) if np.ndim(value) == 0 else value


def _check_field(field):
  if field not in FIELDS:
    raise ValueError(f"unknown field {field!r}; valid: {', '.join(FIELDS)}")


def gumbel_loc_scale(n, scale=1.0, field="complex"):
  """Location and scale of the Gumbel law approximating rho(scale * G).

  rho(scale * G) ~= loc + beta * Gumbel(0, 1), so `scipy.stats.gumbel_r(loc, beta)` is the approximate law.

  Args:
    n: width, n >= rescaled_glorot_min_width() (gamma_n > 0).
    scale: the multiple of a Glorot matrix (1 / c_n for rescaled Glorot, 1/sqrt 2 for Glorot/2).
    field: "complex" (Rider 2003) or "real" (Rider & Sinclair 2014: location lower by beta log 2).

  Returns:
    (loc, beta) floats.
  """
  _check_field(field)
  gamma = gamma_n(n)
  if n < rescaled_glorot_min_width():
    raise ValueError(f"the Gumbel law of rho needs gamma_n > 0, i.e. n >= {rescaled_glorot_min_width()}; got n={n!r}")
  beta = 1.0 / math.sqrt(4.0 * n * gamma)
  loc = 1.0 + math.sqrt(gamma / (4.0 * n))
  if field == "real":
    loc -= beta * math.log(2.0)
  return scale * loc, scale * beta


def spectral_radius_mean(n, scale=1.0, field="complex"):
  """Gumbel approximation of E[rho(scale * G)] = loc + beta gamma_E."""
  loc, beta = gumbel_loc_scale(n, scale, field)
  return loc + beta * EULER_GAMMA


def spectral_radius_sd(n, scale=1.0, field="complex"):
  """Gumbel approximation of sd[rho(scale * G)] = beta pi/sqrt 6."""
  _, beta = gumbel_loc_scale(n, scale, field)
  return beta * GUMBEL_SD


def spectral_radius_cdf(x, n, scale=1.0, field="complex"):
  """Gumbel approximation of P(rho(scale * G) <= x) = exp(-exp(-(x - loc) / beta)); x may be an array."""
  loc, beta = gumbel_loc_scale(n, scale, field)
  return np.exp(-np.exp(-(np.asarray(x, dtype=np.float64) - loc) / beta))


def spectral_radius_quantile(p, n, scale=1.0, field="complex"):
  """Gumbel approximation of the p-quantile of rho(scale * G): loc - beta log(-log p); p in (0, 1)."""
  p_array = np.asarray(p, dtype=np.float64)
  if np.any((p_array <= 0.0) | (p_array >= 1.0)):
    raise ValueError(f"quantile level p must lie in (0, 1), got p={p!r}")
  loc, beta = gumbel_loc_scale(n, scale, field)
  return loc - beta * np.log(-np.log(p_array))


def gumbel_prob_above_one(n, scale=1.0, field="complex"):
  """Gumbel prediction of P(rho(scale * G) > 1); for scale = 1 / c_n(n, delta=d), field complex, this is d."""
  return float(1.0 - spectral_radius_cdf(1.0, n, scale, field))


def ginibre(key, n, dtype=jnp.float32, batch_shape=()):
  """A Glorot (Ginibre) draw: (*batch_shape, n, n), A_ij ~ N(0, 1/n), or complex with E|A_ij|^2 = 1/n.

  For a complex dtype, real and imaginary parts are independent N(0, 1/(2n)) (`jax.random.normal`'s convention).
  """
  return jax.random.normal(key, (*batch_shape, n, n), dtype) * (1.0 / math.sqrt(n))


def eigvals_host(matrices):
  """Eigenvalues of (..., n, n) matrices (numpy or jax), computed on the host by numpy in float64/complex128."""
  matrices = np.asarray(matrices)
  work_dtype = np.complex128 if np.iscomplexobj(matrices) else np.float64
  return np.linalg.eigvals(matrices.astype(work_dtype, copy=False))


def spectral_radius(matrices):
  """Spectral radius max_i |lambda_i| of (..., n, n) matrices (numpy or jax); returns a float64 array (...)."""
  matrices = np.asarray(matrices)
  if matrices.ndim < 2 or matrices.shape[-1] != matrices.shape[-2]:
    raise ValueError(f"spectral_radius expects square matrices (..., n, n), got shape {matrices.shape}")
  return np.abs(eigvals_host(matrices)).max(axis=-1)


def monte_carlo_eigvals(init, n, n_draws, key, *, dtype=jnp.float32, chunk_size=32):
  """Eigenvalues of `n_draws` independent (n, n) draws of `init`, as complex128 (n_draws, n).

  Args:
    init: an initializer `init(key, shape, dtype)` (e.g. `inits.get("glorot")`).
    n: width.
    n_draws: number of matrices.
    key: a JAX key; draw i uses `jax.random.split(key, n_draws)[i]`, so chunking does not change the result.
    dtype: the draw's dtype (float32 for real matrices, complex64 for complex ones).
    chunk_size: matrices drawn (vmapped) and decomposed at once.
  """
  keys = jax.random.split(key, n_draws)
  chunk_size = min(chunk_size, n_draws)
  padding = -n_draws % chunk_size  # every chunk has one shape: one compilation
  keys = jnp.concatenate([keys, jnp.repeat(keys[-1:], padding, axis=0)]) if padding else keys
  draw = jax.jit(jax.vmap(lambda k: init(k, (n, n), dtype)))
  chunks = [eigvals_host(draw(keys[start:start + chunk_size])) for start in range(0, n_draws, chunk_size)]
  return np.concatenate(chunks, axis=0)[:n_draws]


def monte_carlo_spectral_radii(init, n, n_draws, key, *, dtype=jnp.float32, chunk_size=32):
  """Spectral radii of `n_draws` independent (n, n) draws of `init` (float64 (n_draws,)); see `monte_carlo_eigvals`."""
  return np.abs(monte_carlo_eigvals(init, n, n_draws, key, dtype=dtype, chunk_size=chunk_size)).max(axis=-1)


def exceedance_probability(radii, threshold=1.0):
  """Monte Carlo P(rho > threshold) and its standard error sqrt(p (1 - p) / N).

  Returns:
    (p, standard_error) floats.
  """
  radii = np.asarray(radii, dtype=np.float64).ravel()
  if radii.size == 0:
    raise ValueError("exceedance_probability needs at least one radius, got an empty array")
  p = float(np.mean(radii > threshold))
  return p, math.sqrt(p * (1.0 - p) / radii.size)


def power_norms(matrices, ts, ord=2):
  """Operator norms ||A^t|| for each t in `ts`, in float64 on the host (ord=2 above n = 64: ARPACK, see below).

  A^t is built from A, A^2, A^4, ... (binary powers) in increasing t, so a grid of T-range costs O(log T)
  matrix products per grid point at most.

  Args:
    matrices: (B, n, n) or (n, n) matrices (numpy or jax).
    ts: increasing non-negative ints.
    ord: matrix norm for `numpy.linalg.norm` (2: the spectral norm; "fro": Frobenius).

  Returns:
    float64 array (B, len(ts)) (or (len(ts),) for a single matrix).
  """
  matrices = np.asarray(matrices)
  single = matrices.ndim == 2
  work_dtype = np.complex128 if np.iscomplexobj(matrices) else np.float64
  matrices = (matrices[None] if single else matrices).astype(work_dtype)
  if matrices.ndim != 3 or matrices.shape[-1] != matrices.shape[-2]:
    raise ValueError(f"power_norms expects (B, n, n) or (n, n) matrices, got shape {np.shape(matrices)}")
  ts = [int(t) for t in ts]
  if any(t < 0 for t in ts) or any(b <= a for a, b in zip(ts, ts[1:])):
    raise ValueError(f"power_norms: ts must be strictly increasing non-negative ints, got {ts}")
  n = matrices.shape[-1]
  binary_powers = [matrices]  # binary_powers[j] = A^(2^j)
  current = np.broadcast_to(np.eye(n, dtype=work_dtype), matrices.shape).copy()  # A^previous_t
  previous_t = 0
  norms = np.empty((matrices.shape[0], len(ts)))
  for column, t in enumerate(ts):
    step, bit = t - previous_t, 0
    while step:
      while len(binary_powers) <= bit:
        binary_powers.append(binary_powers[-1] @ binary_powers[-1])
      if step & 1:
        current = current @ binary_powers[bit]
      step, bit = step >> 1, bit + 1
    previous_t = t
    norms[:, column] = [_matrix_norm(matrix, ord) for matrix in current]
  return norms[0] if single else norms


def _matrix_norm(matrix, ord):
  """numpy.linalg.norm, but the spectral norm of a large matrix by ARPACK (scipy svds, k=1): exact to rounding and
  far cheaper than a full SVD at large n. The matrix is divided by its largest entry first (A^t may be ~1e60)."""
  if ord != 2 or matrix.shape[-1] <= SMALL_MATRIX_FOR_DENSE_SVD:
    return np.linalg.norm(matrix, ord=ord)
  largest = np.abs(matrix).max()
  if largest == 0:
    return 0.0
  start = np.ones(matrix.shape[-1], dtype=matrix.dtype)  # a fixed ARPACK start: no hidden random state
  return largest * sparse_linalg.svds(matrix / largest, k=1, v0=start, return_singular_vectors=False)[0]


def _scaled_norm(vectors):
  """||v||_2 over the last axis as max|v| * ||v / max|v|||, so squares of entries near 1e160 do not overflow."""
  largest = jnp.max(jnp.abs(vectors), axis=-1, keepdims=True)
  safe = jnp.where(largest > 0, largest, 1)
  return largest[..., 0] * jnp.linalg.norm(vectors / safe, axis=-1)


def simulate_hidden_norms(matrices, num_steps, key, dtype=np.float64):
  """||h_t|| for h_t = A h_{t-1} + x_t, h_0 = 0, x_t ~ N(0, I_n) i.i.d., t = 1..num_steps.

  Runs in JAX with float64 enabled inside this call only (`jax.enable_x64`), so a Glorot explosion
  (~1e60 at n = 256, t = 4096) is a number, not inf/NaN; pass dtype=np.float32 to see the float32 overflow.

  Args:
    matrices: (B, n, n) real matrices (numpy or jax).
    num_steps: T, the number of steps.
    key: JAX key; x_t is drawn from `fold_in(key, t)`, the same for every batch size.
    dtype: float64 (default) or float32.

  Returns:
    numpy array (B, num_steps) of ||h_t||_2, t = 1..num_steps (column t-1 is step t).
  """
  matrices = np.asarray(matrices)
  if matrices.ndim != 3 or matrices.shape[-1] != matrices.shape[-2]:
    raise ValueError(f"simulate_hidden_norms expects (B, n, n) matrices, got shape {matrices.shape}")
  if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
    raise ValueError(f"simulate_hidden_norms: dtype must be float32 or float64, got {np.dtype(dtype)}")
  with jax.enable_x64(True):
    norms = _hidden_norms_scan(jnp.asarray(matrices, dtype=dtype), key, num_steps)
    return np.asarray(norms).T


@functools.partial(jax.jit, static_argnames="num_steps")
def _hidden_norms_scan(matrices, key, num_steps):
  """(num_steps, B) norms of h_t = A h_{t-1} + x_t; compiled once per shape, dtype and num_steps."""
  batch, n = matrices.shape[0], matrices.shape[-1]

  def step(h, t):
    x = jax.random.normal(jax.random.fold_in(key, t), (batch, n), matrices.dtype)
    h = jnp.einsum("bij,bj->bi", matrices, h) + x
    return h, _scaled_norm(h)

  _, norms = jax.lax.scan(step, jnp.zeros((batch, n), matrices.dtype), jnp.arange(1, num_steps + 1))
  return norms
