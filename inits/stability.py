"""Will it explode? A divergence predictor for a linear recurrence at width n and sequence length L.

    from inits import stability
    stability.predict("glorot", 192, 2048, n_layers=2)["p_diverge"]   # > 0.5: the first step overflows
    python -m inits.stability --init glorot --n 192 --length 2048 [--recurrence diag] [--json]
    stability.advise(192, 2048, "dense", n_layers=6)["pick"]["flags"]  # the longest memory within the budget
    python -m inits.stability --advise --n 192 --length 2048 --recurrence dense [--n-layers 6] [--budget 0.01]

What is computed, per Monte Carlo draw of the recurrence (`n_draws` draws from `jax.random.key(seed)`, the same
draws an init makes with those keys):
  * the eigenvalues (float64, of the float32 draw as a model holds it) and the spectral radius rho;
  * the expected squared state under unit-variance i.i.d. Gaussian inputs, h_t = A h_{t-1} + x_t, h_0 = 0:
        E||h_t||^2 = tr P_t,   P_t = sum_{s<t} A^s (A^s)^T,
    exactly: for a normal A (diagonal recurrence, or an eigenvalue-law init) tr P_t = sum_k (|l_k|^{2t} - 1) /
    (|l_k|^2 - 1); for a dense non-normal A (the Glorot family) by doubling, P_2u = P_u + A^u P_u (A^u)^T, in a
    log-scaled float32 form at t = 1, 2, 4, ..., 2^15 (log-linear in t between them; beyond 2^15 the slope
    2 log rho). The adjoint recursion of the backward pass, g_t = A^T g_{t+1} + e_t, has the same tr P_t, so this
    also measures the gradient. The model's B projection after Batch/LayerNorm gives each state unit about unit
    variance, which is the "unit-variance inputs" here.
  * sigma_L = sqrt(tr P_L / n), the RMS entry of h_L in units of the input's (growth = sigma_L, since
    E||h_1||^2 = n).

p_diverge (one layer) = P(sigma_L > OVERFLOW_RMS(dtype)) over the draws, OVERFLOW_RMS = sqrt(finfo(dtype).max)
(1.8e19 in float32): a training step squares the states and their gradients (the next layer's Batch/LayerNorm
variance, GELU's derivative, Adam's second moment, the global gradient norm), and a square of 1.8e19 is already
inf; the training loop then reports a non-finite step. With `n_layers` independent recurrences, p_diverge =
1 - (1 - p)^n_layers. docs/stability_map.md checks this against real first training steps.

length_to_overflow is the median t with sigma_t > finfo(dtype).max (the state itself overflows); memory_length
the median -1/log(rho) of the slowest mode (inf when rho >= 1); medians and quantiles are numpy's inverted_cdf
ones (a draw's own value, so inf stays inf). Results are cached in memory and on disk (the
directory of `inits.calibration`: $GLOROT_LRA_CACHE, else ~/.cache/glorot_lra).
"""

import argparse
import functools
import hashlib
import io
import json
import math
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import inits
from inits import cache
from inits import calibration
from inits import theory

RECURRENCES = ("dense", "diag")
DTYPES = ("float32", "float64", "bfloat16", "float16")
NORMAL_INITS = frozenset({"orthogonal", "diag_uniform", "lru_ring", "s4d_lin", "s4d_inv", "hippo_n"})
GLOROT_SCALES = {"glorot": 1.0, "glorot_half": 1.0 / math.sqrt(2.0)}  # fixed multiples of G: a Gumbel law exists
DOUBLINGS = 15  # tr P_t at t = 2^0 .. 2^15 for dense non-normal draws
RADIUS_TOLERANCE = 1e-5  # rho > 1 + this counts as above 1: float32 puts unit-modulus eigenvalues within ~1e-6 of 1
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
CHUNK = 8  # draws decomposed at once
CACHE_VERSION = 1


