"""The scans: every implementation equals a float64 Python loop in values and gradients; dtypes, errors, auto."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models import scan

BATCH, WIDTH = 2, 5


def loop_diag(a, b, h0, reverse):
  """The plain Python loop: h_t = a_t * h_{t-1} + b_t, a broadcast to b's shape."""
  a = jnp.broadcast_to(a, b.shape)
  steps = range(b.shape[1] - 1, -1, -1) if reverse else range(b.shape[1])
  h, states = h0, [None] * b.shape[1]
  for t in steps:
    h = a[:, t] * h + b[:, t]
    states[t] = h
  return jnp.stack(states, axis=1)


def loop_dense(A, b, h0, reverse):
  """The plain Python loop: h_t = A @ h_{t-1} + b_t."""
  steps = range(b.shape[1] - 1, -1, -1) if reverse else range(b.shape[1])
  h, states = h0, [None] * b.shape[1]
  for t in steps:
    h = A @ h[..., None]
    h = h[..., 0] + b[:, t]
    states[t] = h
  return jnp.stack(states, axis=1)


def matrix_associative(A, b, h0, reverse):
  """A second oracle, independent of the loop: an associative scan over affine maps h -> M h + v, with M
  materialised (B, L, n, n) (small sizes only)."""
  first = -1 if reverse else 0
  b = b.at[:, first].add(h0 @ A.T)
  maps = jnp.broadcast_to(A, (*b.shape[:2], *A.shape))

  def combine(earlier, later):
    m_x, v_x = earlier
    m_y, v_y = later
    return m_y @ m_x, jnp.einsum("...ij,...j->...i", m_y, v_x) + v_y

  _, h = jax.lax.associative_scan(combine, (maps, b), axis=1, reverse=reverse)
  return h


def complex_normal(rng, shape):
  return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def nonlinear_loss(h, weights):
  """A scalar with a cotangent that differs at every position (and mixes real and imaginary parts)."""
  return jnp.sum(jnp.abs(h) ** 2 * weights) + jnp.sum(jnp.real(h) * weights[::-1])


def assert_values_and_grads(scan_fn, reference_fn, args, weights, rtol=1e-10, atol=1e-10):
  np.testing.assert_allclose(scan_fn(*args), reference_fn(*args), rtol=rtol, atol=atol)
  argnums = tuple(range(len(args)))
  grads = jax.grad(lambda *x: nonlinear_loss(scan_fn(*x), weights), argnums=argnums)(*args)
  expected = jax.grad(lambda *x: nonlinear_loss(reference_fn(*x), weights), argnums=argnums)(*args)
  for name, got, want, arg in zip(("a", "b", "h0"), grads, expected, args):
    assert got.shape == arg.shape and got.dtype == arg.dtype, name
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"gradient wrt {name}")


# Odd lengths: 13 pads the chunked scans' last chunk (T = 8), 7 fits in one chunk.
DIRECTIONS_AND_LENGTHS = [(False, 13), (True, 13), (True, 7)]


@pytest.mark.parametrize("impl", scan.DIAG_IMPLS)
@pytest.mark.parametrize("reverse, length", DIRECTIONS_AND_LENGTHS)
def test_diag_matches_loop_time_invariant(x64, impl, reverse, length):
  rng = np.random.default_rng(length)
  a = jnp.asarray(0.95 * np.exp(1j * rng.uniform(0, 2 * np.pi, WIDTH)))  # (n,), complex128
  b = jnp.asarray(complex_normal(rng, (BATCH, length, WIDTH)))
  h0 = jnp.asarray(complex_normal(rng, (BATCH, WIDTH)))
  weights = jnp.asarray(rng.uniform(0.5, 1.5, (BATCH, length, WIDTH)))
  assert_values_and_grads(lambda a, b, h0: scan.diag_scan(a, b, h0, reverse=reverse, impl=impl),
                          lambda a, b, h0: loop_diag(a, b, h0, reverse), (a, b, h0), weights)


