"""train.py's error contract: the project's configuration and data errors are one line, anything else is a bug
and keeps its traceback; a preempted run exits 75."""

import os
import subprocess
import sys

import pytest

from lra.errors import ConfigError
from lra.tasks.data import DataNotFoundError
from lra.train import loop, preemption
import train
from tests.lra.tiny import REPO


def _main_with(monkeypatch, exc):
  def run(config, workdir):
    raise exc
  monkeypatch.setattr(loop, "run", run)
  train.parse_flags(["train.py", "--config", os.path.join(REPO, "configs", "listops.py:cpu"), "--workdir", "w"])
  train.main([])


@pytest.mark.parametrize("exc", [ConfigError("config.model.x=1; valid: [2]"), DataNotFoundError("no data here")])
def test_project_errors_exit_with_one_line(monkeypatch, exc):
  with pytest.raises(SystemExit) as exit_info:
    _main_with(monkeypatch, exc)
  assert exit_info.value.code == f"error: {exc}"


def test_any_other_exception_is_a_bug_and_propagates(monkeypatch):
  with pytest.raises(ValueError, match="a bug in a model"):
    _main_with(monkeypatch, ValueError("a bug in a model"))


def test_a_preempted_run_exits_75(monkeypatch, capsys):
  with pytest.raises(SystemExit) as exit_info:
    _main_with(monkeypatch, preemption.Preempted("stopped by SIGTERM at step 3"))
  assert exit_info.value.code == preemption.PREEMPTED_EXIT_CODE
  assert "stopped by SIGTERM at step 3" in capsys.readouterr().err


def test_an_unknown_preset_is_one_line_naming_the_valid_ones(tmp_path):
  proc = subprocess.run([sys.executable, "train.py", "--config", "configs/listops.py:gpu", "--workdir",
                         str(tmp_path / "w")], cwd=REPO, capture_output=True, text=True, timeout=120,
                        env=dict(os.environ, JAX_PLATFORMS="cpu"))
  assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
  assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
  assert "unknown preset 'gpu'" in proc.stderr and "'paper', 'cpu'" in proc.stderr


def test_a_broken_config_file_keeps_its_traceback(tmp_path):
  broken = tmp_path / "broken.py"
  broken.write_text("def get_config():\n  return undefined_name\n")
  proc = subprocess.run([sys.executable, "train.py", "--config", str(broken), "--workdir", str(tmp_path / "w")],
                        cwd=REPO, capture_output=True, text=True, timeout=120,
                        env=dict(os.environ, JAX_PLATFORMS="cpu"))
  assert proc.returncode != 0 and "NameError" in proc.stderr and "Traceback" in proc.stderr
