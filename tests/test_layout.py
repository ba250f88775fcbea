"""The layout keeps its promises: importing the library pulls in no tooling, and every module says what it holds."""

import ast
import glob
import json
import os
import subprocess
import sys

from tests.lra.tiny import REPO


def test_importing_the_library_imports_no_tooling():
  code = ("import json, sys, lra, models, inits; "
          "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('lra', 'tools', 'scripts'))))")
  out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                       env=dict(os.environ, JAX_PLATFORMS="cpu")).stdout
  loaded = json.loads(out.splitlines()[-1])
  assert loaded == ["lra"], loaded  # lra.tasks and lra.train load only when asked for; tools/ never


def test_every_module_has_a_docstring():
  paths = [p for folder in ("inits", "models", "lra", "configs", "tools") for p in
           glob.glob(os.path.join(REPO, folder, "**", "*.py"), recursive=True)] + [os.path.join(REPO, "train.py")]
  missing = [os.path.relpath(p, REPO) for p in paths if not ast.get_docstring(ast.parse(open(p).read()))]
  assert not missing, missing


def test_scripts_are_command_lines_without_sys_path_edits():
  """The README's rule: scripts/ parse arguments and call a module where the logic lives; the package is installed,
  so no script edits sys.path."""
  editing = {os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "scripts", "*.py"))
             if "sys.path" in open(p).read()}
  being_rewritten = set()
  assert editing <= being_rewritten, f"scripts that edit sys.path (the package is installed): {sorted(editing)}"


def test_pyproject_installs_every_package():
  """Every folder with an __init__.py outside tests/ is in pyproject.toml's packages, so `pip install -e .` makes
  it importable from anywhere (scripts/ included)."""
  import tomllib
  with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
    listed = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
  found = {os.path.relpath(os.path.dirname(p), REPO).replace(os.sep, ".")
           for p in glob.glob(os.path.join(REPO, "**", "__init__.py"), recursive=True)
           if not os.path.relpath(p, REPO).startswith(("tests", "."))}
  assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"
