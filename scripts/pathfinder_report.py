"""docs/pathfinder.md's figure and statistics: a grid of generated samples at each resolution (positives beside
negatives), and, over a larger Pathfinder-32 sample, the label balance, lit pixels by class, a linear probe on
image statistics, and the flood-fill check of the tests.

  python scripts/pathfinder_report.py --out docs --num 2000      # docs/pathfinder_samples.png + the tables
"""

import argparse
import os

from tools.pathfinder_report import sample_grid, statistics


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--out", default="docs")
  parser.add_argument("--num", type=int, default=2000, help="Pathfinder-32 images for the statistics")
  parser.add_argument("--num128", type=int, default=200, help="Path-X images for the statistics")
  args = parser.parse_args(argv)
  os.makedirs(args.out, exist_ok=True)
  sample_grid(os.path.join(args.out, "pathfinder_samples.png"))
  print(statistics(32, args.num, seed=1))
  print()
  print(statistics(128, args.num128, seed=1))


if __name__ == "__main__":
  main()
