"""Named points where a run can be made to die by SIGKILL, for the tests that prove a killed run resumes.

`GLOROT_LRA_KILL_AT=<point>[@<step>]` makes the process SIGKILL itself when it reaches `<point>` (at `<step>`,
when given). The loop's parts carry their point as a decorator, `@after(point)`, which kills as the part
returns; `kill_at` kills on the spot; `kill_while_writing` starts a thread that kills the process as soon as a
file or folder matching a pattern appears, i.e. in the middle of the write that makes it. Unset (always,
outside tests), each returns at once.
"""

import fnmatch
import functools
import os
import signal
import threading

ENV = "GLOROT_LRA_KILL_AT"
POINTS = ("compile", "mid_step", "latest_write", "best_write", "between_checkpoints", "eval", "results_write")


def _armed(point: str, step: int | None) -> bool:
  spec = os.environ.get(ENV)
  if not spec:
    return False
  name, _, at = spec.partition("@")
  if name not in POINTS:
    raise ValueError(f"{ENV}={spec!r}: unknown point {name!r}; valid: {list(POINTS)}")
  return name == point and (not at or step is None or int(at) == step)


def _die():
  os.kill(os.getpid(), signal.SIGKILL)


def kill_at(point: str, step: int | None = None) -> None:
  """SIGKILLs this process if `GLOROT_LRA_KILL_AT` names `point` (and `step`)."""
  if _armed(point, step):
    _die()


def after(point: str, step=None):
  """Decorates fn(run, ...): kills as it returns when armed for `point` (and `step(run)`, when given)."""
  def decorate(fn):
    @functools.wraps(fn)
    def wrapped(run, *args, **kwargs):
      out = fn(run, *args, **kwargs)
      kill_at(point, None if step is None else step(run))
      return out
    return wrapped
  return decorate


def kill_while_writing(point: str, step: int | None, directory: str, pattern: str) -> None:
  """If armed, SIGKILLs this process once an entry matching `pattern` appears under `directory`."""
  if not _armed(point, step):
    return

  def watch():
    while True:
      for _, dirs, files in os.walk(directory):
        if any(fnmatch.fnmatch(name, pattern) for name in dirs + files):
          _die()

  threading.Thread(target=watch, daemon=True).start()
