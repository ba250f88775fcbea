"""tools/hlo_dots.py: the dots found in compiled programs (shapes, dimensions, loop counts), their flops against
the definition and XLA's own count, their timing alone, and the errors."""

import jax
import jax.numpy as jnp
import pytest

from tools import hlo_dots


def _compiled_text(fn, *args):
  return jax.jit(fn).lower(*args).compile().as_text()


def _dot_product_flops(lhs, rhs, contracting, batch=()):
  """The definition: 2 * (batch sizes) * (lhs free sizes) * (rhs free sizes) * (contracted sizes)."""
  size = lambda shape, dims: int(jnp.prod(jnp.array([shape[d] for d in dims]))) if dims else 1  # noqa: E731
  lhs_free = [d for d in range(len(lhs)) if d not in contracting[0] + batch[0:1]]
  rhs_free = [d for d in range(len(rhs)) if d not in contracting[1] + batch[1:2]]
  return (2 * size(lhs, batch[0:1]) * size(lhs, lhs_free) * size(rhs, rhs_free) * size(lhs, contracting[0]))


def test_finds_plain_batched_and_transposed_dots_with_their_shapes_and_flops():
  x, w, g = jnp.ones((48, 16)), jnp.ones((16, 24)), jnp.ones((48, 24))

  def fn(x, w, g):
    y = x @ w                                         # (48,16)x(16,24) contracting 1 / 0
    grad_w = x.T @ g                                  # contracting 0 / 0: a weight gradient
    batched = jnp.einsum("bij,bjk->bik", x.reshape(3, 16, 16), w[:, :16].reshape(1, 16, 16).repeat(3, 0))
    return y.sum() + grad_w.sum() + batched.sum()

  dots = hlo_dots.program_dots(_compiled_text(fn, x, w, g))
  by_lhs = {(d.lhs, d.rhs): d for d in dots}
  assert len(dots) == 3, dots
  plain = by_lhs[((48, 16), (16, 24))]
  assert (plain.lhs_contracting, plain.rhs_contracting, plain.count, plain.in_loop) == ((1,), (0,), 1, False)
  assert plain.out_shape == (48, 24) and plain.flops == 2 * 48 * 16 * 24
  weight_grad = by_lhs[((48, 16), (48, 24))]
  assert (weight_grad.lhs_contracting, weight_grad.rhs_contracting) == ((0,), (0,))
  assert weight_grad.out_shape == (16, 24) and weight_grad.flops == 2 * 48 * 16 * 24
  assert weight_grad.describe() == "(48,16)x(48,24) c0/c0"
  batched = next(d for d in dots if d.lhs_batch)
  assert batched.flops == _dot_product_flops(batched.lhs, batched.rhs,
                                             (batched.lhs_contracting, batched.rhs_contracting),
                                             batched.lhs_batch + batched.rhs_batch)
  assert batched.flops == 2 * 3 * 16 * 16 * 16 and batched.describe().endswith("c2b0/c1b0")


def test_counts_multiply_the_trip_counts_of_nested_loops():
  def fn(h, a):
    def inner(_, h):
      return jnp.tanh(h @ a)

    def outer(_, h):
      return jax.lax.fori_loop(0, 5, inner, h) * 0.5
    return jax.lax.fori_loop(0, 3, outer, h) @ a.T  # one more dot outside the loops

  text = _compiled_text(fn, jnp.ones((4, 8)), jnp.ones((8, 8)) / 8)
  dots = hlo_dots.program_dots(text)
  looped = [d for d in dots if d.in_loop]
  assert sum(d.count for d in looped) == 15, dots  # 3 x 5 runs, whether XLA unrolled a loop or not
  assert [d.count for d in dots if not d.in_loop] == [1]
  grouped = hlo_dots.group_dots(dots)
  assert {(d.in_loop, d.count) for d in grouped} == {(True, 15), (False, 1)}


def test_flops_of_a_matmul_program_match_xla_cost_analysis():
  x, w = jnp.ones((64, 32)), jnp.ones((32, 40))
  compiled = jax.jit(lambda x, w: x @ w).lower(x, w).compile()
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  (dot,) = hlo_dots.program_dots(compiled.as_text())
  assert dot.flops == pytest.approx(float(cost["flops"]), rel=1e-6)


def test_time_dot_alone_and_in_a_loop_and_floor_rows():
  square = hlo_dots.Dot(lhs=(4, 16), rhs=(16, 16), lhs_contracting=(1,), rhs_contracting=(0,))
  assert square.out_shape == square.lhs
  assert hlo_dots.time_dot(square, repeats=2) > 0
  assert hlo_dots.time_dot(square, loop_runs=10, repeats=2) > 0
  wide = hlo_dots.Dot(lhs=(4, 16), rhs=(16, 24), lhs_contracting=(1,), rhs_contracting=(0,))
  assert hlo_dots.time_dot(wide, loop_runs=10, repeats=2) > 0  # output not shaped like lhs: fed back as a scalar

  def fn(x, a):
    return jax.lax.fori_loop(0, 6, lambda _, h: h @ a, x).sum() + (x.T @ x).sum()
  rows = hlo_dots.floor_rows(_compiled_text(fn, jnp.ones((4, 16)), jnp.ones((16, 16))), repeats=2)
  assert {row["dot"] for row in rows} == {"(4,16)x(16,16) c1/c0", "(4,16)x(4,16) c0/c0"}
  loop_row = next(row for row in rows if row["in_loop"])
  assert loop_row["count"] == 6 and loop_row["gflop"] == pytest.approx(6 * 2 * 4 * 16 * 16 / 1e9)
  assert all(row["ms"] > 0 and row["gflops_per_s"] > 0 for row in rows)
  assert [row["ms"] for row in rows] == sorted((row["ms"] for row in rows), reverse=True)


def test_errors_name_what_is_wrong():
  with pytest.raises(ValueError, match="no ENTRY computation"):
    hlo_dots.program_dots("HloModule m\n")
  with pytest.raises(ValueError, match="element type 's8' not timed; valid: f32"):
    hlo_dots.time_dot(hlo_dots.Dot((2, 2), (2, 2), (1,), (0,), dtype="s8"))
