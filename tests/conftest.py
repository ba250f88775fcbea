"""Shared pytest set-up: CPU JAX, wandb disabled, one BLAS thread, a compilation cache for the processes the
tests start, a float64 fixture, and the slow tests scheduled first."""

import os

os.environ.setdefault("WANDB_MODE", "disabled")
# One BLAS thread: two OpenBLAS threads fighting XLA for 2 cores slow numpy's eigendecompositions (docs/fig1.md).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def subprocess_compilation_cache(tmp_path_factory):
  """The train.py and script processes the tests start share one persistent XLA compilation cache, so a program
  that several of them run compiles once. Set after this process imported jax, so its own jit calls are not
  cached; a cache the caller set is kept."""
  base = tmp_path_factory.getbasetemp()
  folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "jax_cache"  # one for all workers
  folder.mkdir(exist_ok=True)
  os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(folder))
  os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
  yield


@pytest.fixture
def x64():
  """Runs a test with float64 enabled, without leaking the setting into other tests."""
  with jax.enable_x64(True):
    yield


def pytest_collection_modifyitems(config, items):
  """The SLURM tests first, then the slow ones, the others in their order: xdist hands tests out in this order, so
  the minute-long ones then run beside the short ones instead of one after another at the end."""
  items.sort(key=lambda item: 0 if item.get_closest_marker("slurm") else 1 if item.get_closest_marker("slow") else 2)


def pytest_sessionfinish(session):
  """In the controlling process (the only one without xdist): stop a SLURM cluster of tests/slurm that a crashed
  worker left running."""
  factory = getattr(session.config, "_tmp_path_factory", None)
  if hasattr(session.config, "workerinput") or factory is None:
    return
  folder = factory.getbasetemp() / "slurm" / "cluster"
  if folder.is_dir():
    from tests.slurm import cluster
    cluster.Cluster(str(folder)).stop()
