"""`ConfigError`: a configuration that cannot run; its message names the field to change and the valid values.

Defined here, beside the fields, so that the configs, the models and the loop raise one type without the configs
importing the library; `lra.errors` re-exports it beside `DataError`, and `train.py` prints either as one line.
"""


class ConfigError(ValueError):
  """A config field (or combination) that cannot run; the message names the field and the valid values."""


def check_choice(field: str, value, allowed) -> None:
  """Raises ConfigError naming `config.<field>`, its bad `value` and the `allowed` ones."""
  if value not in allowed:
    raise ConfigError(f"config.{field}={value!r}; valid: {list(allowed)}")


def check_at_least(field: str, value, minimum, why: str = "") -> None:
  """Raises ConfigError naming `config.<field>`, its value and the valid range, in one line."""
  if value < minimum:
    raise ConfigError(f"config.{field}={value} must be >= {minimum}{' (' + why + ')' if why else ''}")


def check_between(field: str, value, low, high, *, high_open: bool = False) -> None:
  """Raises ConfigError unless low <= value <= high (value < high when `high_open`)."""
  if not (low <= value and (value < high if high_open else value <= high)):
    raise ConfigError(f"config.{field}={value} must lie in [{low}, {high}{')' if high_open else ']'}")
