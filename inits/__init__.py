"""Initializers for linear recurrences, looked up by name: `inits.get(name, **params)`, `inits.names()`.

    import inits
    init = inits.get("rescaled_glorot")            # or inits.get("calibrated_glorot", delta=0.05)
    A = init(jax.random.key(0), (256, 256))        # a real recurrent matrix
    lam = init(jax.random.key(0), (256,), jnp.complex64)  # the eigenvalues of one draw

`inits.theory` holds gamma_n, c_n, the Gumbel law of the spectral radius and the Monte Carlo tools;
`inits.calibration` the cached Monte Carlo scale of `calibrated_glorot`; `inits.ssm` the S4D and HiPPO-N laws;
`inits.stability` the divergence predictor (`predict(init, n, length)`) and the advisor that ranks every initializer
by it (`advise(n, length, recurrence)`); `inits.cache` the cache folder and its atomic file cache.
"""

import inspect

from inits import calibration
from inits import dense
from inits import diagonal
from inits import ssm
from inits import theory

_FACTORIES = {
    "glorot": dense.glorot,
    "glorot_half": dense.glorot_half,
    "rescaled_glorot": dense.rescaled_glorot,
    "truncated_glorot": dense.truncated_glorot,
    "calibrated_glorot": dense.calibrated_glorot,
    "spectral_glorot": dense.spectral_glorot,
    "orthogonal": diagonal.orthogonal,
    "diag_uniform": diagonal.diag_uniform,
    "lru_ring": diagonal.lru_ring,
    "s4d_lin": ssm.s4d_lin,
    "s4d_inv": ssm.s4d_inv,
    "hippo_n": ssm.hippo_n,
}


def names():
  """The registered initializer names."""
  return list(_FACTORIES)


def params_of(name):
  """The parameter names initializer `name` takes (its factory's keyword arguments)."""
  check_name(name)
  return list(inspect.signature(_FACTORIES[name]).parameters)


def check_name(name):
  """Raises ValueError, listing the valid names, if `name` is not a registered initializer."""
  if name not in _FACTORIES:
    raise ValueError(f"unknown initializer {name!r}; valid: {', '.join(_FACTORIES)}")


def check_params(name, params):
  """Raises a one-line ValueError naming the valid parameters if `params` holds one that `name` does not take."""
  valid_params = params_of(name)
  unknown = sorted(set(params) - set(valid_params))
  if unknown:
    raise ValueError(f"initializer {name!r} takes no parameter(s) {unknown}; valid: "
                     f"{', '.join(valid_params) if valid_params else 'none'}")


def get(name, **params):
  """The initializer `init(key, shape, dtype=jnp.float32)` registered as `name`, built with `params`.

  Raises:
    ValueError: unknown name (the message lists the valid ones), a parameter the factory does not take (the
      message lists the ones it takes), or a parameter value out of range.
  """
  check_params(name, params)
  return _FACTORIES[name](**params)


__all__ = ["calibration", "check_name", "check_params", "dense", "diagonal", "get", "names", "params_of", "ssm",
           "theory"]
