"""The project's own error classes: what `train.py` reports in one line instead of a traceback.

`ConfigError` is a configuration that cannot run (its message names the field to change); `DataError` is data
that is missing or unreadable (its message names the file or the field). Any other exception is a bug and
keeps its traceback. `ConfigError` lives in configs/errors.py, beside the fields.
"""

from configs.errors import ConfigError

__all__ = ["ConfigError", "DataError"]


class DataError(Exception):
  """A data set that is missing or cannot be read; the message says where it looked or which file is bad."""
