"""tools/bench_scan.py: the authors' formulation it times against a float64 loop, one tiny cell's row, and the
table's fastest and auto/authors columns."""

import jax
import numpy as np
import pytest

from models import scan
from tools import bench_scan


def _loop(coeff, b, kind):
  """h_t = a * h_{t-1} + b_t (diag) or A h_{t-1} + b_t (dense), h_0 = 0, in float64 / complex128."""
  h, states = np.zeros(b.shape[::2], b.dtype), []
  for t in range(b.shape[1]):
    h = (h * coeff if kind == "diag" else h @ coeff.T) + b[:, t]
    states.append(h)
  return np.stack(states, axis=1)


@pytest.mark.parametrize("kind", ["diag", "dense"])
def test_the_authors_formulation_is_the_recurrence(kind):
  rng = np.random.default_rng(0)
  if kind == "diag":
    coeff = 0.95 * np.exp(1j * rng.uniform(0, 2 * np.pi, 6))
    b = rng.standard_normal((2, 9, 6)) + 1j * rng.standard_normal((2, 9, 6))
    dtype = np.complex64
  else:
    coeff = 0.3 * rng.standard_normal((6, 6))
    b = rng.standard_normal((2, 9, 6))
    dtype = np.float32
  got = bench_scan._authors_scan(kind, jax.numpy.asarray(coeff, dtype), jax.numpy.asarray(b, dtype))
  np.testing.assert_allclose(np.asarray(got), _loop(coeff, b, kind), rtol=1e-4, atol=1e-5)


def test_a_tiny_cell_reports_its_shape_the_auto_choice_and_finite_gradients():
  row = bench_scan.run_cell("dense", "sequential", 16, 4, 2, reps=1)
  assert {k: row[k] for k in ("kind", "impl", "length", "width", "batch")} == dict(
      kind="dense", impl="sequential", length=16, width=4, batch=2)
  assert row["finite"] and row["seconds"] > 0 and row["platform"] == jax.default_backend()
  assert row["auto"] == scan.resolve_impl("dense", "auto", jax.default_backend())


def test_table_names_the_fastest_and_the_auto_to_authors_ratio():
  base = dict(kind="diag", length=1024, width=64, batch=8, peak_mb=10.0, finite=True, auto="sequential")
  rows = [dict(base, impl="sequential", seconds=0.2), dict(base, impl="associative", seconds=0.5),
          dict(base, impl="authors", seconds=0.8), dict(base, impl="chunked", error="timeout > 60 s"),
          dict(base, impl="sequential", width=256, seconds=0.9), dict(base, impl="authors", width=256, seconds=0.3,
                                                                     finite=False)]
  lines = bench_scan.format_table(rows).splitlines()
  assert "| L | n | sequential | associative | authors | chunked | fastest | auto / authors time |" in lines
  assert f"| 1024 | 64 | 0.200 / 10 | 0.500 / 10 | 0.800 / 10 | (timeout > 60 s) | sequential | {0.2 / 0.8:.2f} |" \
      in lines
  assert f"| 1024 | 256 | 0.900 / 10 | - | 0.300 / 10 (non-finite) | - | authors | {0.9 / 0.3:.2f} |" in lines
