"""Trains one model on one LRA task: `python train.py --config configs/<task>.py[:preset] --workdir DIR`.

Every config field can be overridden, e.g. `--config.model.recurrence=dense --config.model.init=glorot
--config.seed=2`; see configs/common.py for the fields. A run started again in the same workdir resumes.
"""

import os
import sys

from absl import app, flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "A config file: configs/<task>.py[:preset]",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and results.")


def parse_flags(argv):
  """Parses flags, turning config_flags' errors into messages that name the field."""
  try:
    return flags.FLAGS(argv)
  except AttributeError as e:  # an unknown config field; config_flags says which, and may suggest one
    name, _, hint = str(e.args[0] if e.args else e).partition("\n")
    sys.exit(f"error: unknown config field {name} in {[a for a in argv[1:] if a.startswith('--config.')]}. "
             f"{hint} All fields: configs/common.py.")
  except flags.Error as e:  # a wrong type, a missing file
    sys.exit(f"error: {e}")
  except ValueError as e:  # a bad ':arg'
    sys.exit(f"error: {e}")


def main(argv):
  del argv
  if _CONFIG.value is None or _WORKDIR.value is None:
    sys.exit("usage: python train.py --config configs/<task>.py[:cpu] --workdir DIR [--config.a.b=value ...]")
  from lra.train import loop  # imported after flag parsing so that --help is fast
  try:
    loop.run(_CONFIG.value, _WORKDIR.value)
  except (ValueError, FileNotFoundError) as e:
    sys.exit(f"error: {e}")


if __name__ == "__main__":
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  from lra.train import host_memory
  host_memory.reexec_with_huge_pages()  # fewer page faults a step on CPU (lra/train/host_memory.py)
  remaining = parse_flags(sys.argv)
  main(remaining)
