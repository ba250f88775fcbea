"""Choices made once per platform ("auto"): the scan implementation, the remat policy, the CPU kernels."""

import jax


def resolve(choice: str, valid, auto: dict, *, field: str, platform: str | None = None):
  """`choice` itself when it is one of `valid`, or for "auto" `auto[platform]`.

  Args:
    choice: "auto" or one of `valid`.
    valid: the explicit choices.
    auto: {"cpu" | "gpu" | "tpu": the choice there}.
    field: what the choice is, for the one-line error (e.g. "config.model.remat").
    platform: "cpu" | "gpu" | "tpu" (also "cuda" / "rocm"); None means `jax.default_backend()`.
  """
  if choice != "auto":
    if choice not in valid:
      raise ValueError(f"{field}={choice!r}; valid: {['auto', *valid]}")
    return choice
  platform = jax.default_backend() if platform is None else platform
  platform = {"cuda": "gpu", "rocm": "gpu"}.get(platform, platform)
  if platform not in auto:
    raise ValueError(f"{field}: unknown platform {platform!r}; valid: {sorted(auto)}")
  return auto[platform]