def default_draws(n):
  """Monte Carlo draws by width: the eigendecomposition and the doublings cost O(n^3) each."""
  return 128 if n <= 256 else 64 if n <= 512 else 24 if n <= 1024 else 4


def overflow_rms(dtype="float32"):
  """The RMS state above which a training step overflows `dtype`: sqrt(finfo(dtype).max)."""
  return math.sqrt(float(jnp.finfo(_check_dtype(dtype)).max))


def _check_dtype(dtype):
  name = jnp.dtype(dtype).name if not isinstance(dtype, str) else dtype
  if name not in DTYPES:
    raise ValueError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}")
  return name


def check_args(init, n, length, recurrence, init_params, dtype):
  """Raises a one-line ValueError naming the valid values for a bad argument of `predict`."""
  inits.check_name(init)
  inits.check_params(init, init_params or {})
  if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
    raise ValueError(f"n must be an int >= 1 (the recurrence width), got n={n!r}")
  if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
    raise ValueError(f"length must be an int >= 1 (the sequence length), got length={length!r}")
  if recurrence not in RECURRENCES:
    raise ValueError(f"unknown recurrence {recurrence!r}; valid: {', '.join(RECURRENCES)}")
  _check_dtype(dtype)


def _log_abs_expm1(y):
  """log |e^y - 1|, stable for large |y|."""
  return np.maximum(y, 0.0) + np.log(-np.expm1(-np.abs(y)))


def _log_geometric(log_z, t):
  """log sum_{s<t} z^s = log((z^t - 1) / (z - 1)) for z = exp(log_z) > 0, elementwise, stable near z = 1."""
  x, t = np.asarray(log_z, np.float64), np.asarray(t, np.float64)
  near_one = np.abs(x * t) < 1e-8
  safe = np.where(near_one, 1.0, x)
  return np.where(near_one, np.log(t) + 0.5 * x * (t - 1.0), _log_abs_expm1(safe * t) - _log_abs_expm1(safe))


def normal_log_trace(eigenvalues, ts):
  """log tr P_t for normal matrices with these eigenvalues (draws, n), at each t in ts: (draws, len(ts))."""
  log_moduli_sq = 2.0 * np.log(np.maximum(np.abs(eigenvalues), 1e-300))
  terms = _log_geometric(log_moduli_sq[:, None, :], np.asarray(ts, np.float64)[None, :, None])
  peak = terms.max(axis=-1, keepdims=True)
  return peak[..., 0] + np.log(np.exp(terms - peak).sum(axis=-1))


def _renormalised(matrices, log_scales):
  largest = np.abs(matrices).max(axis=(-2, -1))
  largest = np.where(largest > 0, largest, 1.0)
  return matrices / largest[:, None, None], log_scales + np.log(largest.astype(np.float64))


def doubling_log_trace(matrices, doublings=DOUBLINGS):
  """log tr P_t at t = 2^0 .. 2^doublings for (draws, n, n) real matrices, by P_2u = P_u + A^u P_u (A^u)^T.

  Matrices are held as exp(log_scale) * M with max |M| = 1 (float32 M, float64 log_scale), so A^t of 1e600 or
  1e-600 stays representable.
  """
  draws, n = matrices.shape[0], matrices.shape[-1]
  power, log_power = _renormalised(np.asarray(matrices, np.float32), np.zeros(draws))
  gram = np.broadcast_to(np.eye(n, dtype=np.float32), (draws, n, n)).copy()
  log_gram = np.zeros(draws)
  curve = np.empty((draws, doublings + 1))
  curve[:, 0] = math.log(n)
  for level in range(1, doublings + 1):
    pushed = power @ gram @ np.swapaxes(power, -1, -2)
    log_pushed = 2.0 * log_power + log_gram
    top = np.maximum(log_gram, log_pushed)
    gram = (gram * np.exp(log_gram - top)[:, None, None].astype(np.float32)
            + pushed * np.exp(log_pushed - top)[:, None, None].astype(np.float32))
    gram, log_gram = _renormalised(gram, top)
    curve[:, level] = log_gram + np.log(np.trace(gram, axis1=-2, axis2=-1).astype(np.float64))
    power, log_power = _renormalised(power @ power, 2.0 * log_power)
  return curve


