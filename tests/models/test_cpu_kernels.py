"""models/cpu_kernels.py: the XLA:CPU kernels compute the plain math (values and gradients), each kernel alone in
float64 and a whole model in float32 on a fixed batch; "auto" picks per platform and reaches every module."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import models
from models import cpu_kernels
from models import scan
from tests.models.test_model import _model_cfg, _runner, _tokens

PLAIN, CPU = cpu_kernels.PLAIN, cpu_kernels.CPU


def _assert_trees_close(got, want, rtol, atol=0.0):
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
    np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=atol)


def test_auto_picks_per_platform_and_names_are_checked():
  assert [cpu_kernels.resolve_kernels("auto", p) for p in ("cpu", "gpu", "cuda", "rocm", "tpu")] == [
      "cpu", "plain", "plain", "plain", "plain"]
  assert cpu_kernels.resolve_kernels("plain", "cpu") == "plain"
  assert cpu_kernels.get("cpu") is CPU and cpu_kernels.get("plain") is PLAIN
  with pytest.raises(ValueError, match=r"kernels='fast'; valid: \['auto', 'plain', 'cpu'\]"):
    cpu_kernels.resolve_kernels("fast")
  with pytest.raises(ValueError, match="unknown platform 'fpga'"):
    cpu_kernels.resolve_kernels("auto", "fpga")
  with pytest.raises(ValueError, match=r"kernels='auto'; valid: \['plain', 'cpu'\]"):
    cpu_kernels.get("auto")


def test_matmul_and_glu_equal_the_plain_math_with_gradients(x64):
  rng = np.random.default_rng(0)
  x, weights = jnp.asarray(rng.standard_normal((3, 7, 5))), jnp.asarray(rng.standard_normal((3, 7, 4)))
  kernel = jnp.asarray(rng.standard_normal((5, 4)))
  for k in (PLAIN, CPU):  # against an einsum, independent of both
    got = jax.value_and_grad(lambda x, w: jnp.sum(k.matmul(x, w) * weights), argnums=(0, 1))(x, kernel)
    want = jax.value_and_grad(lambda x, w: jnp.sum(jnp.einsum("bld,de->ble", x, w) * weights),
                              argnums=(0, 1))(x, kernel)
    _assert_trees_close(got, want, rtol=1e-12)
  assert CPU.matmul(x[0, 0], kernel).shape == (4,)
  with pytest.raises(ValueError, match=r"x \(\.\.\., 5\) does not match kernel \(4, 3\) \(d_in, d_out\)"):
    CPU.matmul(jnp.ones((2, 5)), jnp.ones((4, 3)))

  linear = nnx.Linear(5, 8, param_dtype=jnp.float64, rngs=nnx.Rngs(0))
  graphdef, params = nnx.split(linear)

  def glu_loss(k):
    def loss(params, x):
      value, gate = k.glu(nnx.merge(graphdef, params), x)
      return jnp.sum(value * jax.nn.sigmoid(gate) * weights)
    return jax.value_and_grad(loss, argnums=(0, 1))(params, x)
  _assert_trees_close(glu_loss(CPU), glu_loss(PLAIN), rtol=1e-12)


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_axis_equals_a_python_loop(x64, reverse):
  """Both kernels' loops (in place with one input; a separate output with two; final state only) against a loop."""
  rng = np.random.default_rng(1)
  a, b = (jnp.asarray(rng.standard_normal((2, 3, 6, 4))) for _ in range(2))
  h0 = jnp.asarray(rng.standard_normal((2, 3, 4)))
  order = range(5, -1, -1) if reverse else range(6)
  h, want = h0, np.zeros(b.shape)
  for t in order:
    h = a[:, :, t] * h + b[:, :, t]
    want[:, :, t] = h
  for k in (PLAIN, CPU):
    final, states = k.scan_axis(lambda h, b_t: 0.5 * h + b_t, h0, [b], 2, reverse=reverse)
    h1 = h0
    for t in order:
      h1 = 0.5 * h1 + b[:, :, t]
    np.testing.assert_allclose(final, h1, rtol=1e-12)
    final, states = k.scan_axis(lambda h, a_t, b_t: a_t * h + b_t, h0, [a, b], 2, reverse=reverse)
    np.testing.assert_allclose(states, want, rtol=1e-12)
    np.testing.assert_allclose(final, h, rtol=1e-12)
    final, states = k.scan_axis(lambda h, a_t, b_t: a_t * h + b_t, h0, [a, b], 2, reverse=reverse,
                                keep_states=False)
    assert states is None
    np.testing.assert_allclose(final, h, rtol=1e-12)


