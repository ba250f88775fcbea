"""The stability phase diagram: predicted p_diverge over width n and length L per initializer, real training on top.

    python scripts/stability_map.py --out docs             # the committed docs/stability_map*  (< 25 min, 2 cores)
    python scripts/stability_map.py --quick --out /tmp/sm  # tiny sizes, for tests

The command line of tools/stability_map.py, which predicts, trains and writes every output (its docstring says
which).
"""

import os

# One OpenBLAS thread: eigendecompositions slow down 8x when two BLAS threads fight XLA for 2 cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

import argparse  # noqa: E402
import sys  # noqa: E402

from tools import stability_map  # noqa: E402


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="tiny sizes and one training run, for tests")
  parser.add_argument("--out", default="out/stability_map", help="output directory (docs for the committed ones)")
  parser.add_argument("--runs", default=None, help="training workdirs (default: a temporary directory)")
  parser.add_argument("--reuse-observations", default=None, metavar="CSV",
                      help="read the runs from a previous stability_map_observations.csv instead of training")
  args = parser.parse_args(argv)
  command = "python scripts/stability_map.py " + " ".join(sys.argv[1:] if argv is None else argv)
  return stability_map.run(args.out, quick=args.quick, runs=args.runs, reuse_observations=args.reuse_observations,
                           command=command)


if __name__ == "__main__":
  main()
