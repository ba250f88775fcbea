"""Tests of lra.provenance (commit, versions, devices) and lra.wandb_auth (the API key lookup), offline."""

import importlib.metadata
import io
import json
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


def _fake_sources(monkeypatch, cpuinfo=None, lscpu=None, processor=""):
  """cpu_model's three sources made up: /proc/cpuinfo's text (None: unreadable), lscpu's output (None: not
  installed) and platform.processor()."""
  real_open = open

  def fake_open(path, *args, **kwargs):
    if path == "/proc/cpuinfo":
      if cpuinfo is None:
        raise FileNotFoundError(path)
      return io.StringIO(cpuinfo)
    return real_open(path, *args, **kwargs)

  def fake_run(cmd, *args, **kwargs):
    assert cmd == ["lscpu"]
    if lscpu is None:
      raise FileNotFoundError("lscpu")
    return subprocess.CompletedProcess(cmd, 0, stdout=lscpu, stderr="")

  monkeypatch.setattr(provenance, "open", fake_open, raising=False)  # the module's `open`, not the builtin
  monkeypatch.setattr(provenance.subprocess, "run", fake_run)
  monkeypatch.setattr(provenance.platform, "processor", lambda: processor)


X86_CPUINFO = ("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel\t\t: 143\n"
               "model name\t: Intel(R) Xeon(R) Platinum 8480+\nflags\t\t: fpu vme\n\n"
               "processor\t: 1\nmodel name\t: Intel(R) Xeon(R) Platinum 8480+\n")


def test_cpu_model_from_cpuinfo_then_lscpu_then_platform(monkeypatch):
  _fake_sources(monkeypatch, cpuinfo=X86_CPUINFO, lscpu="Model name: other\n")
  assert provenance.cpu_model() == "Intel(R) Xeon(R) Platinum 8480+"  # not x86's numeric "model : 143"
  _fake_sources(monkeypatch, cpuinfo="processor\t: 0\nBogoMIPS\t: 108.00\nModel\t\t: Raspberry Pi 4 Model B\n")
  assert provenance.cpu_model() == "Raspberry Pi 4 Model B"  # ARM boards name the machine as "Model"
  lscpu = "Architecture:  aarch64\nVendor ID:     ARM\nModel name:    Neoverse-V2\nModel:         0\n"
  _fake_sources(monkeypatch, cpuinfo="processor\t: 0\nBogoMIPS\t: 2000.00\n", lscpu=lscpu)
  assert provenance.cpu_model() == "Neoverse-V2"  # cpuinfo without a name: lscpu's
  _fake_sources(monkeypatch, cpuinfo=None, lscpu=None, processor="arm")
  assert provenance.cpu_model() == "arm"
  _fake_sources(monkeypatch, cpuinfo=None, lscpu="Architecture: x86_64\n", processor="")
  assert provenance.cpu_model() is None


def test_cpu_model_agrees_with_lscpu_here():
  """On this machine, the name the docs quote (`lscpu | grep 'Model name'`) where lscpu has one."""
  try:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True, timeout=10).stdout
  except (OSError, subprocess.CalledProcessError):
    pytest.skip("no lscpu")
  names = [line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name:")]
  if not names or names[0] == "-":
    pytest.skip("lscpu names no model")
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
