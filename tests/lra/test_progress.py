"""Tests of lra/train/progress.py: a bar on a terminal, plain lines by steps and by time in a log."""

import io

from lra.train import progress


class FakeClock:
  def __init__(self):
    self.now = 100.0

  def __call__(self):
    return self.now


class Terminal(io.StringIO):
  def isatty(self):
    return True


def test_a_log_gets_a_line_every_n_steps_and_at_the_end():
  log, clock = io.StringIO(), FakeClock()
  bar = progress.Progress(10, desc="listops diag/glorot", every_steps=4, every_s=1e9, stream=log, clock=clock)
  for step in range(1, 11):
    clock.now += 0.5
    bar.update(step, loss=f"{1.0 / step:.3f}")
  bar.close()
  lines = log.getvalue().splitlines()
  assert "\r" not in log.getvalue()
  assert lines == ["listops diag/glorot: step 4/10 (40%), 2.00 steps/s, loss=0.250",
                   "listops diag/glorot: step 8/10 (80%), 2.00 steps/s, loss=0.125",
                   "listops diag/glorot: step 10/10 (100%), 2.00 steps/s, loss=0.100"]


def test_a_log_gets_a_line_when_the_time_is_up_and_a_resumed_rate_counts_new_steps_only():
  log, clock = io.StringIO(), FakeClock()
  bar = progress.Progress(1000, initial=500, desc="run", every_steps=0, every_s=30, stream=log, clock=clock)
  for step in range(501, 541):
    clock.now += 1.0  # a line after 30 s, none at step 540 (only 10 s later), one at close
    bar.update(step, epoch=2)
  bar.close()
  bar.close()  # a second close writes nothing more
  assert log.getvalue().splitlines() == ["run: step 530/1000 (53%), 1.00 steps/s, epoch=2",
                                         "run: step 540/1000 (54%), 1.00 steps/s, epoch=2"]


def test_a_terminal_gets_a_tqdm_bar_and_a_disabled_reporter_writes_nothing():
  term = Terminal()
  bar = progress.Progress(4, desc="run", stream=term)
  for step in range(1, 5):
    bar.update(step, loss="0.5")
  bar.close()
  assert "\r" in term.getvalue() and "4/4" in term.getvalue() and "loss=0.5" in term.getvalue()
  quiet = io.StringIO()
  off = progress.Progress(4, desc="run", every_steps=1, stream=quiet, enabled=False)
  for step in range(1, 5):
    off.update(step)
  off.close()
  assert quiet.getvalue() == ""
