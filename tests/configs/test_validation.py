"""Every config field a user can type wrong ends in one ConfigError line that names it, before a run starts.

Each field of every task config (the `:cpu` presets, whose data is local) is set to a value out of its range, or
to a name that does not exist, and `loop.validate_config` must raise a one-line ConfigError naming the field.
Wrong types never get that far: the locked ConfigDict refuses them (tested here too), and train.py turns the
flag's error into one line (tests/test_train.py).
"""

import ml_collections
import pytest

from lra.tasks import task_names
from lra.errors import ConfigError
from lra.train import loop
from tests.configs.test_configs import _parse

# Fields where every value of the field's type is valid (a seed, a path that is checked when it is read, a
# wandb name, a switch).
ANY_VALUE = ("seed", "split_seed", "data_dir", "cache_dir", "raw_dir", "distributed", "recurrent_layer_norm",
             "bidirectional", "double_gelu", "project", "entity", "name", "group", "grayscale", "tokens",
             "val_from_test", "fixture_seed", "permutation_seed", "max_steps", "eval_every_steps")
# Out-of-range values where "-1" (numbers) or a made-up name (strings) is not the clearest one.
BAD = {"dropout": 1.5, "val_fraction": 1.5, "rollout_bound": 0.0, "periods": (16.0, -4.0),
       "amplitudes": (1.0,), "max_length": 0, "clip_norm": -1.0, "end_lr": -1.0}


def _leaves(cfg, prefix=""):
  for key, value in cfg.items():
    if isinstance(value, ml_collections.ConfigDict):
      yield from _leaves(value, f"{prefix}{key}.")
    else:
      yield f"{prefix}{key}", value


def _bad_value(path, value):
  """An out-of-range value for the field at `path` (None: every value of its type is valid)."""
  key = path.rsplit(".", 1)[-1]
  if key in ANY_VALUE or isinstance(value, bool) or path.startswith("model.init_params."):
    return None
  if key in BAD:
    return BAD[key]
  if isinstance(value, str):
    return "no_such_value"
  if isinstance(value, (int, float)):
    return type(value)(-1)
  return None


def _cases():
  for task in task_names():
    config = _parse(config=f"configs/{task}.py:cpu")
    for path, value in _leaves(config):
      bad = _bad_value(path, value)
      if bad is not None:
        yield pytest.param(task, path, bad, id=f"{task}:{path}")


@pytest.mark.parametrize("task, path, bad", list(_cases()))
def test_every_field_out_of_range_is_one_line_naming_it(task, path, bad):
  config = _parse(config=f"configs/{task}.py:cpu")
  with config.unlocked():
    parent, _, key = path.rpartition(".")
    node = config
    for part in filter(None, parent.split(".")):
      node = node[part]
    with node.ignore_type():
      node[key] = bad
  with pytest.raises(ConfigError) as raised:
    loop.validate_config(config)
  message = str(raised.value)
  assert "\n" not in message, message
  assert f"config.{path}" in message, (path, message)


def test_init_params_out_of_range_name_the_field():
  config = _parse()
  config.model.init = "calibrated_glorot"
  config.model.init_params.delta = 1.5
  with pytest.raises(ConfigError, match=r"config\.model\.init_params.*delta"):
    loop.validate_config(config)


def test_a_wrong_type_is_refused_by_the_config_itself():
  config = _parse()
  with pytest.raises(TypeError, match="epochs"):
    config.train.epochs = "many"
