"""The project's cache folder, its one environment variable, and the one atomic file cache used under it.

    root = cache.cache_root()           # $GLOROT_LRA_CACHE, else ~/.cache/glorot_lra
    data = cache.cache_root() / "data"  # what lra.tasks generates and writes (ListOps, fixtures)
    value = cache.cached_file(path, compute, encode=..., decode=...)  # computed once, written atomically

It lives in `inits`, the lowest layer, so that `inits` stays usable on its own (calibrated_glorot caches here).
"""

import os
import pathlib
import tempfile
import warnings
from collections.abc import Callable
from typing import Any

ENV_VAR = "GLOROT_LRA_CACHE"
DEFAULT_ROOT = "~/.cache/glorot_lra"


def cache_root(cache_dir=None) -> pathlib.Path:
  """`cache_dir` if given, else $GLOROT_LRA_CACHE (when set and not empty), else ~/.cache/glorot_lra; expanded."""
  chosen = cache_dir if cache_dir is not None else os.environ.get(ENV_VAR) or DEFAULT_ROOT
  return pathlib.Path(chosen).expanduser()


def cached_file(path, compute: Callable[[], Any], *, encode: Callable[[Any], bytes],
                decode: Callable[[bytes], Any]) -> Any:
  """decode(the bytes at `path`) if the file is there and decodes, else compute(), written to `path` atomically.

  A file that does not decode (decode raises ValueError, e.g. cut or stale) is computed again and replaced. The
  write goes through a temporary file in the same folder renamed over `path`, so a concurrent reader sees the old
  file or the new one; a write that fails warns and the computed value is still returned.
  """
  path = pathlib.Path(path)
  try:
    return decode(path.read_bytes())
  except (OSError, ValueError):
    pass
  value = compute()
  temporary = None
  try:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name + ".", suffix=".tmp", delete=False) as f:
      temporary = f.name
      f.write(encode(value))
    os.replace(temporary, path)
  except OSError as error:
    warnings.warn(f"could not write the cache file {path}: {error}; the value stays in memory")
    if temporary is not None and os.path.exists(temporary):
      os.remove(temporary)
  return value