def _param_key(init_params):
  return tuple(sorted((k, v) for k, v in (init_params or {}).items()))


def _draw_keys(n_draws, seed):
  return jax.random.split(jax.random.key(seed), n_draws)


def _matrix_chunks(factory, n, n_draws, seed):
  """The (n, n) float32 draws, CHUNK at a time; draw i uses key i of `_draw_keys`, as `theory.monte_carlo_eigvals`."""
  keys = _draw_keys(n_draws, seed)
  draw = jax.vmap(lambda k: factory(k, (n, n), jnp.float32))
  chunk = min(CHUNK, n_draws)
  for start in range(0, n_draws, chunk):
    part = keys[start:start + chunk]
    padding = chunk - part.shape[0]  # one shape: the ops compiled for the first chunk serve every chunk
    if padding:
      part = jnp.concatenate([part, jnp.repeat(part[-1:], padding, axis=0)])
    yield np.asarray(draw(part))[:chunk - padding]


def _compute(what, init, n, params_key, n_draws, seed):
  """"modes": the (n,) complex draws (draws, n); "eigenvalues": those of the (n, n) draws; "curves": the doubling
  curve of the (n, n) draws (draws, DOUBLINGS + 1)."""
  factory = inits.get(init, **dict(params_key))
  if what == "modes":
    draw = jax.vmap(lambda k: factory(k, (n,), jnp.complex64))
    return np.asarray(draw(_draw_keys(n_draws, seed)), np.complex128)
  per_chunk = theory.eigvals_host if what == "eigenvalues" else doubling_log_trace
  return np.concatenate([per_chunk(matrices) for matrices in _matrix_chunks(factory, n, n_draws, seed)])


def _npy_bytes(values):
  buffer = io.BytesIO()
  np.save(buffer, values)
  return buffer.getvalue()


@functools.lru_cache(maxsize=512)
def _cached(what, init, n, params_key, n_draws, seed):
  digest = hashlib.sha1(repr((CACHE_VERSION, what, init, n, params_key, n_draws, seed)).encode()).hexdigest()
  path = calibration.resolve_cache_dir() / "stability" / f"{init}_n{n}_{what}_{digest[:12]}.npy"
  return cache.cached_file(path, lambda: _compute(what, init, n, params_key, n_draws, seed), encode=_npy_bytes,
                           decode=lambda data: np.load(io.BytesIO(data)))


def draws_own_modes(init, init_params=None):
  """Whether a diagonal recurrence's eigenvalues are the init's own (n,) complex draw rather than the eigenvalues of
  its real (n, n) draw: the eigenvalue laws, and calibrated_glorot's complex field (a complex matrix's eigenvalues)."""
  return init in NORMAL_INITS or dict(init_params or {}).get("field") == "complex"


def draws(init, n, recurrence, init_params=None, n_draws=None, seed=0):
  """(eigenvalues (draws, n), doubling curves (draws, DOUBLINGS + 1) or None for normal recurrences), cached."""
  n_draws = default_draws(n) if n_draws is None else n_draws
  key = (init, int(n), _param_key(init_params), int(n_draws), int(seed))
  if recurrence == "diag" and draws_own_modes(init, init_params):  # the (n,) draw DiagonalRNN and the LRU make
    return _cached("modes", *key), None
  # A dense name's diagonal recurrence takes the eigenvalues of the same real draw the dense one holds.
  eigenvalues = _cached("eigenvalues", *key)
  if recurrence == "diag" or init in NORMAL_INITS:
    return eigenvalues, None
  return eigenvalues, _cached("curves", *key)


