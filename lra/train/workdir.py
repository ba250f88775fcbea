"""One run per workdir, and a workdir keeps its config.

`RunLock` takes an exclusive `flock` on `<workdir>/run.lock` for as long as the run is alive; the kernel drops
it when the process dies (even by SIGKILL), so a killed run never blocks the next start, while a second
`train.py` on a live workdir refuses at once and names the live process. `check_same_config` refuses a config
that differs from the one the workdir's run was started with, naming the fields, except fields that cannot
change a result (`RESULT_NEUTRAL`).
"""

import fcntl
import json
import os
import socket

from flax import traverse_util

from lra.errors import ConfigError

LOCK_NAME = "run.lock"
CLAIM_NAME = "sweep.claim"  # a sweep runner's lock on a run it launches (scripts/sweep.py), beside train.py's own
CONFIG_NAME = "config.json"
# Prefixes of dotted config fields that may differ between starts of one run: where output goes and how often.
RESULT_NEUTRAL = ("wandb.", "train.log_every_steps", "train.log_radius", "train.ckpt_every_steps", "distributed",
                  "data.cache_dir", "data.data_dir")


class RunLock:
  """An exclusive lock on a workdir, held from `acquire()` until `release()` or the end of the process."""

  def __init__(self, workdir: str, *, hold: bool = True, name: str = LOCK_NAME):
    """hold=False: a lock that takes nothing (the processes other than 0 of a multi-process run); name: the lock
    file in the workdir (CLAIM_NAME: a sweep runner's)."""
    self.path = os.path.join(workdir, name)
    self.hold = hold
    self._fd = None

  def _try_lock(self) -> int | None:
    """An fd holding the lock, or None when a live process holds it."""
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      os.close(fd)
      return None
    return fd

  def _holder_text(self) -> str:
    with open(self.path) as f:
      return f.read().strip() or "another process"

  def holder(self) -> str | None:
    """Who holds the lock ("pid 123 on host"), or None when nobody does (tested without keeping it)."""
    fd = self._try_lock()
    if fd is None:
      return self._holder_text()
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    return None

  def acquire(self) -> None:
    """Takes the lock, or raises ConfigError naming the live process that holds it."""
    if not self.hold:
      return
    fd = self._try_lock()
    if fd is None:
      raise ConfigError(f"workdir {os.path.dirname(self.path)} is in use by a live run ({self._holder_text()}); "
                        f"wait for it, stop it, or choose another --workdir")
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}".encode())
    self._fd = fd

  def release(self) -> None:
    if self._fd is not None:
      os.ftruncate(self._fd, 0)
      fcntl.flock(self._fd, fcntl.LOCK_UN)
      os.close(self._fd)
      self._fd = None

  def __enter__(self):
    self.acquire()
    return self

  def __exit__(self, *exc):
    self.release()


def flatten(tree: dict) -> dict:
  """{"a": {"b": 1}} -> {"a.b": 1}."""
  return traverse_util.flatten_dict(tree, sep=".")


def config_differences(old: dict, new: dict) -> list[str]:
  """The dotted fields whose values differ between two config dicts, result-neutral fields left out."""
  old_flat, new_flat = flatten(old), flatten(new)
  keys = sorted(set(old_flat) | set(new_flat))
  return [k for k in keys if old_flat.get(k, "<absent>") != new_flat.get(k, "<absent>")
          and not any(k == p or k.startswith(p) for p in RESULT_NEUTRAL)]


def check_same_config(workdir: str, config: dict) -> None:
  """Raises ConfigError when `workdir` holds a run started with a config that differs from `config`."""
  path = os.path.join(workdir, CONFIG_NAME)
  if not os.path.exists(path):
    return
  with open(path) as f:
    old = json.load(f)
  old.pop("provenance", None)
  new = json.loads(json.dumps(config))  # the same JSON round trip as the stored one (tuples -> lists)
  differ = config_differences(old, new)
  if differ:
    old_flat, new_flat = flatten(old), flatten(new)
    shown = ", ".join(f"{k}: {old_flat.get(k, '<absent>')!r} -> {new_flat.get(k, '<absent>')!r}"
                      for k in differ[:8])
    more = f" and {len(differ) - 8} more" if len(differ) > 8 else ""
    raise ConfigError(f"workdir {workdir} holds a run with another config ({shown}{more}); use a new --workdir, "
                      f"or the same flags to resume it")
