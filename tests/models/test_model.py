"""Tests of the model and `models.build`: padding invariance, masked BatchNorm and pooling, config errors."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

import models
from models import heads, remat


def _model_cfg(**overrides):
  cfg = ml_collections.ConfigDict(dict(
      recurrence="diag", init="lru_ring",
      init_params=ml_collections.ConfigDict(dict(k=None, delta=None, half_of=None)),
      d_model=8, d_hidden=6, n_layers=2, norm="batch", dropout=0.0, scan="auto", recurrent_layer_norm=False,
      bidirectional=False, double_gelu=False, remat="full", pooling="mean"))
  cfg.update(overrides)
  return cfg


def _build(vocab_size=11, input_dim=1, num_classes=3, seed=0, **overrides):
  task = models.TaskShape(vocab_size=vocab_size, input_dim=input_dim, num_outputs=num_classes)
  return models.build(_model_cfg(**overrides), task, rngs=nnx.Rngs(params=seed))


LENGTHS = np.array([9, 4, 1], np.int32)


def _tokens(seed, length=9):
  return np.random.default_rng(seed).integers(1, 11, (len(LENGTHS), length)).astype(np.int32)


def _repad(inputs, fill):
  mask = np.arange(inputs.shape[1])[None, :] < LENGTHS[:, None]
  if inputs.ndim == 3:
    mask = mask[..., None]
  return np.where(mask, inputs, fill)


def _logits(model, inputs, *, train, dropout_key=None):
  """Logits of one jitted forward pass; the model is left untouched."""
  graphdef, state = nnx.split(model)
  return jax.jit(lambda state, inputs: nnx.merge(graphdef, state, copy=True)(
      inputs, jnp.asarray(LENGTHS), train=train, dropout_key=dropout_key)[0])(state, jnp.asarray(inputs))


def _runner(model, *, train, dropout_key=None):
  """A jitted inputs -> (logits, stats, grads, new BatchNorm state) of one forward + backward; model untouched."""
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)

  @jax.jit
  def step(inputs):
    def loss(params):
      m = nnx.merge(graphdef, params, rest, copy=True)
      logits, stats = m(inputs, jnp.asarray(LENGTHS), train=train, dropout_key=dropout_key)
      return jnp.sum(logits ** 2), (logits, stats, nnx.split(m, nnx.Param, ...)[2])
    (_, (logits, stats, new_rest)), grads = jax.value_and_grad(loss, has_aux=True)(params)
    return logits, stats, grads, new_rest

  return lambda inputs: step(jnp.asarray(inputs))


@pytest.mark.parametrize("recurrence,norm,train", [("diag", "batch", False), ("dense", "layer", True),
                                                   ("lru", "batch", True)])
def test_padded_tokens_do_not_change_anything(recurrence, norm, train):
  """Other tokens at padded positions: same logits, stats, gradients and BatchNorm running statistics."""
  model = _build(recurrence=recurrence, norm=norm, dropout=0.1, init="lru_ring")
  tokens = _tokens(0)
  key = jax.random.key(7) if train else None
  run = _runner(model, train=train, dropout_key=key)
  first, second = run(tokens), run(_repad(tokens, 10))
  for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)
  assert first[0].shape == (3, 3)
  assert set(first[1]) == {f"layer_{i}/{s}" for i in range(2) for s in ("max_abs_h", "final_state_norm")}


def test_padded_pixels_do_not_change_the_logits():
  model = _build(vocab_size=None, input_dim=2, recurrence="dense", init="glorot_half")
  pixels = np.random.default_rng(1).standard_normal((3, 9, 2)).astype(np.float32)
  run = _runner(model, train=True)
  first, second = run(pixels), run(_repad(pixels, 1e4))
  np.testing.assert_allclose(first[0], second[0], rtol=1e-6)
  for a, b in zip(jax.tree.leaves(first[2]), jax.tree.leaves(second[2])):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)


def test_batch_norm_statistics_use_real_tokens_only():
  """After one training call, layer 0's running mean = 0.01 * (encoder output averaged over real tokens)."""
  model = _build()
  tokens = _tokens(2)
  _, _, _, new_rest = _runner(model, train=True)(tokens)
  embedded = np.asarray(model.backbone.encoder(jnp.asarray(tokens)))
  mask = np.arange(9)[None, :] < LENGTHS[:, None]
  expected_mean = embedded[mask].mean(axis=0)
  running_mean = new_rest["backbone"]["layers"][0]["norm"]["mean"][...]
  np.testing.assert_allclose(running_mean, (1 - 0.99) * expected_mean, rtol=1e-4, atol=1e-7)


def test_masked_mean_matches_naive_mean_and_handles_empty_rows():
  x = np.random.default_rng(3).standard_normal((3, 5, 2)).astype(np.float32)
  lengths = np.array([5, 2, 0])
  mask = np.arange(5)[None, :] < lengths[:, None]
  pooled = np.asarray(heads.masked_mean(jnp.asarray(x), jnp.asarray(mask)))
  np.testing.assert_allclose(pooled[0], x[0].mean(0), rtol=1e-6)
  np.testing.assert_allclose(pooled[1], x[1, :2].mean(0), rtol=1e-6)
  np.testing.assert_array_equal(pooled[2], 0.0)


