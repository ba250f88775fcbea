"""Tests of lra.provenance (commit, versions, devices) and lra.wandb_auth (the API key lookup), offline."""

import importlib.metadata
import json
import os
import subprocess
import sys

import jax
import pytest

from lra import provenance
from lra import wandb_auth


def _git(repo, *args):
  subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *args], cwd=repo, check=True,
                 capture_output=True)


@pytest.fixture
def repo(tmp_path):
  path = tmp_path / "repo"
  path.mkdir()
  _git(path, "init", "-q")
  (path / "a.txt").write_text("one\n")
  _git(path, "add", "a.txt")
  _git(path, "commit", "-q", "-m", "first")
  return path


def test_git_commit_and_dirty_of_a_checkout(repo):
  sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
  assert provenance.git_commit(str(repo)) == (sha, False) and provenance.commit_label(str(repo)) == sha
  (repo / "untracked.txt").write_text("x")  # untracked files do not make the tree dirty
  assert provenance.git_commit(str(repo)) == (sha, False)
  (repo / "a.txt").write_text("two\n")
  assert provenance.git_commit(str(repo)) == (sha, True) and provenance.commit_label(str(repo)) == sha + "+dirty"


def test_no_commit_outside_a_checkout_or_below_its_top(tmp_path, repo):
  assert provenance.git_commit(str(tmp_path / "repo" / ".git" / "..")) != (None, None)
  (repo / "sub").mkdir()
  assert provenance.git_commit(str(repo / "sub")) == (None, None)  # e.g. an installed copy inside another repo
  plain = tmp_path / "plain"
  plain.mkdir()
  assert provenance.git_commit(str(plain)) == (None, None) and provenance.commit_label(str(plain)) is None


def test_collect_records_versions_platform_and_devices(tmp_path, repo):
  prov = provenance.collect(str(repo))
  json.dumps(prov)  # JSON-able, for config.json and results.json
  assert prov["commit"] == provenance.git_commit(str(repo))[0] and prov["dirty"] is False
  assert prov["versions"]["jax"] == jax.__version__
  assert prov["versions"]["flax"] == importlib.metadata.version("flax")
  assert prov["versions"]["orbax-checkpoint"] == importlib.metadata.version("orbax-checkpoint")
  assert set(prov["versions"]) == {"python", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint"}
  assert prov["platform"] == jax.default_backend() and prov["device_count"] == jax.device_count()
  assert prov["device_kind"] == jax.devices()[0].device_kind
  if prov["platform"] == "cpu":
    assert prov["gpu_model"] is None and prov["cpu_model"] == provenance.cpu_model()
    assert provenance.describe_devices(prov) == f"{jax.device_count()} x cpu ({prov['cpu_model']})"
  outside = provenance.collect(str(tmp_path))
  assert outside["commit"] is None and outside["dirty"] is None and provenance.describe_commit(outside) == "unknown"


def test_cpu_model_reads_proc_cpuinfo():
  if not os.path.exists("/proc/cpuinfo"):
    pytest.skip("no /proc/cpuinfo")
  with open("/proc/cpuinfo") as f:
    names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
  if names:
    assert provenance.cpu_model() == names[0]


def test_describe_a_gpu_run_and_a_dirty_commit():
  prov = dict(commit="0123456789abcdef", dirty=True, platform="gpu", device_kind="NVIDIA H200", device_count=8,
              cpu_model="AMD EPYC")
  assert provenance.describe_devices(prov) == "8 x NVIDIA H200 (gpu)"
  assert provenance.describe_commit(prov) == "0123456789ab+dirty"


def test_import_lra_does_not_import_provenance_or_jax():
  code = "import sys, lra; print('lra.provenance' in sys.modules, 'jax' in sys.modules)"
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       cwd=provenance.REPO_DIR).stdout.split()
  assert out == ["False", "False"]


def test_wandb_api_key_from_env_then_netrc(monkeypatch, tmp_path):
  monkeypatch.setenv("WANDB_API_KEY", "from-env")
  assert wandb_auth.api_key() == "from-env"
  monkeypatch.delenv("WANDB_API_KEY")
  netrc_path = tmp_path / ".netrc"
  netrc_path.write_text("machine api.wandb.ai\n  login user\n  password from-netrc\n")
  netrc_path.chmod(0o600)
  monkeypatch.setenv("HOME", str(tmp_path))
  monkeypatch.setenv("NETRC", str(netrc_path))
  monkeypatch.delenv("WANDB_BASE_URL", raising=False)
  assert wandb_auth.api_key() == "from-netrc"
  monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.example.org")  # another host: no entry
  assert wandb_auth.api_key() is None
  monkeypatch.setenv("NETRC", str(tmp_path / "missing"))
  monkeypatch.setenv("HOME", str(tmp_path / "nowhere"))
  monkeypatch.delenv("WANDB_BASE_URL")
  assert wandb_auth.api_key() is None
