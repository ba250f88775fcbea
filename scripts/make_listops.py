"""Generates ListOps TSV files (the LRA format) with our seeded generator, into the cache or a folder.

  python scripts/make_listops.py                         # full size (96k/2k/2k, 500 < tokens < 2000) in the cache
  python scripts/make_listops.py --size cpu              # the :cpu preset's small set
  python scripts/make_listops.py --out /tmp/listops --num_train 1000 --seed 1

The cache folder (what `--config.data.listops.source=generated` reads) is printed with the label counts.
"""

import argparse
import dataclasses
import json
import os
import time

from configs import data as data_config
from lra.tasks import data
from lra.tasks import listops


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--size", choices=("full", "cpu"), default="full",
                      help="starting parameters: the LRA sizes, or the :cpu preset's small set")
  parser.add_argument("--out", default=None,
                      help="write basic_{train,val,test}.tsv here (default: the cache folder the configs read)")
  parser.add_argument("--cache_dir", default=None, help=f"cache root (default: {data.default_cache_dir()})")
  for field in dataclasses.fields(listops.GeneratorParams):
    parser.add_argument(f"--{field.name}", type=int, default=None, help=f"override {field.name}")
  args = parser.parse_args(argv)

  params = listops.GeneratorParams()
  if args.size == "cpu":
    params = dataclasses.replace(params, **{k: v for k, v in data_config.cpu_data_overrides("listops")["listops"].items()
                                            if k != "source"})
  overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(params) if getattr(args, f.name) is not None}
  params = dataclasses.replace(params, **overrides)
  start = time.time()
  if args.out:
    counts = listops.generate(params, args.out)
    out_dir = args.out
  else:
    out_dir = listops.ensure_generated(params, args.cache_dir or data.default_cache_dir())
    with open(os.path.join(out_dir, "checksums.json")) as f:
      counts = json.load(f)["label_counts"]
  print(f"{out_dir} ({time.time() - start:.1f} s)")
  print(json.dumps({"params": dataclasses.asdict(params), "label_counts": counts}, indent=1))


if __name__ == "__main__":
  main()