def _log_rms(eigenvalues, curves, n, ts):
  """log sigma_t = 0.5 log(tr P_t / n) per draw (draws, len(ts))."""
  ts = np.asarray(ts, np.float64)
  if curves is None:
    return 0.5 * (normal_log_trace(eigenvalues, ts) - math.log(n))
  grid = 2.0 ** np.arange(curves.shape[1])
  radii = np.abs(eigenvalues).max(axis=-1)
  out = np.empty((curves.shape[0], ts.size))
  for i in range(curves.shape[0]):
    inside = np.interp(np.minimum(ts, grid[-1]), grid, curves[i])
    slope = 2.0 * math.log(radii[i]) if radii[i] > 1.0 else 0.0
    out[i] = inside + slope * np.maximum(ts - grid[-1], 0.0)
  return 0.5 * (out - math.log(n))


def _first_crossing(eigenvalues, curves, n, log_level):
  """Per draw, the first t with log sigma_t > log_level (inf if never)."""
  radii = np.abs(eigenvalues).max(axis=-1)
  grid = 2.0 ** np.arange(DOUBLINGS + 1)
  values = _log_rms(eigenvalues, curves, n, grid)
  out = np.full(values.shape[0], np.inf)
  for i in range(values.shape[0]):
    above = np.nonzero(values[i] > log_level)[0]
    if above.size:
      j = above[0]
      if j == 0:
        out[i] = 1.0
        continue
      lo, hi = grid[j - 1], grid[j]
      if curves is None:  # exact: bisect on t
        for _ in range(60):
          mid = 0.5 * (lo + hi)
          if _log_rms(eigenvalues[i:i + 1], None, n, [mid])[0, 0] > log_level:
            hi = mid
          else:
            lo = mid
        out[i] = math.ceil(hi)
      else:
        fraction = (log_level - values[i, j - 1]) / (values[i, j] - values[i, j - 1])
        out[i] = math.ceil(lo + fraction * (hi - lo))
    elif radii[i] > 1.0 + RADIUS_TOLERANCE:
      out[i] = math.ceil(grid[-1] + (log_level - values[i, -1]) / math.log(radii[i]))
  return out


def _quantiles(values):
  values = np.asarray(values, np.float64)
  return {f"q{int(round(100 * q)):02d}": float(np.quantile(values, q, method="inverted_cdf")) for q in QUANTILES}


def _gumbel_p_radius_above_1(init, n, init_params):
  """The Gumbel law's P(rho > 1) (real field, Rider-Sinclair) for inits that are a fixed multiple of G."""
  if n < theory.rescaled_glorot_min_width():
    return None
  if init in GLOROT_SCALES and not (init == "glorot_half" and (init_params or {}).get("half_of") == "std"):
    scale = GLOROT_SCALES[init]
  elif init == "glorot_half":
    scale = 0.5
  elif init == "rescaled_glorot":
    scale = 1.0 / theory.c_n(n, **(init_params or {}))
  else:
    return None
  return theory.gumbel_prob_above_one(n, scale, "real")


