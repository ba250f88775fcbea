"""The LRU block (Orvieto et al. 2023): lambda = exp(-exp(nu) + i exp(theta)), gamma-normalised B, complex C."""

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from models import diagonal_rnn
from models import linear_rnn
from models import cpu_kernels
from models import norms
from models.params import RecurrentParam
from models import scan as scan_lib

MIN_MODULUS = 1e-6  # |lambda| below this is raised to it: nu = log(-log|lambda|) is +inf at |lambda| = 0


def lru_parameters(eigenvalues, init: str = "the initializer"):
  """Maps eigenvalues (n,) complex with 0 < |lambda| < 1 to the LRU's (nu_log, theta_log, gamma_log), float32.

  |lambda| = exp(-exp(nu_log)):  nu_log = log(-log|lambda|), needs |lambda| < 1 (|lambda| >= 1 has no nu_log;
    |lambda| < MIN_MODULUS is raised to MIN_MODULUS).
  arg lambda = exp(theta_log):   theta_log = log(phase) needs phase > 0, so the phase is taken in (0, 2 pi]:
    arg in (-pi, 0] becomes arg + 2 pi (the same eigenvalue: a positive real eigenvalue gets phase 2 pi, and
    the conjugate of phase p > 0 gets 2 pi - p).
  gamma_log = log sqrt(1 - |lambda|^2), the normalisation of B (trained on as its own parameter).

  Raises:
    ValueError: an eigenvalue has modulus >= 1 (says how many, the largest, and which init), checked when the
      eigenvalues are concrete (not under tracing, e.g. `nnx.eval_shape`, where such entries become NaN).
  """
  eigenvalues = jnp.asarray(eigenvalues, jnp.complex64)
  try:
    moduli = np.abs(np.asarray(eigenvalues))
  except jax.errors.TracerArrayConversionError:
    moduli = None
  if moduli is not None and np.any(moduli >= 1.0):
    raise ValueError(
        f"LRU with init {init!r}: {int(np.sum(moduli >= 1.0))} of {moduli.size} eigenvalues have modulus >= 1 "
        f"(largest {moduli.max():.6g}); the LRU's |lambda| = exp(-exp(nu_log)) < 1 cannot represent them. "
        f"Use an init with spectral radius below 1 (rescaled_glorot, calibrated_glorot, glorot_half, lru_ring, "
        f"diag_uniform), or recurrence='diag', which trains lambda directly")
  modulus = jnp.maximum(jnp.abs(eigenvalues), MIN_MODULUS)
  angle = jnp.angle(eigenvalues)
  phase = jnp.where(angle <= 0, angle + 2.0 * math.pi, angle)
  return {"nu_log": jnp.log(-jnp.log(modulus)).astype(jnp.float32),
          "theta_log": jnp.log(phase).astype(jnp.float32),
          "gamma_log": (0.5 * jnp.log1p(-modulus ** 2)).astype(jnp.float32)}


def lru_eigenvalues(nu_log, theta_log):
  """lambda = exp(-exp(nu_log) + i exp(theta_log)), complex64 (n,)."""
  modulus, phase = jnp.exp(-jnp.exp(nu_log)), jnp.exp(theta_log)
  return jax.lax.complex(modulus * jnp.cos(phase), modulus * jnp.sin(phase))


