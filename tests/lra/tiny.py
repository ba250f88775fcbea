"""A tiny ListOps config for loop tests: the `:cpu` preset shrunk to seconds, with its data cached in tmp."""

import os

from configs import listops

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Flat overrides, usable in-process and as --config.<key>=<value> flags.
OVERRIDES = {
    "model.d_model": 16, "model.d_hidden": 32, "model.n_layers": 1, "model.init": "glorot_half",
    "train.batch_size": 8, "train.epochs": 2, "train.log_every_steps": 2, "train.ckpt_every_steps": 100,
    "data.max_length": 48, "data.listops.num_train": 64, "data.listops.num_val": 16,
    "data.listops.num_test": 16, "data.listops.min_tokens": 10, "data.listops.max_tokens": 40,
    "data.listops.max_depth": 4, "wandb.mode": "disabled",
}


def tiny_config(tmp_path, *, listops_length=None, **train_overrides):
  c = listops.get_config("cpu")
  for key, value in OVERRIDES.items():
    *parents, leaf = key.split(".")
    node = c
    for p in parents:
      node = node[p]
    node[leaf] = value
  c.data.cache_dir = str(tmp_path / "cache")
  c.train.update(train_overrides)
  if listops_length:
    c.data.max_length = listops_length
    c.data.listops.update(num_train=4, num_val=2, num_test=2, min_tokens=1500, max_tokens=listops_length,
                          max_depth=10)
    c.model.n_layers = 2
    c.train.update(batch_size=2, max_steps=2)
  return c