def predict(init, n, length, recurrence="dense", init_params=None, dtype="float32", *, n_layers=1, n_draws=None,
            seed=0):
  """The chance that training `init` at width n and sequence length `length` overflows `dtype` in its first steps.

  Args:
    init: a name in `inits.names()`.
    n: the recurrence width (`d_hidden`).
    length: the sequence length L.
    recurrence: "dense" (h_t = A h_{t-1} + B u_t with A an (n, n) draw) or "diag" (lambda = the draw's eigenvalues).
    init_params: the init's parameters (e.g. {"delta": 0.05}; None values are dropped, as config.model.init_params
      holds unset ones); a parameter it does not take raises ValueError.
    dtype: the training dtype whose overflow is predicted.
    n_layers: independent recurrences in the model (p_diverge = 1 - (1 - p)^n_layers).
    n_draws: Monte Carlo draws (default `default_draws(n)`).
    seed: the Monte Carlo's JAX seed.

  Returns:
    A dict with p_radius_above_1 (and _se), p_diverge (and _se, and p_diverge_per_layer), growth (median
    sigma_L = ||h_L|| / ||h_1|| in RMS) with quantiles, length_to_overflow (median, quantiles), memory_length
    (median -1/log rho, quantiles), spectral_radius quantiles, the Gumbel P(rho > 1) where it exists, method,
    the thresholds and the inputs. See the module docstring for the definitions.
  """
  # Unset fields (None), as a config's init_params holds them, are no parameter at all.
  init_params = {key: value for key, value in dict(init_params or {}).items() if value is not None}
  check_args(init, n, length, recurrence, init_params, dtype)
  if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
    raise ValueError(f"n_layers must be an int >= 1, got n_layers={n_layers!r}")
  n_draws = default_draws(int(n)) if n_draws is None else int(n_draws)
  if n_draws < 2:
    raise ValueError(f"n_draws must be >= 2, got n_draws={n_draws!r}")
  dtype = _check_dtype(dtype)
  start = time.perf_counter()
  n, length = int(n), int(length)
  eigenvalues, curves = draws(init, n, recurrence, init_params, n_draws, seed)
  radii = np.abs(eigenvalues).max(axis=-1)
  log_rms = _log_rms(eigenvalues, curves, n, [length])[:, 0]
  threshold = overflow_rms(dtype)
  per_layer = float(np.mean(log_rms > math.log(threshold)))
  per_layer_se = math.sqrt(per_layer * (1.0 - per_layer) / n_draws)
  p_diverge = 1.0 - (1.0 - per_layer) ** n_layers
  p_diverge_se = n_layers * (1.0 - per_layer) ** (n_layers - 1) * per_layer_se
  above = radii > 1.0 + RADIUS_TOLERANCE
  p_above = float(np.mean(above))
  overflow = _first_crossing(eigenvalues, curves, n, math.log(float(jnp.finfo(dtype).max)))
  memory = np.full(radii.shape, np.inf)
  decaying = radii < 1.0
  memory[decaying] = -1.0 / np.log(radii[decaying])
  with np.errstate(over="ignore"):  # past float64's range the growth is inf, which is what it means
    growth = np.exp(log_rms)
  gumbel = _gumbel_p_radius_above_1(init, n, init_params)
  monte_carlo = ("Monte Carlo over {} draws: eigenvalues, and E||h_t||^2 = tr P_t {}".format(
      n_draws, "by the normal-matrix closed form" if curves is None else "by doubling (log-linear between powers of two)"))
  return dict(
      init=init, n=n, length=length, recurrence=recurrence, init_params=dict(init_params or {}), dtype=dtype,
      n_layers=n_layers, n_draws=n_draws, seed=int(seed),
      p_radius_above_1=p_above, p_radius_above_1_se=math.sqrt(p_above * (1 - p_above) / n_draws),
      gumbel_p_radius_above_1=gumbel,
      p_diverge=p_diverge, p_diverge_se=p_diverge_se, p_diverge_per_layer=per_layer,
      growth=float(np.quantile(growth, 0.5, method="inverted_cdf")), growth_quantiles=_quantiles(growth),
      log10_growth_quantiles={k: v / math.log(10) for k, v in _quantiles(log_rms).items()},
      length_to_overflow=float(np.quantile(overflow, 0.5, method="inverted_cdf")),
      length_to_overflow_quantiles=_quantiles(overflow),
      memory_length=float(np.quantile(memory, 0.5, method="inverted_cdf")), memory_length_quantiles=_quantiles(memory),
      spectral_radius_quantiles=_quantiles(radii),
      overflow_rms=threshold,
      method=monte_carlo + ("; Gumbel closed form (real, Rider-Sinclair) for P(rho > 1) beside it" if gumbel is not None
                            else ""),
      monte_carlo_se=dict(p_radius_above_1=math.sqrt(p_above * (1 - p_above) / n_draws), p_diverge=p_diverge_se),
      seconds=time.perf_counter() - start)


