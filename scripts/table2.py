"""Writes Table 2 (copy, adding, forecast per initializer) from a sweep root: `python scripts/table2.py --root R`."""

import argparse

from tools import table2


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__)
  p.add_argument("--root", required=True, help="the sweep root: <root>/<task>/<row>/seed<k>/results.json")
  p.add_argument("--out", default=None, help="also write the Markdown here")
  p.add_argument("--plot", default=None, help="also draw the validation curves per task as this PNG")
  p.add_argument("--plot-rollouts", default=None, help="also draw the forecast rollouts (rollout.npy) as this PNG")
  p.add_argument("--plot-memory", default=None,
                 help="also draw each run's memory at initialization against its copy accuracy and forecast ratio, "
                      "with Spearman's rank correlation, as this PNG")
  args = p.parse_args(argv)
  runs = table2.read_runs(args.root)
  markdown = table2.to_markdown(runs)
  print(markdown)
  if args.out:
    with open(args.out, "w") as f:
      f.write(markdown)
  if args.plot:
    table2.plot_curves(runs, args.plot)
    print(f"wrote {args.plot}")
  if args.plot_rollouts:
    table2.plot_rollouts(runs, args.plot_rollouts)
    print(f"wrote {args.plot_rollouts}")
  if args.plot_memory:
    correlations = table2.plot_memory(runs, args.plot_memory)
    for task, (rho, p_value, count) in correlations.items():
      print(f"{task}: Spearman rho {rho if rho is None else round(rho, 3)} (p {p_value}) over {count} runs")
    print(f"wrote {args.plot_memory}")


if __name__ == "__main__":
  main()
