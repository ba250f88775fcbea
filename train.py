"""Trains one model on one LRA task: `python train.py --config configs/<task>.py[:preset] --workdir DIR`.

Every config field can be overridden, e.g. `--config.model.recurrence=dense --config.model.init=glorot
--config.seed=2`; the fields are in configs/common.py (and configs/data.py for `config.data`). A run started again in the same workdir resumes.

Exit codes: 0 finished (or diverged: recorded in results.json), 1 a configuration or data error (one line on
stderr), 75 stopped by SIGTERM / SIGUSR1 after writing its latest checkpoint (start it again to resume); any
other exception is a bug and keeps its traceback.
"""

import os
import sys

from absl import flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "A config file: configs/<task>.py[:preset]",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and results.")

CONFIG_ERROR_TYPES = ("ConfigError", "DataNotFoundError", "DataFormatError", "DataError")


def _config_file_error(text: str) -> str | None:
  """The one-line message of a config file that raised one of the project's errors, else None (a bug)."""
  lines = [line for line in text.splitlines() if line.strip()]
  if "Error whilst parsing config file" not in text or not lines:
    return None
  kind, _, message = lines[-1].partition(": ")
  return message if kind.rsplit(".", 1)[-1] in CONFIG_ERROR_TYPES else None


def parse_flags(argv):
  """Parses flags, turning config_flags' errors into messages that name the field."""
  try:
    return flags.FLAGS(argv)
  except AttributeError as e:  # an unknown config field; config_flags says which, and may suggest one
    name, _, hint = str(e.args[0] if e.args else e).partition("\n")
    sys.exit(f"error: unknown config field {name} in {[a for a in argv[1:] if a.startswith('--config.')]}. "
             f"{hint} All fields: configs/common.py and configs/data.py.")
  except flags.Error as e:  # a wrong type, a missing file, an unknown ':preset'
    message = _config_file_error(str(e))
    if message is None and "Error whilst parsing config file" in str(e):
      raise  # the config file itself is broken: keep its traceback
    sys.exit(f"error: {message or e}")


def main(argv):
  del argv
  if _CONFIG.value is None or _WORKDIR.value is None:
    sys.exit("usage: python train.py --config configs/<task>.py[:cpu] --workdir DIR [--config.a.b=value ...]")
  from lra.errors import ConfigError, DataError  # imported after flag parsing so that --help is fast
  from lra.train import loop, preemption
  try:
    loop.run(_CONFIG.value, _WORKDIR.value)
  except (ConfigError, DataError) as e:
    sys.exit(f"error: {e}")
  except preemption.Preempted as e:
    print(e, file=sys.stderr)
    sys.exit(preemption.PREEMPTED_EXIT_CODE)


if __name__ == "__main__":
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  from lra.train import host_memory
  host_memory.reexec_with_huge_pages()  # CPU runs only: fewer page faults a step (lra/train/host_memory.py)
  remaining = parse_flags(sys.argv)
  main(remaining)
