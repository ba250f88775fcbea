"""Where a result came from: the commit, the library versions, the platform and the devices.

    from lra import provenance
    provenance.collect()     # {"commit", "dirty", "versions", "platform", "device_kind", "device_count", ...}
    provenance.git_commit()  # (sha, dirty) of this checkout; (None, None) outside a git checkout
    provenance.commit_label()  # "sha" or "sha+dirty"; None outside a git checkout

`import lra` does not import this module: `collect()` imports JAX and asks it for its devices.
"""

import importlib.metadata
import os
import platform
import subprocess

REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint")


def _git(args: list[str], repo_dir: str) -> str:
  return subprocess.run(["git", *args], cwd=repo_dir, capture_output=True, text=True, check=True,
                        timeout=30).stdout.strip()


def git_commit(repo_dir: str = REPO_DIR) -> tuple[str | None, bool | None]:
  """(HEAD's sha, whether tracked files differ from it) of the checkout at `repo_dir`; (None, None) when
  `repo_dir` is not the top of a git checkout (e.g. an installed copy) or git is missing."""
  try:
    top = _git(["rev-parse", "--show-toplevel"], repo_dir)
    if os.path.realpath(top) != os.path.realpath(repo_dir):
      return None, None
    sha = _git(["rev-parse", "HEAD"], repo_dir)
    dirty = bool(_git(["status", "--porcelain", "--untracked-files=no"], repo_dir))
  except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
    return None, None
  return sha, dirty


def commit_label(repo_dir: str = REPO_DIR) -> str | None:
  """The commit as one string, `sha` or `sha+dirty`; None outside a git checkout."""
  sha, dirty = git_commit(repo_dir)
  return None if sha is None else sha + ("+dirty" if dirty else "")


def versions() -> dict[str, str | None]:
  """The installed versions of Python and of PACKAGES (None for a package that is not installed)."""
  found: dict[str, str | None] = {"python": platform.python_version()}
  for package in PACKAGES:
    try:
      found[package] = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
      found[package] = None
  return found


def cpu_model() -> str | None:
  """The CPU's model name, from /proc/cpuinfo, else `lscpu`, else `platform.processor()`; None if none says."""
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "cpu model") and value.strip():
          return value.strip()
  except OSError:
    pass
  try:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True, timeout=10).stdout
    for line in out.splitlines():
      key, _, value = line.partition(":")
      if key.strip() == "Model name" and value.strip():
        return value.strip()
  except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
    pass
  return platform.processor() or None


def collect(repo_dir: str = REPO_DIR) -> dict:
  """The provenance of a run started now, JSON-able.

  Returns:
    commit: HEAD's sha, or None outside a git checkout; dirty: tracked files differ from it (None likewise);
    versions: {python, jax, jaxlib, flax, optax, orbax-checkpoint}; platform: `jax.default_backend()`;
    device_kind, device_count (all processes), local_device_count, process_count; cpu_model: the host's CPU;
    gpu_model: the accelerator's device kind on GPU, else None.
  """
  import jax  # here: `import lra` stays light

  sha, dirty = git_commit(repo_dir)
  devices = jax.devices()
  backend = jax.default_backend()
  return dict(commit=sha, dirty=dirty, versions=versions(), platform=backend, device_kind=devices[0].device_kind,
              device_count=jax.device_count(), local_device_count=jax.local_device_count(),
              process_count=jax.process_count(), cpu_model=cpu_model(),
              gpu_model=devices[0].device_kind if backend in ("gpu", "cuda", "rocm") else None)


def describe_devices(prov: dict) -> str:
  """`4 x NVIDIA H100 80GB HBM3 (gpu)` or `1 x cpu (Intel(R) Xeon(R) ...)`: a run's devices in one line."""
  if prov["platform"] == "cpu" and prov["cpu_model"]:
    return f"{prov['device_count']} x cpu ({prov['cpu_model']})"
  return f"{prov['device_count']} x {prov['device_kind']} ({prov['platform']})"


def describe_commit(prov: dict) -> str:
  """`<sha 12>` or `<sha 12>+dirty` of a provenance dict; `unknown` when it has no commit."""
  if not prov["commit"]:
    return "unknown"
  return prov["commit"][:12] + ("+dirty" if prov["dirty"] else "")
