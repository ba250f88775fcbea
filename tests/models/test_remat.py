"""models/remat.py: recomputation with kept values gives autodiff's gradients; `reuse` and its errors; every
remat of the classifier gives the same values and gradients for every block and option."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from models import classifier, remat
from models import scan
from tests.models.test_classifier import _build


def test_recompute_with_kept_values_gives_autodiff_gradients(x64):
  """fn keeps a matmul output and a scan's states and reuses them in the backward pass: same gradients as
  plain autodiff, for the inputs and the parameters."""
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.standard_normal((2, 7, 4)))
  W = jnp.asarray(rng.standard_normal((4, 3)))
  A = jnp.asarray(rng.standard_normal((3, 3)) / 3)

  def fn(differentiable, others, saved):
    x, W, A = differentiable
    saved = saved or {}
    u = remat.reuse(jnp.tanh(x) @ W, saved.get("u"))
    h = scan.dense_scan(A, u, states=saved.get("h"))
    return jnp.sin(h) * others, {"u": u, "h": h}

  scale = jnp.asarray(rng.standard_normal((2, 7, 3)))
  wrapped = remat.recompute_in_backward(fn)
  plain = lambda d: fn(d, scale, None)[0]  # noqa: E731
  np.testing.assert_allclose(wrapped((x, W, A), scale), plain((x, W, A)), rtol=1e-12)
  got = jax.grad(lambda d: jnp.sum(wrapped(d, scale) ** 2))((x, W, A))
  want = jax.grad(lambda d: jnp.sum(plain(d) ** 2))((x, W, A))
  for g, w in zip(got, want):
    np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_reuse_returns_saved_with_the_values_gradient():
  x = jnp.arange(3.0)
  assert remat.reuse(x, None) is x
  np.testing.assert_array_equal(remat.reuse(x * 2, jnp.ones(3)), jnp.ones(3))
  grad = jax.grad(lambda x: jnp.sum(remat.reuse(x ** 2, jnp.full(3, 7.0)) * jnp.arange(1.0, 4.0)))(x)
  np.testing.assert_allclose(grad, 2 * x * jnp.arange(1.0, 4.0))  # d(x^2)/dx, whatever the saved value
  with pytest.raises(ValueError, match=r"reuse: saved \(2,\) float32 does not match the value \(3,\) float32"):
    remat.reuse(x, jnp.ones(2))


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
  remat_modes = ("none", *classifier.REMAT_KEEPS)
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
