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