class LRU(nnx.Module):
  """Linear Recurrent Unit, the LRU row (minimal-LRU's parametrisation).

  h_t = lambda * h_{t-1} + gamma * (B u_t),  y_t = Re(C h_t) + D * u_t,  lambda = exp(-exp(nu) + i exp(theta)).

  gamma (n,) = exp(gamma_log), initialised to sqrt(1 - |lambda|^2) so that white-noise inputs (E|(B u)_i|^2 = 1)
  keep E|h_i|^2 = 1 at every |lambda|; it is then trained as its own parameter. Options as in `LinearRNN`.

  Attributes (nu, theta, gamma and B are `RecurrentParam`s, the rest `nnx.Param`s):
    nu_log, theta_log, gamma_log: (n,) from the eigenvalues of `inits.get(init, **init_params)` (shape (n,),
      complex64, the first key of `rngs.params`) through `lru_parameters` (ValueError for |lambda| >= 1).
    B_re, B_im: (n, d_model), E|B_ij|^2 = 1/d_model. C_re, C_im: (d_model, n or 2n), each part ~ N(0, 1/fan_in)
      (minimal-LRU's C, E|C_ij|^2 = 2/fan_in). D: (d_model,) ~ N(0, 1).
    norm_scale, norm_bias_re, norm_bias_im: (n,) only with recurrent_layer_norm.
  """

  def __init__(self, d_model: int, d_hidden: int, *, init: str = "lru_ring", init_params=None,
               scan: str = "auto", recurrent_layer_norm: bool = False, bidirectional: bool = False,
               kernels: str = "auto", rngs: nnx.Rngs):
    if scan != "auto":
      scan_lib.resolve_impl("diag", scan)
    lambda_key, b_key, c_key, d_key = (rngs.params() for _ in range(4))
    n = d_hidden
    eigenvalues = diagonal_rnn.initial_eigenvalues(init, init_params, lambda_key, n)
    params = lru_parameters(eigenvalues, init)
    self.nu_log = RecurrentParam(params["nu_log"])
    self.theta_log = RecurrentParam(params["theta_log"])
    self.gamma_log = RecurrentParam(params["gamma_log"])
    B_re, B_im = diagonal_rnn.complex_normal_pair(b_key, (n, d_model), 1.0 / d_model)
    self.B_re, self.B_im = RecurrentParam(B_re), RecurrentParam(B_im)
    c_width = 2 * n if bidirectional else n
    C_re, C_im = diagonal_rnn.complex_normal_pair(c_key, (d_model, c_width), 2.0 / c_width)
    self.C_re, self.C_im = nnx.Param(C_re), nnx.Param(C_im)
    self.D = nnx.Param(jax.random.normal(d_key, (d_model,), jnp.float32))
    if recurrent_layer_norm:
      diagonal_rnn.add_complex_layer_norm_params(self, n)
    self.scan = scan
    self.kernels = cpu_kernels.resolve_kernels(kernels)
    self.recurrent_layer_norm = recurrent_layer_norm
    self.bidirectional = bidirectional

  def eigenvalues(self):
    """The live lambda (n,) complex64."""
    return lru_eigenvalues(self.nu_log[...], self.theta_log[...])

  def __call__(self, x, mask):
    """x (B, L, d_model) float, mask (B, L) bool prefix mask -> (y (B, L, d_model) float32, stats)."""
    lam, gamma = self.eigenvalues(), jnp.exp(self.gamma_log[...])
    # gamma scales the rows of B (B is only used in products with u), so B u is one real matmul.
    B_re, B_im = gamma[:, None] * self.B_re[...], gamma[:, None] * self.B_im[...]
    # Re(C h) = C_re Re(h) - C_im Im(h) = [C_re, -C_im] [Re h; Im h]: one real matmul.
    C_stacked = jnp.concatenate([self.C_re[...], -self.C_im[...]], axis=1)
    D = self.D[...]
    x = x.astype(D.dtype)  # compute in the parameters' dtype (float32; float64 in tests)
    matmul = cpu_kernels.get(self.kernels).matmul  # x @ kernel

    def project_out(h, u):
      h_parts = jnp.concatenate([jnp.real(h), jnp.imag(h)], axis=-1)  # the column order of C_stacked
      return matmul(h_parts, C_stacked.T) + D * u

    return norms.apply_recurrence(
        x, mask, project_in=lambda u: diagonal_rnn.complex_input_projection(u, B_re, B_im, matmul),
        recur=diagonal_rnn.diagonal_recurrence(self, lam),
        project_out=project_out, bidirectional=self.bidirectional)

  def initial_state(self, batch: int):
    """h_0 = 0 for `batch` sequences: (B, n) complex."""
    return diagonal_rnn.complex_initial_state(self, batch)

  def step(self, h, u):
    """One step of the recurrence (the step mode, models/model.py): h (B, n), u (B, d_model) -> (h_t, y_t)."""
    linear_rnn.check_unidirectional(self)
    D = self.D[...]
    u = u.astype(D.dtype)
    gamma = jnp.exp(self.gamma_log[...])
    h = diagonal_rnn.diagonal_step(self, self.eigenvalues(), gamma[:, None] * self.B_re[...],
                                   gamma[:, None] * self.B_im[...], h, u)
    return h, jnp.real(h) @ self.C_re[...].T - jnp.imag(h) @ self.C_im[...].T + D * u

  def spectral_radius(self) -> float:
    """max |lambda| = max exp(-exp(nu_log)) of the live parameters, on the host."""
    return float(np.exp(-np.exp(np.asarray(self.nu_log[...], np.float64))).max())