def verdict(result):
  """One line: the init, its width and length, p_diverge and what it rests on."""
  word = "DIVERGES" if result["p_diverge"] > 0.5 else "stable"
  overflow = result["length_to_overflow"]
  return (f"{result['init']} ({result['recurrence']}, n={result['n']}, L={result['length']}, {result['dtype']}): "
          f"{word}, p_diverge={result['p_diverge']:.3f} ± {result['p_diverge_se']:.3f}; "
          f"P(rho>1)={result['p_radius_above_1']:.3f}, growth {result['growth']:.3g}x, "
          f"overflow at t~{overflow:.4g}, memory {result['memory_length']:.3g} steps "
          f"({result['n_draws']} draws)")


ADVISOR_RECURRENCES = ("dense", "diag", "lru")
# The settings the advisor ranks besides each initializer at its defaults: a small stated set per parametrised law.
ADVISED_SETTINGS = {
    "spectral_glorot": ({"radius": 0.99}, {"radius": 0.999}),
    "calibrated_glorot": ({"delta": 0.01}, {"delta": 0.05}),
    "lru_ring": ({"r_min": 0.4, "r_max": 0.9}, {"r_min": 0.9, "r_max": 0.999}),
}


def advised_settings():
  """The (init, init_params) pairs `advise` ranks: every registered initializer at its defaults, and the
  ADVISED_SETTINGS of the parametrised ones instead of their defaults."""
  return [(name, dict(params)) for name in inits.names() for params in ADVISED_SETTINGS.get(name, ({},))]


def config_flags(init, init_params=None):
  """The train.py flags that select `init` with `init_params`, e.g. "--config.model.init=spectral_glorot
  --config.model.init_params.radius=0.999"."""
  flags = [f"--config.model.init={init}"]
  flags += [f"--config.model.init_params.{name}={value}" for name, value in sorted((init_params or {}).items())]
  return " ".join(flags)


def _lru_p_unbuildable(init, n, init_params, n_draws, seed):
  """Per layer, the chance that a draw has an eigenvalue of complex64 modulus >= 1, which the LRU refuses."""
  eigenvalues, _ = draws(init, n, "diag", init_params, n_draws, seed)
  return float(np.mean(np.any(np.abs(eigenvalues.astype(np.complex64)) >= 1.0, axis=-1)))


def _advice_row(init, init_params, n, length, recurrence, n_layers, n_draws, seed):
  """One ranked setting: its prediction's p_diverge, memory and growth, and its flags; or why it does not apply."""
  row = dict(init=init, init_params=init_params, flags=config_flags(init, init_params))
  try:
    result = predict(init, n, length, "dense" if recurrence == "dense" else "diag", init_params, n_layers=n_layers,
                     n_draws=n_draws, seed=seed)
  except ValueError as error:  # the init has no value at this width or for this recurrence (e.g. c_n at n <= 163)
    return {**row, "applies": False, "reason": str(error)}
  p_diverge, p_diverge_se = result["p_diverge"], result["p_diverge_se"]
  if recurrence == "lru":  # the LRU normalises B, so its states stay bounded; what fails is |lambda| >= 1 at build
    per_layer = _lru_p_unbuildable(init, n, init_params, result["n_draws"], seed)
    p_diverge = 1.0 - (1.0 - per_layer) ** n_layers
    p_diverge_se = n_layers * (1.0 - per_layer) ** (n_layers - 1) * math.sqrt(per_layer * (1 - per_layer) /
                                                                              result["n_draws"])
  return {**row, "applies": True, "p_diverge": p_diverge, "p_diverge_se": p_diverge_se,
          "memory_length": result["memory_length"], "memory_length_quantiles": result["memory_length_quantiles"],
          "growth": result["growth"], "growth_quantiles": result["growth_quantiles"],
          "spectral_radius_q50": result["spectral_radius_quantiles"]["q50"], "n_draws": result["n_draws"]}


