"""The diagonal linear RNN block: h_t = lambda * h_{t-1} + B u_t, y_t = Re(C h_t) + D * u_t (complex lambda, B)."""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import inits
from models import linear_rnn
from models import cpu_kernels
from models import norms
from models.params import RecurrentParam
from models import scan as scan_lib


def complex_normal_pair(key, shape, mean_squared_modulus):
  """(real, imag) float32 parts of a complex Gaussian with E|z|^2 = mean_squared_modulus (each part half)."""
  real_key, imag_key = jax.random.split(key)
  part_variance = mean_squared_modulus / 2.0
  return (linear_rnn.normal(real_key, shape, part_variance), linear_rnn.normal(imag_key, shape, part_variance))


def complex_input_projection(u, B_re, B_im, matmul):
  """B u for complex B = B_re + i B_im (n, d) and real u (B, L, d), as ONE real matmul -> complex64 (B, L, n);
  matmul(x, kernel) is the kernels' x @ kernel (models/cpu_kernels.py)."""
  n = B_re.shape[0]
  stacked = matmul(u, jnp.concatenate([B_re, B_im], axis=0).T)
  return jax.lax.complex(stacked[..., :n], stacked[..., n:])


def add_complex_layer_norm_params(block, n):
  """The recurrent LayerNorm's parameters for a complex state: a real scale, a complex bias (re, im)."""
  block.norm_scale = nnx.Param(jnp.ones((n,), jnp.float32))
  block.norm_bias_re = nnx.Param(jnp.zeros((n,), jnp.float32))
  block.norm_bias_im = nnx.Param(jnp.zeros((n,), jnp.float32))


def diagonal_recurrence(block, lam):
  """recur(b, mask, reverse) for h_t = lam * h_{t-1} + b_t, through the block's recurrent LayerNorm if it has one
  (the DiagonalRNN and the LRU differ only in how lam is parametrised)."""
  def recur(b, mask, reverse):
    if block.recurrent_layer_norm:  # nonlinear: no adjoint scan, so no states tagged for a remat to keep
      bias = jax.lax.complex(block.norm_bias_re[...], block.norm_bias_im[...])
      return norms.layer_norm_scan(lambda h: lam * h, b, mask, block.norm_scale[...], bias, reverse=reverse)
    return scan_lib.diag_scan(lam, b, reverse=reverse, impl=block.scan, kernels=block.kernels)
  return recur


def complex_initial_state(block, batch: int):
  """h_0 = 0 (B, n) of a complex-state block: complex64 for float32 parameters, complex128 for float64 ones."""
  dtype = jnp.complex64 if block.D[...].dtype == jnp.float32 else jnp.complex128
  return jnp.zeros((batch, block.B_re.shape[0]), dtype)


def diagonal_step(block, lam, B_re, B_im, h, u):
  """h_t = lam * h_{t-1} + B u_t (through the recurrent LayerNorm if the block has one): h (B, n), u (B, d)."""
  h = lam * h + jax.lax.complex(u @ B_re.T, u @ B_im.T)
  if block.recurrent_layer_norm:
    bias = jax.lax.complex(block.norm_bias_re[...], block.norm_bias_im[...])
    h = norms.recurrent_layer_norm(h, block.norm_scale[...], bias)
  return h


def initial_eigenvalues(init, init_params, key, n):
  """The eigenvalues (n,) complex64 of `init` (an inits name) drawn with `key`: a diagonal model's lambda."""
  return inits.get(init, **(init_params or {}))(key, (n,), jnp.complex64)