@pytest.mark.parametrize("impl", scan.DIAG_IMPLS)
@pytest.mark.parametrize("reverse, a_shape", [(False, (BATCH, 13, WIDTH)), (True, (1, 13, 1)),
                                              (True, (BATCH, 1, WIDTH))])
def test_diag_matches_loop_broadcast_coefficients(x64, impl, reverse, a_shape):
  rng = np.random.default_rng(1)
  length = 13
  a = jnp.asarray(rng.uniform(0.5, 1.0, a_shape) * np.exp(1j * rng.uniform(0, 2 * np.pi, a_shape)))
  b = jnp.asarray(complex_normal(rng, (BATCH, length, WIDTH)))
  h0 = jnp.asarray(complex_normal(rng, (BATCH, WIDTH)))
  weights = jnp.asarray(rng.uniform(0.5, 1.5, (BATCH, length, WIDTH)))
  assert_values_and_grads(lambda a, b, h0: scan.diag_scan(a, b, h0, reverse=reverse, impl=impl),
                          lambda a, b, h0: loop_diag(a, b, h0, reverse), (a, b, h0), weights)


@pytest.mark.parametrize("impl", scan.DIAG_IMPLS)
def test_diag_real_inputs_keep_real_gradients(x64, impl):
  """Real a and b stay real; real b under a complex a gets the real part of its cotangent, as JAX does."""
  rng = np.random.default_rng(2)
  length = 7
  b = jnp.asarray(rng.standard_normal((BATCH, length, WIDTH)))
  h0 = jnp.asarray(rng.standard_normal((BATCH, WIDTH)))
  weights = jnp.asarray(rng.uniform(0.5, 1.5, (BATCH, length, WIDTH)))
  real_a = jnp.asarray(rng.uniform(-0.9, 0.9, WIDTH))
  assert scan.diag_scan(real_a, b, impl=impl).dtype == jnp.float64
  assert_values_and_grads(lambda a, b, h0: scan.diag_scan(a, b, h0, impl=impl),
                          lambda a, b, h0: loop_diag(a, b, h0, False), (real_a, b, h0), weights)
  complex_a = jnp.asarray(0.9 * np.exp(1j * rng.uniform(0, 2 * np.pi, WIDTH)))
  assert_values_and_grads(lambda a, b, h0: scan.diag_scan(a, b, h0, impl=impl),
                          lambda a, b, h0: loop_diag(a, b, h0.astype(a.dtype), False), (complex_a, b, h0),
                          weights)


@pytest.mark.parametrize("impl", scan.DENSE_IMPLS)
@pytest.mark.parametrize("reverse, length", DIRECTIONS_AND_LENGTHS)
def test_dense_matches_loop(x64, impl, reverse, length):
  rng = np.random.default_rng(length)
  A = jnp.asarray(rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH))
  b = jnp.asarray(rng.standard_normal((BATCH, length, WIDTH)))
  h0 = jnp.asarray(rng.standard_normal((BATCH, WIDTH)))
  weights = jnp.asarray(rng.uniform(0.5, 1.5, (BATCH, length, WIDTH)))
  assert_values_and_grads(lambda A, b, h0: scan.dense_scan(A, b, h0, reverse=reverse, impl=impl),
                          lambda A, b, h0: loop_dense(A, b, h0, reverse), (A, b, h0), weights)


@pytest.mark.parametrize("reverse, length", DIRECTIONS_AND_LENGTHS)
def test_matrix_associative_oracle_matches_loop(x64, reverse, length):
  rng = np.random.default_rng(length)
  A = jnp.asarray(rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH))
  b = jnp.asarray(rng.standard_normal((BATCH, length, WIDTH)))
  h0 = jnp.asarray(rng.standard_normal((BATCH, WIDTH)))
  np.testing.assert_allclose(matrix_associative(A, b, h0, reverse), loop_dense(A, b, h0, reverse), rtol=1e-10,
                             atol=1e-10)
  for impl in scan.DENSE_IMPLS:
    np.testing.assert_allclose(scan.dense_scan(A, b, h0, reverse=reverse, impl=impl),
                               matrix_associative(A, b, h0, reverse), rtol=1e-10, atol=1e-10, err_msg=impl)