def advise(n, length, recurrence="dense", *, n_layers=1, budget=0.01, n_draws=None, seed=0):
  """Which initializer to use at width n and length L: the longest memory whose p_diverge is within `budget`.

  Every setting of `advised_settings()` is predicted (`predict`, cached) for this recurrence. A setting is within
  the budget when p_diverge <= budget. Those are ranked first, by memory_length (median) capped at `length`,
  longest first (a memory beyond the sequence remembers all of it, so it counts as the length), then by growth,
  smallest first; the others follow by p_diverge, smallest first; settings that do not apply (ValueError from
  the init, e.g. rescaled_glorot at n <= 163) come last with the reason. For the LRU ("lru"), whose normalised B
  keeps its states bounded, p_diverge is the chance that a layer's draw has an eigenvalue of modulus >= 1, which
  the LRU refuses; its memory and growth are those of the diagonal recurrence before that normalisation.

  Args:
    n: the recurrence width (`d_hidden`).
    length: the sequence length L.
    recurrence: one of ADVISOR_RECURRENCES (a model's config.model.recurrence).
    n_layers: independent recurrences in the model.
    budget: the largest p_diverge to accept, in (0, 1).
    n_draws, seed: the Monte Carlo's, as in `predict`.

  Returns:
    dict with the inputs, `rows` (ranked; each with init, init_params, flags, applies, p_diverge, memory_length
    and its quantiles, growth and its quantiles, within_budget, or reason) and `pick` (the first row, None when no
    setting is within the budget).

  Raises:
    ValueError: a one-line message naming the bad value and what is allowed.
  """
  if recurrence not in ADVISOR_RECURRENCES:
    raise ValueError(f"unknown recurrence {recurrence!r}; valid: {', '.join(ADVISOR_RECURRENCES)}")
  if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 0.0 < budget < 1.0:
    raise ValueError(f"budget must lie in (0, 1) (the largest p_diverge to accept), got budget={budget!r}")
  if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
    raise ValueError(f"n_layers must be an int >= 1, got n_layers={n_layers!r}")
  check_args("glorot", n, length, "dense", None, "float32")
  rows = [_advice_row(init, params, int(n), int(length), recurrence, n_layers, n_draws, seed)
          for init, params in advised_settings()]
  for row in rows:
    row["within_budget"] = row["applies"] and row["p_diverge"] <= budget
  applying = [r for r in rows if r["applies"]]
  within = sorted((r for r in applying if r["within_budget"]),
                  key=lambda r: (-min(r["memory_length"], length), r["growth"]))
  beyond = sorted((r for r in applying if not r["within_budget"]), key=lambda r: (r["p_diverge"], -r["memory_length"]))
  ranked = within + beyond + [r for r in rows if not r["applies"]]
  return dict(n=int(n), length=int(length), recurrence=recurrence, n_layers=n_layers, budget=budget, rows=ranked,
              pick=within[0] if within else None)


def _format_memory(row):
  q = row["memory_length_quantiles"]
  return f"{row['memory_length']:.3g} [{q['q05']:.3g}, {q['q95']:.3g}]"


def advice_report(advice):
  """The ranked settings as a text table, then the pick with its flags."""
  header = (f"Initializers for a {advice['recurrence']} recurrence at n={advice['n']}, L={advice['length']}, "
            f"{advice['n_layers']} layer(s); budget p_diverge <= {advice['budget']:g}:")
  lines = [header, f"{'rank':>4}  {'init':<40} {'p_diverge':>9}  {'memory: median [5%, 95%]':<28} {'growth':>9}"]
  for rank, row in enumerate(advice["rows"], 1):
    label = row["init"] + "".join(f" {k}={v}" for k, v in sorted(row["init_params"].items()))
    if not row["applies"]:
      lines.append(f"{'-':>4}  {label:<40} does not apply: {row['reason']}")
      continue
    mark = "" if row["within_budget"] else "  (over budget)"
    lines.append(f"{rank:>4}  {label:<40} {row['p_diverge']:>9.3f}  {_format_memory(row):<28} "
                 f"{row['growth']:>8.3g}x{mark}")
  pick = advice["pick"]
  if pick is None:
    lines.append(f"No setting has p_diverge <= {advice['budget']:g}: shorten the sequence, or widen the budget.")
  else:
    lines.append(f"Advice: {pick['init']} (memory {pick['memory_length']:.3g} steps, p_diverge "
                 f"{pick['p_diverge']:.3f}): {pick['flags']}")
  return "\n".join(lines)