class DiagonalRNN(nnx.Module):
  """Diagonal complex linear recurrence with a directly trained lambda (the paper's "diagonal" rows).

  h_t = lambda * h_{t-1} + B u_t,  y_t = Re(C h_t) + D * u_t = C Re(h_t) + D * u_t  (h_0 = 0).

  lambda (n,) complex is stored as two float32 parameters and trained directly (no re-parametrisation), so
  nothing keeps |lambda| < 1. Options as in `LinearRNN`: `recurrent_layer_norm` (h_t = LN(lambda * h_{t-1} +
  B u_t), complex LayerNorm of `norms.recurrent_layer_norm`) and `bidirectional` (same lambda and B in
  reverse; C of shape (d_model, 2n) reads [h^fwd; h^rev]).

  Attributes (lambda and B are `RecurrentParam`s, the rest `nnx.Param`s):
    lambda_re, lambda_im: (n,) the eigenvalues of `inits.get(init, **init_params)` drawn with shape (n,)
      complex64 from the first key of `rngs.params` (dense names: the eigenvalues of one real (n, n) draw).
    B_re, B_im: (n, d_model), E|B_ij|^2 = 1/d_model. C: (d_model, n or 2n) real ~ N(0, 1/fan_in).
    D: (d_model,) ~ N(0, 1). norm_scale, norm_bias_re, norm_bias_im: (n,) only with recurrent_layer_norm.
  """

  def __init__(self, d_model: int, d_hidden: int, *, init: str = "rescaled_glorot", init_params=None,
               scan: str = "auto", recurrent_layer_norm: bool = False, bidirectional: bool = False,
               kernels: str = "auto", rngs: nnx.Rngs):
    if scan != "auto":
      scan_lib.resolve_impl("diag", scan)
    lambda_key, b_key, c_key, d_key = (rngs.params() for _ in range(4))
    n = d_hidden
    eigenvalues = initial_eigenvalues(init, init_params, lambda_key, n)
    self.lambda_re = RecurrentParam(jnp.real(eigenvalues).astype(jnp.float32))
    self.lambda_im = RecurrentParam(jnp.imag(eigenvalues).astype(jnp.float32))
    B_re, B_im = complex_normal_pair(b_key, (n, d_model), 1.0 / d_model)
    self.B_re, self.B_im = RecurrentParam(B_re), RecurrentParam(B_im)
    c_width = 2 * n if bidirectional else n
    self.C = nnx.Param(linear_rnn.normal(c_key, (d_model, c_width), 1.0 / c_width))
    self.D = nnx.Param(jax.random.normal(d_key, (d_model,), jnp.float32))
    if recurrent_layer_norm:
      add_complex_layer_norm_params(self, n)
    self.scan = scan
    self.kernels = cpu_kernels.resolve_kernels(kernels)
    self.recurrent_layer_norm = recurrent_layer_norm
    self.bidirectional = bidirectional

  def eigenvalues(self):
    """The live lambda (n,) complex64."""
    return jax.lax.complex(self.lambda_re[...], self.lambda_im[...])

  def __call__(self, x, mask):
    """x (B, L, d_model) float, mask (B, L) bool prefix mask -> (y (B, L, d_model) float32, stats)."""
    lam, C, D = self.eigenvalues(), self.C[...], self.D[...]
    B_re, B_im = self.B_re[...], self.B_im[...]
    x = x.astype(D.dtype)  # compute in the parameters' dtype (float32; float64 in tests)
    matmul = cpu_kernels.get(self.kernels).matmul  # x @ kernel

    def project_out(h, u):
      return matmul(jnp.real(h), C.T) + D * u

    return norms.apply_recurrence(
        x, mask, project_in=lambda u: complex_input_projection(u, B_re, B_im, matmul),
        recur=diagonal_recurrence(self, lam),
        project_out=project_out, bidirectional=self.bidirectional)

  def initial_state(self, batch: int):
    """h_0 = 0 for `batch` sequences: (B, n) complex."""
    return complex_initial_state(self, batch)

  def step(self, h, u):
    """One step of the recurrence (the step mode, models/model.py): h (B, n), u (B, d_model) -> (h_t, y_t)."""
    linear_rnn.check_unidirectional(self)
    D = self.D[...]
    u = u.astype(D.dtype)
    h = diagonal_step(self, self.eigenvalues(), self.B_re[...], self.B_im[...], h, u)
    return h, jnp.real(h) @ self.C[...].T + D * u

  def spectral_radius(self) -> float:
    """max |lambda| of the live parameters, on the host."""
    lam = np.asarray(self.lambda_re[...], np.float64) + 1j * np.asarray(self.lambda_im[...], np.float64)
    return float(np.abs(lam).max())

