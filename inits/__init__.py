"""Initializers for linear recurrences, looked up by name: `inits.get(name, **params)`, `inits.names()`.

    import inits
    init = inits.get("rescaled_glorot")            # or inits.get("calibrated_glorot", delta=0.05)
    A = init(jax.random.key(0), (256, 256))        # a real recurrent matrix
    lam = init(jax.random.key(0), (256,), jnp.complex64)  # the eigenvalues of one draw

`inits.theory` holds gamma_n, c_n, the Gumbel law of the spectral radius and the Monte Carlo tools;
`inits.calibration` the cached Monte Carlo scale of `calibrated_glorot`.
"""

import inspect

from inits import calibration
from inits import dense
from inits import diagonal
from inits import theory

_FACTORIES = {
    "glorot": dense.glorot,
    "glorot_half": dense.glorot_half,
    "rescaled_glorot": dense.rescaled_glorot,
    "truncated_glorot": dense.truncated_glorot,
    "calibrated_glorot": dense.calibrated_glorot,
    "diag_uniform": diagonal.diag_uniform,
    "lru_ring": diagonal.lru_ring,
}


def names():
  """The registered initializer names."""
  return list(_FACTORIES)


def get(name, **params):
  """The initializer `init(key, shape, dtype=jnp.float32)` registered as `name`, built with `params`.

  Raises:
    ValueError: unknown name (the message lists the valid ones).
    TypeError: a parameter the factory does not take (the message lists the ones it takes).
  """
  if name not in _FACTORIES:
    raise ValueError(f"unknown initializer {name!r}; valid: {', '.join(_FACTORIES)}")
  factory = _FACTORIES[name]
  valid_params = list(inspect.signature(factory).parameters)
  unknown = sorted(set(params) - set(valid_params))
  if unknown:
    raise TypeError(f"initializer {name!r} takes no parameter(s) {unknown}; valid: {valid_params or 'none'}")
  return factory(**params)


__all__ = ["calibration", "dense", "diagonal", "get", "names", "theory"]
