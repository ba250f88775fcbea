"""Generates a Pathfinder set with our seeded generator: npz shards (the project's cache format) or the official
LRA layout (`--format lra`: imgs/<N>/sample_<M>.png and text metadata/<N>.npy rows), on every core.

  python scripts/make_pathfinder.py --resolution 32 --difficulty hard --num 200000 --out DIR
  python scripts/make_pathfinder.py --resolution 128 --num 200000 --out DIR --format lra
      # -> DIR/pathfinder128/curv_contour_length_14/{imgs,metadata}: pass DIR/pathfinder128 as
      #    --config.data.pathfinder.raw_dir with --config.data.pathfinder.source=raw

The law, the parameters and the extra metadata fields: docs/pathfinder.md.
"""

import argparse
import json
import time

from lra.tasks import pathfinder
from lra.tasks import pathfinder_gen


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--resolution", type=int, default=32, choices=pathfinder_gen.RESOLUTIONS)
  parser.add_argument("--difficulty", default="hard", choices=tuple(pathfinder_gen.CONTOUR_LENGTHS))
  parser.add_argument("--num", type=int, default=200_000, help="images (default: %(default)s, LRA's count)")
  parser.add_argument("--out", required=True, help="output folder")
  parser.add_argument("--format", default="cache", choices=("cache", "lra"),
                      help="cache: npz shards + manifest.json; lra: the official layout under OUT/pathfinder<res>/")
  parser.add_argument("--seed", type=int, default=0, help="generator seed (image i depends on seed and i only)")
  parser.add_argument("--workers", type=int, default=0, help="processes (default 0: every core)")
  args = parser.parse_args(argv)
  law = pathfinder_gen.law(args.resolution, args.difficulty)
  start = time.time()
  summary = pathfinder.make_set(law, args.seed, args.num, args.out, fmt=args.format, difficulty=args.difficulty,
                                workers=args.workers)
  seconds = time.time() - start
  print(json.dumps({**summary, "seconds": round(seconds, 1), "images_per_second": round(args.num / seconds, 1)},
                   indent=1))


if __name__ == "__main__":
  main()
