"""The dense linear RNN block: h_t = A h_{t-1} + B u_t, y_t = C h_t + D * u_t, all real."""

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import inits
from inits import theory
from models import cpu_kernels
from models import norms
from models.params import RecurrentParam
from models import scan as scan_lib


def normal(key, shape, variance, dtype=jnp.float32):
  """N(0, variance) entries."""
  return math.sqrt(variance) * jax.random.normal(key, shape, dtype)


def check_unidirectional(block):
  """The step mode needs a unidirectional block: a bidirectional one's output at t reads the future."""
  if block.bidirectional:
    raise ValueError("a bidirectional block has no step mode (its output reads the future)")


class LinearRNN(nnx.Module):
  """Dense real linear recurrence (the paper's "dense" rows), on padded batches.

  h_t = A h_{t-1} + B u_t,  y_t = C h_t + D * u_t  (h_0 = 0; u (B, L, d_model), h (B, L, n)).

  With `recurrent_layer_norm`, the rebuttal's "LN" variant: h_t = LN(A h_{t-1} + B u_t) with LN over the n
  units and its own scale and bias (`norms.recurrent_layer_norm`); nonlinear, so always a sequential scan.
  With `bidirectional`, the same A and B also run in reverse time and C reads both states: y_t =
  C [h_t^fwd; h_t^rev] + D * u_t, C of shape (d_model, 2n) (minimal-LRU's choice: one recurrence, so one
  spectrum, read in both directions).

  Attributes (A and B are `RecurrentParam`s, the rest `nnx.Param`s):
    A: (n, n) from `inits.get(init, **init_params)`, drawn from the first key of `rngs.params`.
    B: (n, d_model) ~ N(0, 1/d_model). C: (d_model, n or 2n) ~ N(0, 1/fan_in). D: (d_model,) ~ N(0, 1).
    norm_scale, norm_bias: (n,) the recurrent LayerNorm's parameters (only with recurrent_layer_norm).
  """

  def __init__(self, d_model: int, d_hidden: int, *, init: str = "rescaled_glorot", init_params=None,
               scan: str = "auto", recurrent_layer_norm: bool = False, bidirectional: bool = False,
               kernels: str = "auto", rngs: nnx.Rngs):
    if scan != "auto":
      scan_lib.resolve_impl("dense", scan)  # fails now, naming the valid implementations
    a_key, b_key, c_key, d_key = (rngs.params() for _ in range(4))
    n = d_hidden
    self.A = RecurrentParam(inits.get(init, **(init_params or {}))(a_key, (n, n), jnp.float32))
    self.B = RecurrentParam(normal(b_key, (n, d_model), 1.0 / d_model))
    c_width = 2 * n if bidirectional else n
    self.C = nnx.Param(normal(c_key, (d_model, c_width), 1.0 / c_width))
    self.D = nnx.Param(jax.random.normal(d_key, (d_model,), jnp.float32))
    if recurrent_layer_norm:
      self.norm_scale = nnx.Param(jnp.ones((n,), jnp.float32))
      self.norm_bias = nnx.Param(jnp.zeros((n,), jnp.float32))
    self.scan = scan
    self.kernels = cpu_kernels.resolve_kernels(kernels)
    self.recurrent_layer_norm = recurrent_layer_norm
    self.bidirectional = bidirectional

  def __call__(self, x, mask):
    """x (B, L, d_model) float, mask (B, L) bool prefix mask -> (y (B, L, d_model) float32, stats).

    stats: max_abs_h (batch max over real steps and units), final_state_norm (batch mean of ||h|| after the
    last real token), float32 scalars.
    """
    A, B, C, D = (p[...] for p in (self.A, self.B, self.C, self.D))
    x = x.astype(D.dtype)  # compute in the parameters' dtype (float32; float64 in tests)
    matmul = cpu_kernels.get(self.kernels).matmul  # x @ kernel

    def project_in(u):
      return matmul(u, B.T)

    def recur(b, mask, reverse):
      if self.recurrent_layer_norm:  # nonlinear: no adjoint scan, so no states tagged for a remat to keep
        return norms.layer_norm_scan(lambda h: h @ A.T, b, mask, self.norm_scale[...], self.norm_bias[...],
                                     reverse=reverse)
      return scan_lib.dense_scan(A, b, reverse=reverse, impl=self.scan, kernels=self.kernels)

    def project_out(h, u):
      return matmul(h, C.T) + D * u

    return norms.apply_recurrence(x, mask, project_in=project_in, recur=recur, project_out=project_out,
                                  bidirectional=self.bidirectional)

  def initial_state(self, batch: int):
    """h_0 = 0 for `batch` sequences: (B, n) in the parameters' dtype."""
    return jnp.zeros((batch, self.A.shape[0]), self.D[...].dtype)

  def step(self, h, u):
    """One step of the recurrence (the step mode, models/model.py): h (B, n), u (B, d_model) -> (h_t, y_t)."""
    check_unidirectional(self)
    D = self.D[...]
    u = u.astype(D.dtype)
    h = h @ self.A[...].T + u @ self.B[...].T
    if self.recurrent_layer_norm:
      h = norms.recurrent_layer_norm(h, self.norm_scale[...], self.norm_bias[...])
    return h, h @ self.C[...].T + D * u

  def spectral_radius(self) -> float:
    """max |eig(A)| of the live A, on the host in float64."""
    return float(theory.spectral_radius(np.asarray(self.A[...], np.float64)))