def test_remat_names_are_checked_and_auto_picks_by_platform():
  with pytest.raises(ValueError, match=r"config.model.remat='partial'; valid: \['auto', 'none', 'full', 'states', "
                                       r"'elementwise'\]"):
    _build(recurrence="dense", init="glorot_half", d_model=8, d_hidden=4, n_layers=1, remat="partial")
  assert [remat.resolve_remat("auto", p) for p in ("cpu", "gpu", "cuda", "rocm", "tpu")] == [
      "states", "none", "none", "none", "none"]
  assert remat.resolve_remat("full", "gpu") == "full"
  with pytest.raises(ValueError, match="unknown platform 'fpga'"):
    remat.resolve_remat("auto", "fpga")
  model = _build(recurrence="dense", init="glorot_half", d_model=8, d_hidden=4, n_layers=1, remat="auto")
  assert model.backbone.layers[0].remat == remat.resolve_remat("auto", jax.default_backend())


def test_dropout_masks_follow_their_definition():
  """The layer's dropout is the definition: keep (example, feature) with probability 1 - rate, one mask for
  every time step, kept entries scaled by 1 / (1 - rate), drawn from the given key alone: the mask is exactly
  jax.random.bernoulli(key, 1 - rate, (B, 1, d)), its keep rate is 1 - rate within 4 standard errors."""
  rate, (batch, length, width) = 0.3, (64, 6, 128)
  layer = _build(dropout=rate, n_layers=1).backbone.layers[0]
  x = jax.random.normal(jax.random.key(3), (batch, length, width)) + 2.0  # no zero entries
  key = jax.random.key(0)
  dropped = np.asarray(layer.dropout(x, deterministic=False, rngs=key))
  kept = dropped != 0
  np.testing.assert_array_equal(kept, np.broadcast_to(kept[:, :1], kept.shape))  # shared over time
  np.testing.assert_array_equal(kept[:, 0], np.asarray(jax.random.bernoulli(key, 1 - rate, (batch, width))))
  np.testing.assert_allclose(dropped[kept], np.asarray(x)[kept] / (1 - rate), rtol=1e-6)
  keep_rate, n = kept[:, 0].mean(), batch * width
  assert abs(keep_rate - (1 - rate)) < 4 * np.sqrt(rate * (1 - rate) / n), keep_rate
  np.testing.assert_array_equal(layer.dropout(x, deterministic=False, rngs=key), dropped)  # the key alone
  assert not np.array_equal(layer.dropout(x, deterministic=False, rngs=jax.random.key(1)), dropped)
  np.testing.assert_array_equal(layer.dropout(x, deterministic=True), x)
  mask = jnp.ones((batch, length), bool)
  with pytest.raises(ValueError, match="dropout_key"):
    layer(x[..., :8], mask, train=True)


def test_train_and_eval_differ_only_through_dropout_and_batch_statistics():
  """With dropout 0 and LayerNorm, train=True and train=False give the same logits; with dropout they differ."""
  tokens = _tokens(5)
  model = _build(norm="layer", dropout=0.0)
  np.testing.assert_allclose(_logits(model, tokens, train=True), _logits(model, tokens, train=False), rtol=1e-6)
  model = _build(norm="layer", dropout=0.5)
  train_logits = _logits(model, tokens, train=True, dropout_key=jax.random.key(1))
  assert not np.allclose(train_logits, _logits(model, tokens, train=False))


def test_double_gelu_flag_changes_only_the_activation():
  """Same parameters (same seed), one more GELU: different logits; the flag is read from the config."""
  tokens = _tokens(6)
  single = _build(norm="layer", double_gelu=False, n_layers=1)
  double = _build(norm="layer", double_gelu=True, n_layers=1)
  assert not single.backbone.layers[0].double_gelu and double.backbone.layers[0].double_gelu
  for a, b in zip(jax.tree.leaves(nnx.state(single)), jax.tree.leaves(nnx.state(double))):
    np.testing.assert_array_equal(a, b)
  assert not np.allclose(_logits(single, tokens, train=False), _logits(double, tokens, train=False))


@pytest.mark.parametrize("recurrence", ["dense", "diag", "lru"])
def test_build_reads_the_config(recurrence):
  """Block type, widths and depth from the config; lru_ring's radii come from init_params.r_min / r_max."""
  ring = ml_collections.ConfigDict(dict(r_min=0.5, r_max=0.6))
  model = _build(recurrence=recurrence, init="lru_ring", init_params=ring, n_layers=3, d_hidden=5)
  assert len(model.backbone.layers) == 3
  assert all(type(layer.block) is models.BLOCKS[recurrence] for layer in model.backbone.layers)
  radii = model.spectral_radii()
  assert len(radii) == 3 and all(0.5 - 1e-5 <= r <= 0.6 + 1e-5 for r in radii)
  assert isinstance(model.backbone.encoder, nnx.Embed)


def test_build_passes_init_params():
  half_variance = _build(recurrence="dense", init="glorot_half", d_hidden=32)
  half_std = _build(recurrence="dense", init="glorot_half", d_hidden=32,
                    init_params=ml_collections.ConfigDict(dict(k=None, delta=None, half_of="std")))
  ratio = (np.asarray(half_std.backbone.layers[0].block.A[...]) / np.asarray(half_variance.backbone.layers[0].block.A[...]))
  np.testing.assert_allclose(ratio, np.sqrt(0.5), rtol=1e-5)


@pytest.mark.parametrize("field,value", [("recurrence", "gru"), ("norm", "group")])
def test_build_rejects_unknown_names(field, value):
  with pytest.raises(ValueError, match="valid"):
    _build(**{field: value})


def test_inputs_of_the_wrong_kind_are_rejected():
  tokens_model = _build()
  with pytest.raises(ValueError, match="token inputs"):
    tokens_model(jnp.zeros((3, 9, 1)), jnp.asarray(LENGTHS), train=False)
  pixels_model = _build(vocab_size=None, input_dim=3)
  with pytest.raises(ValueError, match=r"\(batch, length, 3\)"):
    pixels_model(jnp.zeros((3, 9, 2)), jnp.asarray(LENGTHS), train=False)
