"""Shared pytest set-up: CPU JAX, wandb disabled, one BLAS thread, and a float64 fixture."""

import os

os.environ.setdefault("WANDB_MODE", "disabled")
# One BLAS thread: two OpenBLAS threads fighting XLA for 2 cores slow numpy's eigendecompositions (docs/fig1.md).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def x64():
  """Runs a test with float64 enabled, without leaking the setting into other tests."""
  with jax.enable_x64(True):
    yield
