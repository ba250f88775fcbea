"""The project's cache folder and its one environment variable, shared by every layer.

    root = cache.cache_root()           # $GLOROT_LRA_CACHE, else ~/.cache/glorot_lra
    data = cache.cache_root() / "data"  # what lra.tasks generates and writes (ListOps, fixtures)

It lives in `inits`, the lowest layer, so that `inits` stays usable on its own (calibrated_glorot caches here).
"""

import os
import pathlib

ENV_VAR = "GLOROT_LRA_CACHE"
DEFAULT_ROOT = "~/.cache/glorot_lra"


def cache_root(cache_dir=None) -> pathlib.Path:
  """`cache_dir` if given, else $GLOROT_LRA_CACHE (when set and not empty), else ~/.cache/glorot_lra; expanded."""
  chosen = cache_dir if cache_dir is not None else os.environ.get(ENV_VAR) or DEFAULT_ROOT
  return pathlib.Path(chosen).expanduser()
