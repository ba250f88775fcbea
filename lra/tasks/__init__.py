"""The tasks (LRA's ListOps, sCIFAR, IMDB, Pathfinder, Path-X, Retrieval; copy, adding, forecast; sMNIST, psMNIST),
looked up by name."""

from configs.errors import ConfigError, check_at_least, check_between, check_choice
from lra.tasks import adding
from lra.tasks import copy_memory
from lra.tasks import forecast
from lra.tasks import imdb
from lra.tasks import listops
from lra.tasks import mnist
from lra.tasks import pathfinder
from lra.tasks import retrieval
from lra.tasks import scifar

# Keyed by each class's `name`: the one list of tasks.
_TASKS = {cls.name: cls for cls in (listops.ListOps, scifar.SCifar, imdb.Imdb, copy_memory.CopyMemory,
                                    adding.Adding, forecast.Forecast, mnist.SMnist, mnist.PSMnist,
                                    pathfinder.Pathfinder, pathfinder.PathX, retrieval.Retrieval)}


def task_names() -> list[str]:
  """The task names `get_task` knows."""
  return list(_TASKS)


def get_task(name: str, data_cfg):
  """The task `name` configured by `data_cfg` (`config.data`, from `configs.data.default_data_config(name)`).

  Its constructor checks the task's own data fields; nothing is read or generated before `task.load(split)`.

  Raises:
    ConfigError: unknown name (the message lists the valid ones), or a data field out of range (named).
  """
  check_choice("task", name, task_names())
  check_at_least("data.max_length", data_cfg.max_length, 1)
  check_between("data.val_fraction", data_cfg.val_fraction, 0.0, 1.0, high_open=True)
  if data_cfg.val_fraction == 0.0:
    raise ConfigError("config.data.val_fraction=0.0 must lie in (0, 1)")
  return _TASKS[name](data_cfg)
