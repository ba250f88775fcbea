"""Training progress for people: a tqdm bar on a terminal, a plain line now and then in a log file.

In a log with no terminal behind it (a SLURM job's output, `sweep.py`'s `sweep.log`) a tqdm bar writes a
carriage-return update per step, which piles up into one endless line. `Progress` keeps the bar when its stream
is a terminal, and otherwise prints one line `<desc>: step <k>/<total> (<pct>%), <rate> steps/s, k=v ...` every
`every_steps` steps or `every_s` seconds, whichever comes first, and at the last step.
"""

import sys
import time

from tqdm import tqdm


class Progress:
  """A progress reporter: `update(step, **postfix)` after each step, `close()` at the end.

  Args:
    total: the last step.
    initial: the step the run starts at (a resumed run's checkpoint step).
    desc: what runs, at the start of the bar or of each line.
    every_steps: without a terminal, a line at least every this many steps (<= 0: by time only).
    every_s: without a terminal, a line at least every this many seconds.
    enabled: False to report nothing (the processes other than process 0).
    stream: where to write (default stderr); a terminal gets a bar, anything else lines.
    clock: the time source, for tests.
  """

  def __init__(self, total: int, *, initial: int = 0, desc: str = "", every_steps: int = 0, every_s: float = 30.0,
               enabled: bool = True, stream=None, clock=time.monotonic):
    self.total, self.desc, self.enabled = total, desc, enabled
    self.every_steps, self.every_s, self._clock = every_steps, every_s, clock
    self._stream = sys.stderr if stream is None else stream
    is_terminal = getattr(self._stream, "isatty", lambda: False)()
    self._bar = (tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True,
                      file=self._stream) if enabled and is_terminal else None)
    self._step = self._last_step = self._start_step = initial
    self._postfix: dict = {}
    self._start = self._last_time = clock()

  def update(self, step: int, **postfix) -> None:
    """Records that the run reached `step`, with `postfix` (e.g. loss="0.693") shown beside it."""
    if not self.enabled:
      return
    self._postfix.update(postfix)
    if self._bar is not None:
      self._bar.update(step - self._step)
      self._bar.set_postfix(self._postfix)
      self._step = step
      return
    self._step = step
    now = self._clock()
    due = (step >= self.total or now - self._last_time >= self.every_s
           or (self.every_steps > 0 and step - self._last_step >= self.every_steps))
    if due and step != self._last_step:
      self._write_line(step, now)

  def _write_line(self, step: int, now: float) -> None:
    rate = (step - self._start_step) / max(now - self._start, 1e-9)
    pct = 100.0 * step / self.total if self.total else 100.0
    fields = "".join(f", {k}={v}" for k, v in self._postfix.items())
    self._stream.write(f"{self.desc}: step {step}/{self.total} ({pct:.0f}%), {rate:.2f} steps/s{fields}\n")
    self._stream.flush()
    self._last_step, self._last_time = step, now

  def close(self) -> None:
    """Ends the bar, or writes a last line if steps were made since the last one."""
    if not self.enabled:
      return
    if self._bar is not None:
      self._bar.close()
    elif self._step != self._last_step:
      self._write_line(self._step, self._clock())
