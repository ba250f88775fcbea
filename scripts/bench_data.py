"""Batches per second of the data pipeline for each task at the paper's batch size and length.

  python scripts/bench_data.py                 # generated ListOps + fixtures, in a temporary cache
  python scripts/bench_data.py --seconds 5 --cache_dir ~/.cache/glorot_lra/data

Each row: the task at (batch, length), batches/s of `Batches.epoch` with prefetching (the consumer does nothing),
the same without the background thread, and MB a batch. Compare with the train step's steps/s
(scripts/bench_step.py): the pipeline must be far faster.
"""

import argparse
import tempfile
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


def batches_per_second(batches: batching.Batches, seconds: float) -> float:
  count, epoch, start = 0, 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    for _ in batches.epoch(epoch):
      count += 1
      if time.perf_counter() - start >= seconds:
        break
    epoch += 1
  return count / (time.perf_counter() - start)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per cell")
  parser.add_argument("--cache_dir", default=None, help="where to generate data (default: a temporary folder)")
  args = parser.parse_args(argv)
  with tempfile.TemporaryDirectory() as tmp:
    print("| task | batch x length | batches/s (prefetch 2) | batches/s (no thread) | MB/batch |")
    print("|---|---|---|---|---|")
    for task_name, batch_size, length, overrides in SETTINGS:
      cfg = data.default_data_config(task_name)
      cfg.update(overrides)
      cfg.max_length, cfg.cache_dir = length, args.cache_dir or tmp
      task = get_task(task_name, cfg)
      split = task.load("train")
      rates = [batches_per_second(batching.Batches(split, batch_size, seed=0, shuffle=True, drop_last=True,
                                                   prefetch=prefetch), args.seconds) for prefetch in (2, 0)]
      batch = next(batching.Batches(split, batch_size, seed=0, shuffle=True, drop_last=True).epoch(0))
      megabytes = sum(v.nbytes for v in batch.values()) / 1e6
      print(f"| {task_name} | {batch_size} x {length} | {rates[0]:.0f} | {rates[1]:.0f} | {megabytes:.1f} |",
            flush=True)


if __name__ == "__main__":
  main()
