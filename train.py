"""Trains one model on one LRA task: `python train.py --config configs/<task>.py[:preset] --workdir DIR`.

Every config field can be overridden, e.g. `--config.model.recurrence=dense --config.model.init=glorot
--config.seed=2`; the fields are in configs/common.py (and configs/data.py for `config.data`). A run started
again in the same workdir resumes.

Exit codes: 0 finished (or diverged: recorded in results.json), 1 a configuration or data error (one line on
stderr), 75 stopped by SIGTERM / SIGUSR1 after writing its latest checkpoint (start it again to resume); any
other exception is a bug and keeps its traceback.
"""

import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from lra.errors import ConfigError, DataError

_CONFIG = config_flags.DEFINE_config_file("config", None, "A config file: configs/<task>.py[:preset]",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and results.")
USER_ERRORS = (ConfigError, DataError)


def user_error(error: BaseException) -> BaseException | None:
  """The project's own error behind `error` (config_flags re-raises a config file's errors wrapped in its own
  text, and absl wraps those again), or None when there is none (a bug: keep the traceback)."""
  found = None
  while error is not None:
    if isinstance(error, USER_ERRORS):
      found = error  # the innermost one carries the message as it was raised
    error = error.__cause__ or error.__context__
  return found


def parse_flags(argv):
  """Parses flags; a user's mistake (an unknown field, a wrong type, a missing file, a config file's own
  ConfigError) exits with one line naming it."""
  try:
    return flags.FLAGS(argv)
  except AttributeError as e:  # an unknown config field; config_flags says which, and may suggest one
    name, _, hint = str(e.args[0] if e.args else e).partition("\n")
    sys.exit(f"error: unknown config field {name} in {[a for a in argv[1:] if a.startswith('--config.')]}. "
             f"{hint} All fields: configs/common.py and configs/data.py.")
  except OSError as e:  # overrides on a config file that could not be read
    sys.exit(_unreadable_config(e, argv))
  except (flags.Error, *USER_ERRORS) as e:
    own = user_error(e)
    if own is None and "Error whilst parsing config file" in str(e):
      raise  # the config file itself is broken: keep its traceback
    sys.exit(f"error: {own or e}")


def _unreadable_config(error: OSError, argv) -> str:
  """One line for a --config file that could not be read, its path as typed in `argv`."""
  args = list(argv)
  path = next((a.split("=", 1)[1] for a in args if a.startswith("--config=")), None)
  if path is None and "--config" in args[:-1]:
    path = args[args.index("--config") + 1]
  path = (path or "").split(":", 1)[0]
  reason = "no such file" if not os.path.exists(path) else f"cannot be read ({error.__cause__ or error})"
  from lra.tasks import task_names
  return f"error: --config {path}: {reason}; the task configs: {', '.join(f'configs/{t}.py' for t in task_names())}"


def main(argv):
  del argv
  if not flags.FLAGS["verbosity"].present:  # the libraries' INFO lines (orbax logs every save) only when asked
    logging.set_verbosity(logging.WARNING)
  if _WORKDIR.value is None or not flags.FLAGS["config"].present:
    sys.exit("usage: python train.py --config configs/<task>.py[:cpu] --workdir DIR [--config.a.b=value ...]")
  try:
    config = _CONFIG.value
    config.task  # a config file that could not be read raises its OSError on first access
  except OSError as e:
    sys.exit(_unreadable_config(e, sys.argv))
  from lra.train import loop, preemption
  try:
    loop.run(config, _WORKDIR.value)
  except USER_ERRORS as e:
    sys.exit(f"error: {e}")
  except preemption.Preempted as e:
    print(e, file=sys.stderr)
    sys.exit(preemption.PREEMPTED_EXIT_CODE)


def _parse_flags_then_tune_malloc(argv):
  """The command line's flag parser: once the flags parse (so never for --help or a flag error), a CPU run
  re-executes itself with glibc's huge-page tunable (lra/train/host_memory.py: fewer page faults a step)."""
  remaining = parse_flags(argv)
  from lra.train import host_memory
  host_memory.reexec_with_huge_pages()
  return remaining


if __name__ == "__main__":
  app.run(main, flags_parser=_parse_flags_then_tune_malloc)