@pytest.mark.parametrize("impl", ["sequential", "doubling", "chunked"])
def test_dense_complex_matches_loop(x64, impl):
  rng = np.random.default_rng(3)
  length = 13
  A = jnp.asarray(complex_normal(rng, (WIDTH, WIDTH)) / np.sqrt(2 * WIDTH))
  b = jnp.asarray(complex_normal(rng, (BATCH, length, WIDTH)))
  h0 = jnp.asarray(complex_normal(rng, (BATCH, WIDTH)))
  weights = jnp.asarray(rng.uniform(0.5, 1.5, (BATCH, length, WIDTH)))
  assert_values_and_grads(lambda A, b, h0: scan.dense_scan(A, b, h0, reverse=True, impl=impl),
                          lambda A, b, h0: loop_dense(A, b, h0, True), (A, b, h0), weights)


@pytest.mark.slow
def test_long_scans_agree_in_float32():
  """L = 4096, rho(A) = 0.99 < 1: the doubling and chunked scans equal the sequential one in float32.

  Float32 rounding in the doubling scan enters through A^(2^k) for k up to 12; with rho < 1 it stays bounded.
  """
  rng = np.random.default_rng(4)
  n, length = 16, 4096
  q, _ = np.linalg.qr(rng.standard_normal((n, n)))
  A = jnp.asarray(0.99 * q, jnp.float32)
  assert float(np.max(np.abs(np.linalg.eigvals(np.asarray(A))))) < 1
  b = jnp.asarray(rng.standard_normal((2, length, n)), jnp.float32)
  ref = scan.dense_scan(A, b, impl="sequential")
  scale = float(jnp.max(jnp.abs(ref)))
  for impl in ("doubling", "chunked"):
    np.testing.assert_allclose(scan.dense_scan(A, b, impl=impl), ref, atol=1e-4 * scale, err_msg=impl)


@pytest.mark.parametrize("impl, low", [(impl, jnp.bfloat16) for impl in scan.DIAG_IMPLS] +
                         [("sequential", jnp.float16)])
def test_diag_low_precision_accumulates_in_float32(impl, low):
  """h_t = h_{t-1} + 1 = t + 1 up to 300: a bfloat16 accumulator would stall at 256; float32 is exact."""
  length = 300
  b = jnp.ones((1, length, 3), low)
  h = scan.diag_scan(jnp.ones((3,), low), b, impl=impl)
  assert h.dtype == jnp.float32
  np.testing.assert_array_equal(h[0, :, 0], np.arange(1, length + 1))
  grads = jax.grad(lambda a, b: jnp.sum(scan.diag_scan(a, b, impl=impl)), argnums=(0, 1))(jnp.ones((3,), low), b)
  assert grads[0].dtype == low and grads[1].dtype == low
  # d sum(h) / d b_t = L - t, computed in float32, rounded once to the input's precision
  expected = jnp.arange(length, 0, -1, dtype=jnp.float32).astype(low)
  np.testing.assert_array_equal(grads[1][0, :, 0], expected)


@pytest.mark.parametrize("impl", ["sequential", "doubling", "chunked"])
def test_dense_low_precision_accumulates_in_float32(impl):
  length = 300
  h = scan.dense_scan(jnp.eye(3, dtype=jnp.bfloat16), jnp.ones((1, length, 3), jnp.bfloat16), impl=impl)
  assert h.dtype == jnp.float32
  np.testing.assert_array_equal(h[0, :, 1], np.arange(1, length + 1))


