"""models/remat.py and the kernels' checkpoint (models/cpu_kernels.py): recomputation with kept values gives
autodiff's gradients, and kept scan states are not recomputed; every remat of the classifier gives the same
values and gradients for every block and option."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.ad_checkpoint import checkpoint_name

from models import cpu_kernels
from models import remat
from models import scan
from tests.models.test_model import _build


def _fn(differentiable, others):
  """A matmul output and a scan's states, both tagged for keeping, then elementwise work."""
  x, W, A = differentiable
  u = checkpoint_name(jnp.tanh(x) @ W, "u")
  h = scan.dense_scan(A, u)
  return jnp.sin(h) * others


@pytest.mark.parametrize("kernels", cpu_kernels.KERNELS)
@pytest.mark.parametrize("names", [(), ("u",), (scan.STATES,), ("u", scan.STATES)])
def test_recompute_with_kept_values_gives_autodiff_gradients(x64, names, kernels):
  """Whatever is kept, the values and the gradients for the inputs and the parameters are plain autodiff's."""
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((2, 7, 4)))
  W = jnp.asarray(rng.standard_normal((4, 3)))
  A = jnp.asarray(rng.standard_normal((3, 3)) / 3)
  scale = jnp.asarray(rng.standard_normal((2, 7, 3)))
  wrapped = cpu_kernels.get(kernels).checkpoint(_fn, names)
  plain = lambda d: _fn(d, scale)  # noqa: E731
  np.testing.assert_allclose(wrapped((x, W, A), scale), plain((x, W, A)), rtol=1e-12)
  got = jax.grad(lambda d: jnp.sum(wrapped(d, scale) ** 2))((x, W, A))
  want = jax.grad(lambda d: jnp.sum(plain(d) ** 2))((x, W, A))
  for g, w in zip(got, want):
    np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def _loops_in_gradient(names, complex_states):
  """The number of loops in the compiled gradient of a projection + scan under the CPU kernels' checkpoint (the
  forward scan, its adjoint, and the forward scan again when its states are not kept), after checking the
  gradient against autodiff's."""
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.standard_normal((2, 16, 4)), jnp.float32)
  W = jnp.asarray(rng.standard_normal((4, 3)), jnp.float32)
  a = jnp.asarray([0.5 + 0.3j, -0.2 + 0.6j, 0.9 + 0.0j], jnp.complex64)

  def fn(differentiable, others):
    x, W = differentiable
    u = jnp.tanh(x) @ W
    h = scan.diag_scan(a, u.astype(jnp.complex64)) if complex_states else scan.dense_scan(0.5 * jnp.eye(3), u)
    return jnp.sin(jnp.real(h)) * others

  loss = lambda f: lambda d: jnp.sum(f(d, 2.0) ** 2)  # noqa: E731
  grad = jax.jit(jax.grad(loss(cpu_kernels.recompute_in_backward(fn, names))))
  for g, w in zip(grad((x, W)), jax.grad(loss(fn))((x, W))):
    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
  return grad.lower((x, W)).compile().as_text().count(" while(")


@pytest.mark.parametrize("complex_states", [False, True])
def test_kept_states_are_not_recomputed(complex_states):
  """Keeping scan.STATES drops the second forward loop (complex states too, which jax.checkpoint cannot save
  as they are); keeping nothing recomputes it."""
  assert _loops_in_gradient((), complex_states) == 3
  assert _loops_in_gradient((scan.STATES,), complex_states) == 2


@pytest.mark.parametrize("recurrence, init, options", [
    ("dense", "glorot_half", {}),
    ("diag", "diag_uniform", {"bidirectional": True}),
    ("lru", "lru_ring", {"recurrent_layer_norm": True}),
    ("dense", "glorot_half", {"bidirectional": True, "recurrent_layer_norm": True, "dropout": 0.2}),
])
def test_every_remat_gives_the_same_values_and_gradients(recurrence, init, options):
  batch, length = 3, 12
  tokens = jax.random.randint(jax.random.key(0), (batch, length), 1, 11)
  lengths = jnp.asarray([12, 5, 1], jnp.int32)
  results = {}
  remat_modes = ("none", *remat.KEEPS)
  for mode in remat_modes:
    model = _build(recurrence=recurrence, init=init, d_model=8, d_hidden=6, n_layers=2, remat=mode, **options)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss(params):
      m = nnx.merge(graphdef, params, rest, copy=True)
      logits, stats = m(tokens, lengths, train=True, dropout_key=jax.random.key(1))
      return jnp.sum(logits ** 2), (logits, stats, nnx.split(m, nnx.Param, ...)[2])

    results[mode] = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
  for mode in remat_modes[1:]:
    for got, want in zip(jax.tree.leaves(results[mode]), jax.tree.leaves(results["none"])):
      np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-5, atol=1e-6, err_msg=mode)


@pytest.mark.bench
def test_remat_lowers_xla_temp_memory_and_kept_values_save_flops():
  """Benchmark-like: XLA's own estimates for the compiled gradient of a 3-layer dense classifier. Temporary
  memory is well below plain autodiff's with "full", and below it with "states" and "elementwise" (the
  recomputation waits for the cotangent: jax.checkpoint alone gives "none"'s temporaries on XLA:CPU); "states"
  does fewer flops than "full" (no scan runs twice), "elementwise" fewer still (no matmul either)."""
  batch, length = 8, 128
  tokens = jax.random.randint(jax.random.key(0), (batch, length), 1, 11)
  lengths = jnp.asarray(np.linspace(1, length, batch).astype(np.int32))
  temp, flops = {}, {}
  for mode in remat.REMATS:
    model = _build(recurrence="dense", init="glorot_half", d_model=32, d_hidden=16, n_layers=3, remat=mode)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss(params):
      logits, _ = nnx.merge(graphdef, params, rest, copy=True)(tokens, lengths, train=True)
      return jnp.sum(logits ** 2)

    compiled = jax.jit(jax.grad(loss)).lower(params).compile()
    temp[mode] = compiled.memory_analysis().temp_size_in_bytes
    cost = compiled.cost_analysis()
    flops[mode] = (cost[0] if isinstance(cost, (list, tuple)) else cost)["flops"]
  assert temp["full"] < 0.7 * temp["none"], temp
  assert temp["states"] < temp["elementwise"] < temp["none"], temp
  assert flops["elementwise"] < 0.9 * flops["full"] and flops["elementwise"] < flops["states"] < flops["full"], flops
