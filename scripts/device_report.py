"""Writes the report of scripts/device_check.sh from its work folder (tools/device_report.py renders it).

  python scripts/device_report.py --work /tmp/device_check.abc --out docs/gpu.md --seconds 431
  python scripts/device_report.py --work DIR --out DIR/gpu.md --tiny --seconds 60
"""

import argparse
import os

from tools import device_report


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--work", required=True, help="device_check.sh's work folder (status.txt, logs, JSON rows)")
  parser.add_argument("--out", required=True, help="where to write the report")
  parser.add_argument("--tiny", action="store_true", help="the stages ran at --tiny sizes on a CPU")
  parser.add_argument("--seconds", type=int, required=True, help="the stages' wall time, for the report")
  args = parser.parse_args(argv)
  from lra import provenance  # after parsing: it imports jax
  text = device_report.render(args.work, provenance.collect(), args.tiny, args.seconds)
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  with open(args.out, "w") as f:
    f.write(text)
  print(text)
  print(f"wrote {args.out}; logs in {args.work}")


if __name__ == "__main__":
  main()
