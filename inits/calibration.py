"""Monte Carlo calibration of the Glorot scale s with P(rho(s G) > 1) = delta, cached in memory and on disk.

s = 1 / quantile_{1 - delta}(rho(G)) over `n_draws` Glorot draws G made from a FIXED seed, so the scale is
reproducible and independent of the key that later draws the matrix. One JSON file per (n, delta, field, n_draws,
seed) lives in the cache directory: the `cache_dir` argument, else $GLOROT_LRA_CACHE, else ~/.cache/glorot_lra.
"""

import functools
import json
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from inits import cache
from inits import theory

FIELD_DTYPES = {"real": jnp.float32, "complex": jnp.complex64}


def resolve_cache_dir(cache_dir=None):
  """The cache directory: `cache_dir` if given, else the project's cache root (inits.cache: $GLOROT_LRA_CACHE)."""
  return cache.cache_root(cache_dir)


def check_params(n, delta, field, n_draws):
  """Raises ValueError naming the bad value if a calibration parameter is out of range."""
  if field not in FIELD_DTYPES:
    raise ValueError(f"calibrated_glorot: unknown field {field!r}; valid: {', '.join(FIELD_DTYPES)}")
  if not 0.0 < delta < 1.0:
    raise ValueError(f"calibrated_glorot: delta must lie in (0, 1), got delta={delta!r}")
  if int(n_draws) != n_draws or n_draws < 10:
    raise ValueError(f"calibrated_glorot: n_draws must be an int >= 10, got n_draws={n_draws!r}")
  if n is not None and (int(n) != n or n < 1):
    raise ValueError(f"calibrated_glorot: n must be a positive int, got n={n!r}")
  if n_draws * delta < 1.0:
    raise ValueError(
        f"calibrated_glorot: n_draws * delta = {n_draws * delta:g} < 1 leaves no draw above the quantile; "
        f"use n_draws >= {math.ceil(1.0 / delta)} for delta={delta!r}")


def cache_path(n, delta, field, n_draws, seed, cache_dir=None):
  """The JSON file that holds the calibrated scale for these parameters."""
  name = f"calibrated_glorot_n{n}_delta{delta!r}_{field}_draws{n_draws}_seed{seed}.json"
  return resolve_cache_dir(cache_dir) / name


def calibrate(n, delta, field, n_draws, seed):
  """Runs the Monte Carlo (no caching): returns a dict with the scale, the quantile and the run's facts."""
  check_params(n, delta, field, n_draws)
  start = time.perf_counter()
  with jax.ensure_compile_time_eval():  # concrete values even when the init is first called under jit/eval_shape
    radii = theory.monte_carlo_spectral_radii(
        lambda key, shape, dtype: theory.ginibre(key, shape[-1], dtype), n, n_draws, jax.random.key(seed),
        dtype=FIELD_DTYPES[field])
  quantile = float(np.quantile(radii, 1.0 - delta))
  return dict(n=n, delta=delta, field=field, n_draws=n_draws, seed=seed, quantile=quantile, scale=1.0 / quantile,
              method="1 / numpy.quantile(rho(G), 1 - delta), G Ginibre (Glorot) draws from jax.random.key(seed)",
              seconds=time.perf_counter() - start)


def _decode_record(data, expected):
  """The cached record, or ValueError if it is not JSON or not the calibration of these parameters."""
  record = json.loads(data)
  if any(record.get(field) != value for field, value in expected.items()) or "scale" not in record:
    raise ValueError(f"a cached calibration of other parameters than {expected}")
  return record


@functools.lru_cache(maxsize=None)
def _calibrated_record(n, delta, field, n_draws, seed, cache_dir):
  expected = dict(n=n, delta=delta, field=field, n_draws=n_draws, seed=seed)
  return cache.cached_file(
      cache_path(n, delta, field, n_draws, seed, cache_dir), lambda: calibrate(n, delta, field, n_draws, seed),
      encode=lambda record: json.dumps(record, indent=2).encode(), decode=lambda data: _decode_record(data, expected))


def calibrated_record(n, delta=0.05, field="real", n_draws=1000, seed=0, cache_dir=None):
  """The calibration record (dict with "scale", "quantile", ...), from memory, disk, or a new Monte Carlo run."""
  check_params(n, delta, field, n_draws)
  return dict(_calibrated_record(int(n), float(delta), field, int(n_draws), int(seed),
                                 str(resolve_cache_dir(cache_dir))))


def calibrated_scale(n, delta=0.05, field="real", n_draws=1000, seed=0, cache_dir=None):
  """Scale s with P(rho(s G) > 1) = delta for an (n, n) Glorot draw G in `field`, by cached Monte Carlo."""
  return calibrated_record(n, delta, field, n_draws, seed, cache_dir)["scale"]


def clear_memory_cache():
  """Forgets the in-memory scales (the disk cache stays)."""
  _calibrated_record.cache_clear()
