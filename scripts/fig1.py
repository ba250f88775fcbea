"""Figure 1: eigenvalue moduli, ||A^t|| and hidden-state norms of Glorot-family matrices, and a P(rho > 1) table.

    python scripts/fig1.py --out docs               # default size (the committed docs/fig1*)
    python scripts/fig1.py --quick --out /tmp/fig1  # seconds, for tests

The command line of tools/fig1.py, which computes and writes every output (its docstring says which).
"""

import os

# One OpenBLAS thread for numpy's eigvals/SVD unless the caller chose otherwise: on few shared cores OpenBLAS's
# spinning threads fight XLA and other jobs for them (docs/fig1.md). Must precede numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402

from tools import fig1  # noqa: E402


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds), for tests")
  parser.add_argument("--out", default="out/fig1", help="output directory (docs for the committed outputs)")
  parser.add_argument("--seed", type=int, default=0, help="the JAX key of every draw")
  args = parser.parse_args(argv)
  command = "python scripts/fig1.py " + " ".join(sys.argv[1:] if argv is None else argv)
  return fig1.run(args.out, quick=args.quick, seed=args.seed, command=command)


if __name__ == "__main__":
  main()
