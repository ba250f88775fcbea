"""Stopping a run cleanly on SIGTERM or SIGUSR1 (cluster preemption, SLURM's warning before a time limit).

Inside `StopSignals()`, either signal only sets a flag; the loop looks at it after each step, writes the latest
checkpoint and raises `Preempted`, and `train.py` exits with `PREEMPTED_EXIT_CODE`, which the SLURM script that
`scripts/sweep.py --emit slurm` writes answers by requeueing the task. Under several processes the flag is
agreed on by all of them (any process signalled stops all), so that they checkpoint the same step.
"""

import signal

import numpy as np

PREEMPTED_EXIT_CODE = 75  # EX_TEMPFAIL: try again later
SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class Preempted(Exception):
  """The run stopped on a signal after writing its latest checkpoint; starting it again resumes it."""


class StopSignals:
  """Context manager: SIGTERM / SIGUSR1 set `received` instead of killing the process."""

  def __init__(self):
    self.received = None
    self._previous = {}

  def __enter__(self):
    for sig in SIGNALS:
      self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)

  def _handle(self, signum, frame):
    del frame
    self.received = signal.Signals(signum).name

  def should_stop(self, process_count: int = 1) -> bool:
    """Whether any process received a stop signal (a collective when process_count > 1)."""
    mine = self.received is not None
    if process_count == 1:
      return mine
    from jax.experimental import multihost_utils
    return bool(np.max(multihost_utils.process_allgather(np.int32(mine))))
