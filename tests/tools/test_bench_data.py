"""tools/bench_data.py: the rate it reports for a pipeline of known speed (a made-up clock, no timing)."""

from tools import bench_data


class _Clock:
  def __init__(self):
    self.now = 0.0

  def perf_counter(self):
    return self.now


class _Batches:
  """Three batches an epoch, each taking `seconds` of the clock to make."""

  def __init__(self, clock, seconds):
    self.clock, self.seconds, self.epochs = clock, seconds, []

  def epoch(self, number):
    self.epochs.append(number)
    for index in range(3):
      self.clock.now += self.seconds
      yield index


def test_a_pipeline_of_an_eighth_of_a_second_a_batch_gives_eight_batches_a_second(monkeypatch):
  clock = _Clock()  # eighths add up exactly in binary floating point
  monkeypatch.setattr(bench_data.time, "perf_counter", clock.perf_counter)
  batches = _Batches(clock, 0.125)
  assert bench_data.batches_per_second(batches, seconds=1.0) == 8.0
  assert batches.epochs == [0, 1, 2]  # 8 batches: two whole epochs and two of the third
  assert clock.now == 1.0  # it stopped as soon as the time was up
