"""The tasks (LRA's ListOps, sCIFAR, IMDB; copy, adding, forecast; sMNIST, psMNIST; Pathfinder, Path-X), looked up by
name."""

from lra.errors import ConfigError
from lra.tasks import adding
from lra.tasks import copy_memory
from lra.tasks import forecast
from lra.tasks import imdb
from lra.tasks import listops
from lra.tasks import mnist
from lra.tasks import pathfinder
from lra.tasks import scifar

# Keyed by each class's `name`, in the order of configs.names.TASKS (tests/configs/test_configs.py checks both).
_TASKS = {cls.name: cls for cls in (listops.ListOps, scifar.SCifar, imdb.Imdb, copy_memory.CopyMemory,
                                    adding.Adding, forecast.Forecast, mnist.SMnist, mnist.PSMnist,
                                    pathfinder.Pathfinder, pathfinder.PathX)}


def task_names() -> list[str]:
  """The task names `get_task` knows."""
  return list(_TASKS)


def get_task(name: str, data_cfg):
  """The task `name` configured by `data_cfg` (`config.data`, from `configs.data.default_data_config(name)`).

  Raises:
    ConfigError: unknown name (the message lists the valid ones).
  """
  if name not in _TASKS:
    raise ConfigError(f"unknown task {name!r}; valid tasks: {task_names()}")
  return _TASKS[name](data_cfg)
