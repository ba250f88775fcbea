"""The paper's divergence at the paper's widths and lengths: Glorot overflows float32 in the first steps,
rescaled Glorot, Glorot/2 and diagonal-uniform train on.

ListOps: n = 192, length 2048, vocabulary of the ListOps task; IMDB: n = 256, length 4096, bytes. Depth and
d_model are small (the widths of the recurrence and the lengths are what matter); one jitted step per
(recurrence, n, length) serves every initializer, since only parameter values differ.
"""

import json
import jax
import ml_collections
import numpy as np
import pytest
from flax import nnx

import models
from lra.train import loop, optim, steps
from tests.lra.tiny import tiny_config

pytestmark = pytest.mark.slow

INITS = ("glorot", "rescaled_glorot", "glorot_half", "diag_uniform")


def model_config(recurrence, init, d_hidden):
  return ml_collections.ConfigDict(dict(
      recurrence=recurrence, init=init, init_params={}, d_model=16, d_hidden=d_hidden, n_layers=2,
      norm="batch", dropout=0.0, scan="auto", recurrent_layer_norm=False, bidirectional=False, double_gelu=False,
      remat="none", pooling="mean"))


def optim_config():
  return ml_collections.ConfigDict(dict(lr=1e-3, lr_factor=0.05, weight_decay=0.05, warmup_epochs=1.0,
                                        end_lr=1e-7, clip_norm=0.0))


@pytest.mark.parametrize("recurrence", ["dense", "diag"])
@pytest.mark.parametrize("task, vocab_size, d_hidden, length", [("listops", 18, 192, 2048),
                                                               ("imdb", 257, 256, 4096)])
def test_glorot_diverges_and_the_others_do_not(recurrence, task, vocab_size, d_hidden, length):
  rng = np.random.default_rng(0)
  batch = {"inputs": rng.integers(1, vocab_size, (2, length)).astype(np.int32),
           "lengths": np.array([length, length - 100], np.int32), "labels": np.array([0, 1], np.int32)}
  step_fn, finite = None, {}
  for init in INITS:
    model = models.build(model_config(recurrence, init, d_hidden),
                         models.TaskShape(vocab_size=vocab_size, num_outputs=10), rngs=nnx.Rngs(0))
    tx = optim.make_optimizer(optim_config(), nnx.state(model, nnx.Param), steps_per_epoch=10, total_steps=100)
    graphdef, state = steps.init_state(model, tx)
    if step_fn is None:
      step_fn = jax.jit(lambda s, b, g=graphdef, t=tx: steps.train_step(g, t, s, b, jax.random.key(0),
                                                                              loss="cross_entropy"))
    flags = []
    for _ in range(3):
      state, metrics = step_fn(state, batch)
      flags.append(bool(metrics["finite"]))
    finite[init] = flags
  assert finite["glorot"][0] is False, finite  # the very first step overflows
  for init in INITS[1:]:
    assert all(finite[init]), (init, finite)


def test_loop_records_glorot_divergence_as_a_result(tmp_path):
  config = tiny_config(tmp_path, listops_length=2048)
  config.model.update(recurrence="dense", init="glorot", d_hidden=192)
  results = loop.run(config, str(tmp_path / "glorot"))
  assert results["diverged"] is True and results["diverged_step"] == 1
  with open(tmp_path / "glorot" / "metrics.jsonl") as f:
    last = json.loads(f.read().splitlines()[-1])
  # The record names the radius of the parameters that overflowed: float32 overflows within 2048 steps only above 1.
  assert last["step"] == 1 and last["diverged"] == 1.0 and last["layer_0/spectral_radius"] > 1.0
  config.model.init = "rescaled_glorot"
  results = loop.run(config, str(tmp_path / "rescaled"))
  assert results["diverged"] is False and results["steps"] == config.train.max_steps