def advice_summary(advice):
  """The pick in a few strict-JSON fields for results.json (None when no setting is within the budget); an
  infinite memory_length (a slowest mode with rho >= 1, no decay) is written as null."""
  pick = advice["pick"]
  if pick is None:
    return None
  memory = pick["memory_length"] if math.isfinite(pick["memory_length"]) else None
  return dict(init=pick["init"], init_params=pick["init_params"], flags=pick["flags"], p_diverge=pick["p_diverge"],
              memory_length=memory, growth=pick["growth"], budget=advice["budget"])


def divergence_warning(prediction):
  """train.py's one-line warning for a run predicted to diverge (`predict`'s result with "advice", the
  `advice_summary` of `advise` or None), naming the advised initializer and its flags."""
  text = (f"warning: {prediction['init']} at d_hidden={prediction['n']} and length {prediction['length']} is "
          f"predicted to overflow float32 in its first steps (p_diverge={prediction['p_diverge']:.2f}; python -m "
          "inits.stability)")
  advice = prediction.get("advice")
  if advice is None:
    return text + "; no initializer is predicted stable at this width and length"
  memory = "no decay" if advice["memory_length"] is None else f"memory {advice['memory_length']:.3g} steps"
  return (text + f"; the longest memory predicted stable here (p_diverge <= {advice['budget']:g}, {memory}; "
          f"python -m inits.stability --advise): {advice['flags']}")


def main(argv=None):
  parser = argparse.ArgumentParser(prog="python -m inits.stability", description=__doc__.splitlines()[0])
  parser.add_argument("--init", help=f"one of: {', '.join(inits.names())}")
  parser.add_argument("--advise", action="store_true",
                      help="rank every initializer (and the ADVISED_SETTINGS) and name the one to use")
  parser.add_argument("--budget", type=float, default=0.01, help="--advise: the largest p_diverge to accept")
  parser.add_argument("--n", type=int, required=True, help="recurrence width (d_hidden)")
  parser.add_argument("--length", type=int, required=True, help="sequence length")
  parser.add_argument("--recurrence", default="dense", help="dense or diag (--advise: dense, diag or lru)")
  parser.add_argument("--dtype", default="float32", help=f"one of: {', '.join(DTYPES)}")
  parser.add_argument("--n-layers", type=int, default=1, help="independent recurrences in the model")
  parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                      help="an init parameter, e.g. --param delta=0.05 (repeatable)")
  parser.add_argument("--draws", type=int, default=None, help="Monte Carlo draws (default by n)")
  parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
  args = parser.parse_args(argv)
  if args.advise:
    try:
      advice = advise(args.n, args.length, args.recurrence, n_layers=args.n_layers, budget=args.budget,
                      n_draws=args.draws)
    except ValueError as error:
      print(f"error: {error}", file=sys.stderr)
      return 2
    print(json.dumps(advice, indent=2) if args.json else advice_report(advice))
    return 0 if advice["pick"] is not None else 1
  if args.init is None:
    parser.error("give --init NAME (predict one initializer) or --advise (rank them all)")
  params = {}
  for item in args.param:
    name, sep, value = item.partition("=")
    if not sep:
      parser.error(f"--param wants NAME=VALUE, got {item!r}")
    try:
      params[name] = json.loads(value)
    except ValueError:
      params[name] = value
  try:
    result = predict(args.init, args.n, args.length, args.recurrence, params or None, args.dtype,
                     n_layers=args.n_layers, n_draws=args.draws)
  except ValueError as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  print(json.dumps(result, indent=2) if args.json else verdict(result))
  return 0


if __name__ == "__main__":
  sys.exit(main())
