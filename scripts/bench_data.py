"""Batches per second of the data pipeline for each task at the paper's batch size and length.

  python scripts/bench_data.py                 # generated ListOps + fixtures, in a temporary cache
  python scripts/bench_data.py --seconds 5 --cache_dir ~/.cache/glorot_lra/data

Each row: the task at (batch, length), batches/s of `Batches.epoch` with prefetching (the consumer does nothing),
the same without the background thread, and MB a batch. Compare with the train step's steps/s
(scripts/bench_step.py): the pipeline must be far faster. The measurement is tools/bench_data.py.
"""

import argparse
import tempfile

from tools import bench_data


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per cell")
  parser.add_argument("--cache_dir", default=None, help="where to generate data (default: a temporary folder)")
  args = parser.parse_args(argv)
  with tempfile.TemporaryDirectory() as tmp:
    print(bench_data.HEADER)
    for row in bench_data.rows(args.seconds, args.cache_dir or tmp):
      print(row, flush=True)


if __name__ == "__main__":
  main()