@pytest.mark.parametrize("reverse", [False, True])
def test_dense_grad_A_equals_the_sum_of_outer_products(x64, reverse):
  rng = np.random.default_rng(2)
  adjoint, h = (jnp.asarray(rng.standard_normal((3, 5, 4))) for _ in range(2))
  h0 = jnp.asarray(rng.standard_normal((3, 4)))
  want = np.zeros((4, 4))
  for b in range(3):
    for t in range(5):
      prev = h0[b] if t == (4 if reverse else 0) else h[b, t + 1 if reverse else t - 1]
      want += np.outer(adjoint[b, t], prev)
  for k in (PLAIN, CPU):
    np.testing.assert_allclose(k.dense_grad_A(adjoint, h, h0, reverse), want, rtol=1e-12)


@pytest.mark.parametrize("kind", ["dense", "diag"])
@pytest.mark.parametrize("reverse", [False, True])
def test_scans_give_the_same_values_and_gradients_with_either_kernels(x64, kind, reverse):
  """The implementations that loop (sequential, chunked: the kernels' scan_axis and, sequential, the diagonal
  adjoint) with time-invariant and (diag) time-varying coefficients and an h0; the dense dA of every
  implementation is the kernels' dense_grad_A, tested above."""
  impls = ("sequential", "chunked")
  rng = np.random.default_rng(3)
  b = jnp.asarray(rng.standard_normal((2, 11, 3)) + 1j * rng.standard_normal((2, 11, 3)))
  h0 = jnp.asarray(rng.standard_normal((2, 3)) + 0j)
  weights = jnp.asarray(rng.standard_normal((2, 11, 3)))
  if kind == "dense":
    b, h0 = jnp.real(b), jnp.real(h0)
    coefficients = [jnp.asarray(rng.standard_normal((3, 3)) / 3)]
    fn = scan.dense_scan
  else:
    coefficients = [jnp.asarray(0.9 * np.exp(1j * rng.uniform(0, 3, 3))),
                    jnp.asarray(0.9 * rng.uniform(-1, 1, (2, 11, 3)) + 0.1j)]
    fn = scan.diag_scan
  for a in coefficients:
    for impl in impls:
      def loss_and_grads(kernels):
        def loss(a, b, h0):
          return jnp.sum(jnp.real(fn(a, b, h0, reverse=reverse, impl=impl, kernels=kernels)) * weights)
        return jax.value_and_grad(loss, argnums=(0, 1, 2))(a, b, h0)
      _assert_trees_close(loss_and_grads("cpu"), loss_and_grads("plain"), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("recurrence, init, options", [
    ("dense", "glorot_half", {"remat": "states"}),
    ("diag", "diag_uniform", {"remat": "elementwise", "bidirectional": True}),
    ("lru", "lru_ring", {"remat": "none", "scan": "associative"}),  # a GPU's scans, as "auto" picks them there
    ("dense", "glorot_half", {"remat": "full", "bidirectional": True, "norm": "layer", "scan": "doubling"}),
])
def test_a_model_gives_the_same_loss_and_gradients_with_either_kernels(recurrence, init, options):
  """A float32 model on a fixed padded batch, built twice from one key: same logits, stats, BatchNorm statistics
  and gradients to float32 rounding (the kernels order some sums differently)."""
  task = models.TaskShape(vocab_size=11, num_outputs=3)
  cfg = _model_cfg(recurrence=recurrence, init=init, **options)
  built = {k: models.build(cfg, task, rngs=nnx.Rngs(params=0), kernels=k) for k in cpu_kernels.KERNELS}
  assert {layer.kernels for layer in built["plain"].backbone.layers} == {"plain"}
  assert {layer.block.kernels for layer in built["cpu"].backbone.layers} == {"cpu"}
  inputs = _tokens(0)
  got = _runner(built["cpu"], train=True)(inputs)
  want = _runner(built["plain"], train=True)(inputs)
  _assert_trees_close(got, want, rtol=2e-5, atol=2e-6)


def test_auto_reaches_every_layer_and_block():
  model = models.build(_model_cfg(), models.TaskShape(vocab_size=11), rngs=nnx.Rngs(params=0))
  want = cpu_kernels.resolve_kernels("auto", jax.default_backend())
  assert {layer.kernels for layer in model.backbone.layers} == {want}
  assert {layer.block.kernels for layer in model.backbone.layers} == {want}
