"""Tests of the dual-encoder head against independent computations: pair row order, pooled means (a numpy loop),
the MLP (float64 numpy), padding that never reaches the output, and swapped documents (only e1 - e2 flips)."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from configs import retrieval as retrieval_config
from lra.tasks import get_task
import models
from models import dual_encoder

B, L, D = 3, 7, 5


def features_and_mask(seed=0, lengths=(7, 2, 4, 1, 5, 3)):
  """x (2B, L, d) with garbage (huge values, NaN) at padded positions, mask (2B, L) from the lengths."""
  rng = np.random.default_rng(seed)
  x = rng.standard_normal((len(lengths), L, D)).astype(np.float32)
  mask = np.arange(L)[None, :] < np.asarray(lengths)[:, None]
  return x, mask


def with_garbage(x, mask, seed):
  rng = np.random.default_rng(seed)
  garbage = np.where(rng.random(x.shape) < 0.5, 1e6 * rng.standard_normal(x.shape), np.nan).astype(np.float32)
  return np.where(mask[..., None], x, garbage)


def head(seed=0, hidden=6, num_classes=2):
  return dual_encoder.DualEncoderHead(D, num_classes, hidden=hidden, rngs=nnx.Rngs(params=seed))


def test_pair_rows_order():
  inputs = np.arange(B * 2 * L).reshape(B, 2, L)
  lengths = np.array([[1, 2], [3, 4], [5, 6]])
  rows, row_lengths = dual_encoder.pair_rows(inputs, lengths)
  expected = [inputs[i, 0] for i in range(B)] + [inputs[i, 1] for i in range(B)]
  np.testing.assert_array_equal(rows, np.stack(expected))
  assert row_lengths.tolist() == [1, 3, 5, 2, 4, 6]
  values, _ = dual_encoder.pair_rows(jnp.zeros((B, 2, L, 4)), jnp.asarray(lengths))  # value inputs, jax arrays
  assert values.shape == (2 * B, L, 4)
  with pytest.raises(ValueError, match=r"pair_rows: inputs must be \(B, 2, L, ...\) and lengths \(B, 2\)"):
    dual_encoder.pair_rows(inputs[:, :1], lengths)


def test_pooled_means_equal_a_numpy_loop():
  x, mask = features_and_mask()
  e1, e2 = head().pooled(jnp.asarray(with_garbage(x, mask, 1)), jnp.asarray(mask))
  for row in range(2 * B):
    total = np.zeros(D)
    count = 0
    for t in range(L):
      if mask[row, t]:
        total += x[row, t].astype(np.float64)
        count += 1
    pooled = e1[row] if row < B else e2[row - B]
    np.testing.assert_allclose(pooled, total / count, rtol=1e-5, atol=1e-6)


def test_features_and_logits_match_float64_numpy():
  x, mask = features_and_mask()
  module = head(hidden=6, num_classes=3)
  logits = module(jnp.asarray(x), jnp.asarray(mask))
  assert logits.shape == (B, 3) and logits.dtype == jnp.float32
  means = np.stack([x[r, mask[r]].astype(np.float64).mean(0) for r in range(2 * B)])
  e1, e2 = means[:B], means[B:]
  feats = np.concatenate([e1, e2, e1 * e2, e1 - e2], axis=1)
  np.testing.assert_allclose(module.features(jnp.asarray(x), jnp.asarray(mask)), feats, rtol=1e-5, atol=1e-6)
  w1, b1 = (np.asarray(v[...], np.float64) for v in (module.hidden_layer.kernel, module.hidden_layer.bias))
  w2, b2 = (np.asarray(v[...], np.float64) for v in (module.output_layer.kernel, module.output_layer.bias))
  z = feats @ w1 + b1
  gelu = 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))  # jax.nn.gelu's tanh form
  np.testing.assert_allclose(logits, gelu @ w2 + b2, rtol=1e-4, atol=1e-5)


def test_padding_never_changes_the_output():
  x, mask = features_and_mask()
  module = head()
  clean = module(jnp.asarray(np.where(mask[..., None], x, 0.0)), jnp.asarray(mask))
  for seed in (1, 2):
    dirty = module(jnp.asarray(with_garbage(x, mask, seed)), jnp.asarray(mask))
    assert np.all(np.isfinite(dirty))
    np.testing.assert_array_equal(dirty, clean)


def swap_documents(x, mask):
  """The same pairs with their two documents exchanged (rows B.. first)."""
  return np.concatenate([x[B:], x[:B]]), np.concatenate([mask[B:], mask[:B]])


def test_swapping_documents_flips_only_the_difference():
  x, mask = features_and_mask()
  module = head()
  f = np.asarray(module.features(jnp.asarray(x), jnp.asarray(mask)))
  g = np.asarray(module.features(*map(jnp.asarray, swap_documents(x, mask))))
  np.testing.assert_array_equal(g[:, :D], f[:, D:2 * D])         # e1 <-> e2
  np.testing.assert_array_equal(g[:, D:2 * D], f[:, :D])
  np.testing.assert_allclose(g[:, 2 * D:3 * D], f[:, 2 * D:3 * D], rtol=1e-6)  # e1 * e2 unchanged
  np.testing.assert_array_equal(g[:, 3 * D:], -f[:, 3 * D:])     # e1 - e2 changes sign
  assert np.abs(f[:, 3 * D:]).min() > 0  # so the sign flip is visible


def test_pair_model_on_fixture_pairs(tmp_path):
  """models.build's model for retrieval (one backbone on both documents, then the dual-encoder head) on pairs read
  from the fixture TSVs: padding tokens (other ids, more of them) never change the logits, and swapping the
  documents flips only e1 - e2."""
  c = retrieval_config.get_config("cpu")
  c.model.update(d_model=8, d_hidden=16, n_layers=1, init="glorot_half", remat="none")
  c.data.cache_dir = str(tmp_path)
  c.data.max_length = 48
  c.data.retrieval.update(fixture_num_train=8, fixture_num_val=2, fixture_num_test=4, fixture_min_words=3,
                          fixture_max_words=12)
  task = get_task("retrieval", c.data)
  test = task.load("test")
  assert test.lengths.min() < 48  # some padding to disturb
  model = models.build(c.model, task, rngs=nnx.Rngs(params=0))
  assert isinstance(model.head, dual_encoder.DualEncoderHead) and model.head.output_layer.out_features == 2

  @nnx.jit
  def forward(model, inputs, lengths):
    logits, _ = model(inputs, lengths, train=False)
    rows, row_lengths = dual_encoder.pair_rows(inputs, lengths)
    x, mask, _ = model.backbone(rows, row_lengths, train=False)
    return logits, model.head.features(x, mask)

  def run(inputs, lengths):
    return tuple(map(np.asarray, forward(model, jnp.asarray(inputs), jnp.asarray(lengths))))

  inputs, lengths = test.model_inputs(np.arange(4)), test.lengths
  logits, feats = run(inputs, lengths)
  rng = np.random.default_rng(0)
  padded = np.concatenate([inputs, np.zeros((4, 2, 16), np.int32)], axis=2)
  real = np.arange(64)[None, None, :] < lengths[..., None]
  padded = np.where(real, padded, rng.integers(1, task.vocab_size, padded.shape)).astype(np.int32)
  np.testing.assert_allclose(run(padded, lengths)[0], logits, rtol=1e-5, atol=1e-6)
  _, swapped = run(inputs[:, ::-1], lengths[:, ::-1])
  d = 8
  np.testing.assert_allclose(swapped[:, :2 * d], np.concatenate([feats[:, d:2 * d], feats[:, :d]], 1),
                             rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(swapped[:, 2 * d:3 * d], feats[:, 2 * d:3 * d], rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(swapped[:, 3 * d:], -feats[:, 3 * d:], rtol=1e-5, atol=1e-7)
