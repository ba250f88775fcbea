"""The project's own error classes: what `train.py` reports in one line instead of a traceback.

`ConfigError` is a configuration that cannot run (its message names the field to change); `DataError` is data
that is missing or unreadable (its message names the file or the field). Any other exception is a bug and
keeps its traceback.
"""


class ConfigError(ValueError):
  """A config field (or combination) that cannot run; the message names the field and the valid values."""


class DataError(Exception):
  """A data set that is missing or cannot be read; the message says where it looked or which file is bad."""
