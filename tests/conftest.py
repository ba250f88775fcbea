"""Shared pytest set-up: CPU JAX, wandb disabled, a float64 fixture, and the `slow` marker."""

import os

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def x64():
  """Runs a test with float64 enabled, without leaking the setting into other tests."""
  with jax.enable_x64(True):
    yield
