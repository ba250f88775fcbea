"""Batches per second of the data pipeline for each task at the paper's batch size and length.

The logic of `python scripts/bench_data.py`: `rows` measures each task of `SETTINGS` and yields its table row.
"""

import time

from configs import data
from lra.tasks import batching
from lra.tasks import get_task

# (task, batch size, length, data overrides): the paper's settings on data that needs no download.
SETTINGS = (
    ("listops", 32, 2048, dict(listops=dict(num_train=1000, num_val=10, num_test=10))),  # full token bounds
    ("scifar", 50, 1024, dict(scifar=dict(source="fixture", fixture_num_train=5000, fixture_num_test=10))),
    ("imdb", 32, 4096, dict(imdb=dict(source="fixture", fixture_num_train=1000, fixture_num_test=10,
                                      fixture_min_words=600, fixture_max_words=900))),
)
HEADER = ("| task | batch x length | batches/s (prefetch 2) | batches/s (no thread) | MB/batch |\n"
          "|---|---|---|---|---|")


def batches_per_second(batches: batching.Batches, seconds: float) -> float:
  """Batches delivered a second by `batches.epoch(0)`, `epoch(1)`, ... over `seconds`, the consumer doing nothing."""
  count, epoch, start = 0, 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    for _ in batches.epoch(epoch):
      count += 1
      if time.perf_counter() - start >= seconds:
        break
    epoch += 1
  return count / (time.perf_counter() - start)


def rows(seconds: float, cache_dir: str):
  """One Markdown row a task of SETTINGS: batches/s with prefetching and without, and MB a batch."""
  for task_name, batch_size, length, overrides in SETTINGS:
    cfg = data.default_data_config(task_name)
    cfg.update(overrides)
    cfg.max_length, cfg.cache_dir = length, cache_dir
    split = get_task(task_name, cfg).load("train")
    rates = [batches_per_second(batching.Batches(split, batch_size, seed=0, shuffle=True, drop_last=True,
                                                 prefetch=prefetch), seconds) for prefetch in (2, 0)]
    batch = next(batching.Batches(split, batch_size, seed=0, shuffle=True, drop_last=True).epoch(0))
    megabytes = sum(v.nbytes for v in batch.values()) / 1e6
    yield f"| {task_name} | {batch_size} x {length} | {rates[0]:.0f} | {rates[1]:.0f} | {megabytes:.1f} |"
