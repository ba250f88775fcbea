"""Builds Table 1 from results.json files under a sweep root (and optionally a wandb project): Markdown, LaTeX, CSV.

The outputs name the commits and devices the runs came from; a table whose runs came from more than one of either
gets a warning line, also printed to stderr.

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

  records, expected = [], []
  for root in args.root:
    found, planned = table.collect_local(root)
    records += found
    expected += planned
  if args.wandb_project:
    try:
      records += table.collect_wandb(args.wandb_project, args.wandb_entity)
    except table.WandbUnavailable as e:
      print(f"table1.py: wandb skipped: {e}" + ("; using local results only" if args.root else ""), file=sys.stderr)
      if not args.root:
        return 1
  seeds = [int(s) for s in sweep._split_list(args.seeds)] if args.seeds else None
  tasks = sweep._split_list(args.tasks) if args.tasks else None
  tasks, labels, cells = table.aggregate(records, expected_runs=expected, seeds=seeds, tasks=tasks)

  prov = sweep.provenance([sys.executable, *sys.argv] if argv is None else ["scripts/table1.py", *argv])
  runs_lines, warnings = table.runs_provenance(records)
  for warning in warnings:
    print(f"table1.py: {warning}", file=sys.stderr)
  runs_from = [*runs_lines, *warnings]
  published = not args.no_published
  markdown = table.to_markdown(tasks, labels, cells, published=published, prov=prov, runs_from=runs_from)
  prefix = args.out or os.path.join(args.root[0] if args.root else ".", "table1")
  outputs = {".md": markdown,
             ".tex": table.to_latex(tasks, labels, cells, published=published, prov=prov, runs_from=runs_from),
             ".csv": table.to_csv(tasks, labels, cells, prov=prov, runs_from=runs_from)}
  os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
  for ext, text in outputs.items():
    with open(prefix + ext, "w") as f:
      f.write(text)
  print(markdown)
  print(f"{len(records)} runs read; wrote {', '.join(prefix + ext for ext in outputs)}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
