"""Tests of configs/: one home for every field and name, init parameters from the command line, README's field list."""

import importlib
import inspect
import os
import re

import ml_collections
import pytest
from absl import flags
from flax import nnx
from ml_collections import config_flags

import inits
import lra.tasks
from lra.errors import ConfigError
import models
from configs import common
from configs import data
from models import layer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _parse(*overrides, config="configs/listops.py:cpu"):
  """The config train.py would get from `--config=<config> <overrides>` (the same ml_collections flag)."""
  argv = ["train.py", f"--config={os.path.join(REPO, config)}", *overrides]
  flag_values = flags.FlagValues()
  config_flags.DEFINE_config_file("config", default=None, flag_values=flag_values, lock_config=True, sys_argv=argv)
  flag_values(argv)
  return flag_values.config


def _build(model_cfg):
  return models.build(model_cfg, models.TaskShape(vocab_size=7, num_outputs=3), rngs=nnx.Rngs(params=0))


def _tiny(cfg):
  cfg.model.update(d_model=4, d_hidden=6, n_layers=1)
  return cfg.model


def test_every_registered_task_has_a_config_and_data_fields():
  """The task registry is the one list of tasks: each has configs/<task>.py and default data fields."""
  assert set(lra.tasks.task_names()) == set(data.MAX_LENGTHS)
  for task in lra.tasks.task_names():
    assert importlib.import_module(f"configs.{task}").get_config().task == task


def test_a_recurrence_or_norm_outside_the_registries_names_the_registered_ones():
  for field, value, registry in (("recurrence", "gru", models.RECURRENCES), ("norm", "group", layer.NORMS)):
    model_cfg = _parse().model
    model_cfg[field] = value
    with pytest.raises(ConfigError, match=re.escape(f"config.model.{field}={value!r}; valid: {list(registry)}")):
      models.check_config(model_cfg)


def test_init_params_hold_every_parameter_of_every_initializer():
  c = _parse()
  expected = {p for name in inits.names() for p in inits.params_of(name)}
  assert set(c.model.init_params) == expected and all(v is None for v in c.model.init_params.values())
  assert "lru_ring" in inits.names() and {"r_min", "r_max", "max_phase"} <= expected
  for field in ("r_min", "r_max", "max_phase"):
    assert field not in c.model  # one mechanism: config.model.init_params


def test_placeholder_types_follow_the_defaults():
  assert common._placeholder_type("k", [1.0, None]) is float
  assert common._placeholder_type("n_draws", [1000]) is int
  assert common._placeholder_type("x", [1, 0.5]) is float
  assert common._placeholder_type("cache_dir", [None]) is str
  with pytest.raises(TypeError, match=r"init_params.x: the initializers' defaults have types \['float', 'str'\]"):
    common._placeholder_type("x", [0.5, "a"])


def test_calibrated_glorot_field_complex_from_the_command_line(tmp_path, monkeypatch):
  c = _parse("--config.model.init=calibrated_glorot", "--config.model.init_params.field=complex",
             "--config.model.init_params.n_draws=200", "--config.model.init_params.delta=0.1",
             f"--config.model.init_params.cache_dir={tmp_path}")
  assert c.model.init_params.field == "complex" and c.model.init_params.n_draws == 200
  assert models.init_params(c.model) == dict(field="complex", n_draws=200, delta=0.1, cache_dir=str(tmp_path))
  calls = []  # the Monte Carlo itself is tested in tests/inits; here: what reaches it from the command line
  monkeypatch.setattr(inits.calibration, "calibrated_scale", lambda *args: calls.append(args) or 0.5)
  _build(_tiny(c))
  assert calls == [(6, 0.1, "complex", 200, 0, str(tmp_path))]


def test_lru_ring_radii_from_init_params():
  c = _parse("--config.model.init_params.r_min=0.5", "--config.model.init_params.r_max=0.6",
             config="configs/listops.py:preset=cpu,recurrence=lru")
  assert c.model.init == "lru_ring"
  radii = _build(_tiny(c)).spectral_radii()
  assert all(0.5 - 1e-5 <= r <= 0.6 + 1e-5 for r in radii)


def test_lru_default_is_the_factorys_ring():
  defaults = inspect.signature(inits.diagonal.lru_ring).parameters
  assert (defaults["r_min"].default, defaults["r_max"].default) == (0.4, 0.9)
  c = _parse(config="configs/imdb.py:recurrence=lru")
  assert models.init_params(c.model) == {}
  radii = _build(_tiny(c)).spectral_radii()
  assert all(0.4 - 1e-5 <= r <= 0.9 + 1e-5 for r in radii)


def test_a_parameter_the_initializer_does_not_take_names_the_valid_ones():
  c = _parse("--config.model.init=glorot_half", "--config.model.init_params.field=complex")
  with pytest.raises(ValueError, match=r"'glorot_half' takes no parameter\(s\) \['field'\]; valid: half_of"):
    _build(_tiny(c))


def test_data_fields_live_in_configs():
  for task in lra.tasks.task_names():
    c = importlib.import_module(f"configs.{task}").get_config("cpu")
    want = data.default_data_config(task)
    want.update(data.cpu_data_overrides(task))
    want.max_length = c.data.max_length
    assert c.data.to_dict() == want.to_dict()
  for call in (data.default_data_config, data.cpu_data_overrides):
    with pytest.raises(ValueError, match=r"unknown task 'nosuchtask'; the tasks with data fields: \['listops', 'scifar', 'imdb', "):
      call("nosuchtask")


def test_readme_field_list_is_true():
  with open(os.path.join(REPO, "README.md")) as f:
    readme = f.read()
  listed = readme[readme.index("Fields users type most:"):]
  listed = listed[:listed.index("All fields")]
  c = _parse()
  found = 0
  for section, body in re.findall(r"`config\.(\w+)\.` (.*?)(?=; `config\.|\.\s*$|$)", listed, re.S):
    for field in re.findall(r"`([a-z_]+)`", re.sub(r"\(.*?\)", "", body, flags=re.S)):
      assert field in c[section], f"README lists config.{section}.{field}, which configs/ does not define"
      found += 1
  for dotted in re.findall(r"`config\.([a-z_]+(?:\.[a-z_]+)?)`", listed):
    node = c
    for part in dotted.split("."):
      assert part in node, f"README lists config.{dotted}, which configs/ does not define"
      node = node[part]
    found += 1
  assert found >= 20
  assert isinstance(c.model.init_params, ml_collections.ConfigDict)


@pytest.mark.parametrize("task, default", [("pathfinder", 32), ("pathx", 128)])
@pytest.mark.parametrize("preset", ["paper", "cpu"])
def test_the_resolution_arg_sets_the_images_and_the_length_under_every_preset(task, default, preset):
  cfg = _parse(config=f"configs/{task}.py:preset={preset}")
  assert (cfg.data.pathfinder.resolution, cfg.data.max_length) == (default, default ** 2)
  cfg = _parse(config=f"configs/{task}.py:preset={preset},resolution=256")
  assert (cfg.data.pathfinder.resolution, cfg.data.max_length) == (256, 65536)
