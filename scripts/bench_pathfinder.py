"""Images per second of the Pathfinder generator (`lra.tasks.pathfinder_gen`) at 32 and 128 px, hard.

  python scripts/bench_pathfinder.py                       # 2 workers; 1,000 images at 32 px, 200 at 128 px
  python scripts/bench_pathfinder.py --workers 2 --num32 4000 --num128 800

Each row: wall-clock images/s with `--workers` processes (what `make_pathfinder.py` gets, start-up included),
CPU seconds an image in one process (`time.process_time`, less sensitive to other jobs on the machine), the
hours for LRA's 200,000 images at the measured rate and at `workers / cpu_per_image` (the rate on idle cores),
and the load average during the run. Prints the CPU model and the commit.
"""

import argparse
import os

from lra import provenance
from tools.bench_pathfinder import TOTAL, measure


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--workers", type=int, default=2)
  parser.add_argument("--num32", type=int, default=1000, help="images at 32 px (wall-clock rate)")
  parser.add_argument("--num128", type=int, default=200, help="images at 128 px (wall-clock rate)")
  parser.add_argument("--serial", type=int, default=100, help="images timed in one process (CPU seconds)")
  args = parser.parse_args(argv)
  print(f"CPU: {provenance.cpu_model()}; {os.cpu_count()} cores visible; commit {provenance.commit_label()}; "
        f"workers {args.workers}")
  print("| resolution | images | images/s (wall) | CPU ms / image | 200k images, h (wall) | 200k images, h "
        "(idle cores) | load average |")
  print("|---|---|---|---|---|---|---|")
  for resolution, num in ((32, args.num32), (128, args.num128)):
    r = measure(resolution, num, args.workers, max(1, args.serial if resolution == 32 else args.serial // 2))
    print(f"| {resolution} | {num} | {r['rate']:.1f} | {1000 * r['cpu']:.1f} | {TOTAL / r['rate'] / 3600:.2f} | "
          f"{TOTAL * r['cpu'] / args.workers / 3600:.2f} | {r['load']:.1f} |", flush=True)


if __name__ == "__main__":
  main()
