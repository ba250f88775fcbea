"""Shared by the tests of scripts/fig1.py and scripts/stability_map.py: load a script, run its --quick size, read
its CSV outputs."""

import csv
import importlib.util
import pathlib

import pytest

SCRIPTS = pathlib.Path(__file__).resolve().parents[2] / "scripts"


def load_script(name: str):
  """scripts/<name>.py as a module (scripts/ is not a package)."""
  spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def read_csv(path) -> list[dict]:
  with open(path) as file:
    return list(csv.DictReader(file))


def quick_main(name: str, out: pathlib.Path, *args: str):
  """scripts/<name>.py's `main(["--quick", *args])`, with the project cache under `out` (no cache shared with other
  tests or runs); returns what main returns."""
  with pytest.MonkeyPatch.context() as patch:
    patch.setenv("GLOROT_LRA_CACHE", str(out / "cache"))
    return load_script(name).main(["--quick", *args])
