"""Builds Table 1 from results.json files under a sweep root (and optionally a wandb project): Markdown, LaTeX, CSV.

The outputs name the commits and devices the runs came from; a table whose runs came from more than one of either
gets a warning line, also printed to stderr. The table is tools/table.py's.

  python scripts/table1.py --root runs/table1    # prints Markdown; writes runs/table1/table1.{md,tex,csv}
  python scripts/table1.py --root runs/table1 --wandb-project glorot-lra --wandb-entity me
"""

import argparse
import os
import sys

from tools import sweep, table


def main(argv: list[str] | None = None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--root", action="append", default=[], help="a sweep root (repeatable)")
  p.add_argument("--wandb-project", default=None, help="also read the runs of this wandb project, if reachable")
  p.add_argument("--wandb-entity", default=None)
  p.add_argument("--out", default=None, help="output prefix for .md/.tex/.csv (default: <first root>/table1)")
  p.add_argument("--seeds", default=None, help="expected seeds of every cell, e.g. 0,1,2 (default: from the sweep)")
  p.add_argument("--tasks", default=None, help="columns, e.g. listops,imdb (default: Table 1's and any seen)")
  p.add_argument("--no-published", action="store_true", help="leave out the published numbers")
  args = p.parse_args(argv)
  if not args.root and not args.wandb_project:
    p.error("give --root DIR and/or --wandb-project NAME")
  for root in args.root:
    if not os.path.isdir(root):
      p.error(f"--root {root!r} is not a directory")
  prov = sweep.provenance([sys.executable, *sys.argv] if argv is None else ["scripts/table1.py", *argv])
  try:
    built = table.build_table1(
        args.root, prov, wandb_project=args.wandb_project, wandb_entity=args.wandb_entity,
        seeds=[int(s) for s in sweep.split_list(args.seeds)] if args.seeds else None,
        tasks=sweep.split_list(args.tasks) if args.tasks else None, published=not args.no_published)
  except table.WandbUnavailable as e:
    print(f"table1.py: wandb skipped: {e}", file=sys.stderr)
    return 1
  for line in [*built.notes, *built.warnings]:
    print(f"table1.py: {line}", file=sys.stderr)
  prefix = args.out or os.path.join(args.root[0] if args.root else ".", "table1")
  os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
  for ext, text in built.outputs.items():
    with open(prefix + ext, "w") as f:
      f.write(text)
  print(built.outputs[".md"])
  print(f"{len(built.records)} runs read; wrote {', '.join(prefix + ext for ext in built.outputs)}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