def test_jit_and_vmap_compose():
  rng = np.random.default_rng(5)
  a = jnp.asarray(0.9 * np.exp(1j * rng.uniform(0, 6, WIDTH)), jnp.complex64)
  b = jnp.asarray(complex_normal(rng, (3, BATCH, 9, WIDTH)), jnp.complex64)
  batched = jax.jit(jax.vmap(lambda b: scan.diag_scan(a, b, impl="chunked")))(b)
  np.testing.assert_allclose(batched[1], scan.diag_scan(a, b[1], impl="sequential"), rtol=1e-5, atol=1e-5)


def test_resolve_impl_auto_and_names():
  assert scan.resolve_impl("diag", "auto", "cpu") == "sequential"
  assert scan.resolve_impl("dense", "auto", "cpu") == "sequential"
  assert scan.resolve_impl("diag", "auto", "gpu") in scan.DIAG_IMPLS
  assert scan.resolve_impl("dense", "auto", "cuda") in scan.DENSE_IMPLS
  assert scan.resolve_impl("diag", "auto") == scan.resolve_impl("diag", "auto", jax.default_backend())
  for kind, impls in (("diag", scan.DIAG_IMPLS), ("dense", scan.DENSE_IMPLS)):
    for impl in impls:
      assert scan.resolve_impl(kind, impl) == impl


def test_errors_name_the_bad_value_and_the_valid_ones():
  b = jnp.zeros((1, 4, 3))
  with pytest.raises(ValueError, match=r"'bogus'.*sequential.*associative"):
    scan.diag_scan(jnp.ones(3), b, impl="bogus")
  with pytest.raises(ValueError, match=r"'associative'.*doubling"):
    scan.dense_scan(jnp.eye(3), b, impl="associative")
  with pytest.raises(ValueError, match=r"'lstm'.*dense.*diag"):
    scan.resolve_impl("lstm", "auto")
  with pytest.raises(ValueError, match=r"'fpga'"):
    scan.resolve_impl("diag", "auto", "fpga")
  with pytest.raises(ValueError, match=r"\(batch, length, n\)"):
    scan.diag_scan(jnp.ones(3), jnp.zeros((4, 3)))
  with pytest.raises(ValueError, match=r"A must be \(n, n\)"):
    scan.dense_scan(jnp.eye(2), b)
  with pytest.raises(ValueError, match=r"does not broadcast"):
    scan.diag_scan(jnp.ones(2), b)
  with pytest.raises(ValueError, match=r"h0 must be"):
    scan.diag_scan(jnp.ones(3), b, jnp.zeros((2, 3)))


@pytest.mark.parametrize("kind", ["diag", "dense"])
@pytest.mark.parametrize("reverse", [False, True])
def test_kept_states_keep_exact_gradients(x64, kind, reverse):
  """Under jax.checkpoint keeping scan.STATES (complex128 states: tagged as real and imaginary parts), values
  and gradients are the loop's (batch 3: the dense backward's flattened dA crosses two sequence boundaries)."""
  rng = np.random.default_rng(4)
  batch, length = 3, 9
  b = jnp.asarray(complex_normal(rng, (batch, length, WIDTH)))
  h0 = jnp.asarray(complex_normal(rng, (batch, WIDTH)))
  weights = jnp.asarray(rng.uniform(0.5, 1.5, (batch, length, WIDTH)))
  if kind == "diag":
    coefficient = jnp.asarray(0.9 * np.exp(1j * rng.uniform(0, 2 * np.pi, WIDTH)))
    scan_fn, loop = scan.diag_scan, loop_diag
  else:
    coefficient = jnp.asarray(complex_normal(rng, (WIDTH, WIDTH)) / np.sqrt(2 * WIDTH))
    scan_fn, loop = scan.dense_scan, loop_dense
  kept = jax.checkpoint(lambda c, b, h0: scan_fn(c, b, h0, reverse=reverse),
                        policy=jax.checkpoint_policies.save_only_these_names(scan.STATES))
  assert_values_and_grads(kept, lambda c, b, h0: loop(c, b, h0, reverse), (coefficient, b, h0), weights)
