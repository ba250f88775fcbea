"""The matrix products of a compiled XLA program, and a floor for its run time: each product timed on its own.

A training step that is mostly matmuls cannot run faster than those matmuls do one after the other at their
best on the same machine (unless two of them overlap, which XLA:CPU's loops and YNNPACK dots do not do here:
docs/bench_step.md). `program_dots(compiled.as_text())` lists every `dot` of the optimised HLO with its shapes,
contraction dimensions and how many times the program runs it (the trip counts of the loops around it);
`time_dot` runs one alone in its own jitted program (a dot inside a loop as a loop of that many dots, each
reading the last one's output where the shapes allow, as a scan does), and `floor_rows` times them all into the
rows that `scripts/bench_step.py --floor` prints. The floor leaves out everything that is not a dot (elementwise work,
reductions, copies), so the step's own time is above it.
"""

import dataclasses
import math
import re
import time

_SHAPE = re.compile(r"^\(?([a-z]+\d*)\[([\d,]*)\]")
_COMPUTATION = re.compile(r"^(?:ENTRY )?%([\w.\-]+) \(")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%([\w.\-]+) = (\S+) ([\w\-]+)\((.*)")
_CALLEE = re.compile(r"\b(calls|body|to_apply|condition|branch_computations|true_computation|false_computation)"
                     r"=\{?((?:%[\w.\-]+(?:, )?)+)\}?")
_TRIP_COUNT = re.compile(r'"known_trip_count":\{"n":"(\d+)"\}')
_DIMS = {name: re.compile(name + r"=\{([\d,]*)\}") for name in
         ("lhs_batch_dims", "rhs_batch_dims", "lhs_contracting_dims", "rhs_contracting_dims")}


@dataclasses.dataclass(frozen=True)
class Dot:
  """One `dot` of an HLO program: lhs and rhs shapes, their batch and contracting dimensions, element type;
  `count`, how many times one run of the program executes it (None where a loop around it has no known trip
  count), and `in_loop`, whether it sits inside a while loop's body."""
  lhs: tuple[int, ...]
  rhs: tuple[int, ...]
  lhs_contracting: tuple[int, ...]
  rhs_contracting: tuple[int, ...]
  lhs_batch: tuple[int, ...] = ()
  rhs_batch: tuple[int, ...] = ()
  dtype: str = "f32"
  count: int | None = 1
  in_loop: bool = False

  @property
  def out_shape(self) -> tuple[int, ...]:
    """dot_general's output: batch dims, then lhs free dims, then rhs free dims."""
    batch = tuple(self.lhs[i] for i in self.lhs_batch)
    lhs_free = tuple(s for i, s in enumerate(self.lhs) if i not in self.lhs_batch + self.lhs_contracting)
    rhs_free = tuple(s for i, s in enumerate(self.rhs) if i not in self.rhs_batch + self.rhs_contracting)
    return batch + lhs_free + rhs_free

  @property
  def flops(self) -> int:
    """2 multiply-adds' worth per (output element, contracted index): 2 * |lhs| * |rhs free dims|, one run."""
    rhs_free = math.prod(s for i, s in enumerate(self.rhs) if i not in self.rhs_batch + self.rhs_contracting)
    return 2 * math.prod(self.lhs) * rhs_free

  def describe(self) -> str:
    """e.g. "(16384,256)x(256,192) c1/c0": shapes, then each side's contracting (c) and batch (b) dims."""
    def side(shape, contracting, batch):
      dims = "c" + "".join(map(str, contracting)) + ("b" + "".join(map(str, batch)) if batch else "")
      return f"({','.join(map(str, shape))})", dims
    (lhs, lhs_dims), (rhs, rhs_dims) = (side(self.lhs, self.lhs_contracting, self.lhs_batch),
                                        side(self.rhs, self.rhs_contracting, self.rhs_batch))
    return f"{lhs}x{rhs} {lhs_dims}/{rhs_dims}"


def _dims(shape_text: str) -> tuple[str, tuple[int, ...]] | None:
  match = _SHAPE.match(shape_text)
  if match is None:
    return None
  return match.group(1), tuple(int(d) for d in match.group(2).split(",") if d)


def _dim_list(text: str, name: str) -> tuple[int, ...]:
  match = _DIMS[name].search(text)
  return tuple(int(d) for d in match.group(1).split(",") if d) if match else ()


def program_dots(hlo_text: str) -> list[Dot]:
  """Every `dot` instruction of an HLO module's text (e.g. `jax.jit(f).lower(...).compile().as_text()`).

  The count of a dot multiplies the known trip counts of the while loops whose bodies (or the fusions and
  calls inside them) contain it; a computation reached from two places counts each. Raises ValueError if the
  text holds no computation.
  """
  computations: dict[str, list[str]] = {}
  entry = None
  current = None
  for line in hlo_text.splitlines():
    match = _COMPUTATION.match(line)
    if match and line.rstrip().endswith("{"):
      current = match.group(1)
      computations[current] = []
      if line.startswith("ENTRY"):
        entry = current
    elif line.startswith("}"):
      current = None
    elif current is not None:
      computations[current].append(line)
  if entry is None:
    raise ValueError("program_dots: no ENTRY computation in the HLO text (pass compiled.as_text())")

  runs: dict[str, int | None] = {}  # computation -> times one program run executes it
  looped: set[str] = set()  # computations inside a while body

  def visit(name: str, times: int | None, in_loop: bool) -> None:
    previous = runs.get(name, 0)
    runs[name] = _add(previous, times)
    if in_loop:
      looped.add(name)
    for line in computations.get(name, ()):
      for kind, callees in _CALLEE.findall(line):
        inner = times
        if kind == "body":
          trip = _TRIP_COUNT.search(line)
          inner = None if trip is None or times is None else times * int(trip.group(1))
        for callee in re.findall(r"%([\w.\-]+)", callees):
          visit(callee, inner, in_loop or kind in ("body", "condition"))

  visit(entry, 1, False)
  dots = []
  for name, lines in computations.items():
    if name not in runs:
      continue  # not reached from the entry (e.g. a reducer only used by a sort)
    shapes = {}
    for line in lines:
      match = _INSTRUCTION.match(line)
      if match is None:
        continue
      result, shape_text, opcode, rest = match.groups()
      parsed = _dims(shape_text)
      if parsed is not None:
        shapes[result] = parsed
      if opcode != "dot":
        continue
      operands = re.findall(r"%([\w.\-]+)", rest.split(")", 1)[0])
      (dtype, lhs), (_, rhs) = shapes[operands[0]], shapes[operands[1]]
      dots.append(Dot(lhs=lhs, rhs=rhs, lhs_contracting=_dim_list(rest, "lhs_contracting_dims"),
                      rhs_contracting=_dim_list(rest, "rhs_contracting_dims"),
                      lhs_batch=_dim_list(rest, "lhs_batch_dims"), rhs_batch=_dim_list(rest, "rhs_batch_dims"),
                      dtype=dtype, count=runs[name], in_loop=name in looped))
  return dots


def _add(a: int | None, b: int | None) -> int | None:
  return None if a is None or b is None else a + b


def group_dots(dots: list[Dot]) -> list[Dot]:
  """Equal dots (same shapes, dimensions, type, in a loop or not) as one Dot with their total count."""
  totals: dict[Dot, int | None] = {}
  for dot in dots:
    key = dataclasses.replace(dot, count=0)
    totals[key] = _add(totals.get(key, 0), dot.count)
  return [dataclasses.replace(dot, count=count) for dot, count in totals.items()]


def _fastest_seconds(fn, args, repeats: int) -> float:
  import jax
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append(time.perf_counter() - start)
  return min(times)


def time_dot(dot: Dot, *, loop_runs: int | None = None, repeats: int = 5) -> float:
  """Seconds for one execution of `dot` alone (jitted, random inputs, the fastest of `repeats` runs: a floor,
  and the statistic least moved by other jobs on the machine).

  With `loop_runs` = k, the dot runs k times in a `fori_loop`, each time on the last one's output plus the
  first lhs when the output has the lhs's shape (a scan's h_t = h_{t-1} @ A + b), else on the lhs plus a
  scalar of that output (so no run can be hoisted); the result is the loop's time divided by k, the loop's own
  overhead included as in the program. The rhs is drawn with variance 1/(4 K), K the contracted size, so such
  a scan neither overflows nor decays into subnormal numbers (slow on CPUs) over many runs.
  """
  import jax
  import jax.numpy as jnp
  dtype = {"f32": jnp.float32, "f64": jnp.float64, "bf16": jnp.bfloat16, "f16": jnp.float16}.get(dot.dtype)
  if dtype is None:
    raise ValueError(f"time_dot: element type {dot.dtype!r} not timed; valid: f32, f64, bf16, f16")
  dimension_numbers = ((dot.lhs_contracting, dot.rhs_contracting), (dot.lhs_batch, dot.rhs_batch))
  lhs_key, rhs_key = jax.random.split(jax.random.key(0))
  contracted = math.prod(dot.rhs[i] for i in dot.rhs_contracting)
  lhs = jax.random.normal(lhs_key, dot.lhs, dtype)
  rhs = jax.random.normal(rhs_key, dot.rhs, dtype) / (2 * math.sqrt(max(1, contracted)))

  def product(a, b):
    return jax.lax.dot_general(a, b, dimension_numbers, precision=jax.lax.Precision.HIGHEST)

  if (loop_runs or 1) <= 1:
    return _fastest_seconds(jax.jit(product), (lhs, rhs), repeats)
  same_shape = dot.out_shape == dot.lhs

  def loop(a, b):
    def body(_, carry):
      out = product(carry, b)
      return out + a if same_shape else carry + out.ravel()[0] * 0.0
    return jax.lax.fori_loop(0, loop_runs, body, a)

  return _fastest_seconds(jax.jit(loop), (lhs, rhs), repeats) / loop_runs


def floor_rows(hlo_text: str, *, repeats: int = 5) -> list[dict]:
  """One row per kind of dot in the program: what it is, how often it runs, its time alone.

  Rows, largest total time first: dot (`Dot.describe`), count, in_loop (timed as a loop of `count` runs),
  gflop (all runs), ms (all runs, alone), gflops_per_s. A dot with an unknown count is counted once.
  """
  rows = []
  for dot in group_dots(program_dots(hlo_text)):
    count = dot.count or 1
    seconds = time_dot(dot, loop_runs=count if dot.in_loop else None, repeats=repeats)
    rows.append({"dot": dot.describe(), "count": count, "in_loop": dot.in_loop, "gflop": dot.flops * count / 1e9,
                 "ms": seconds * count * 1e3, "gflops_per_s": dot.flops / seconds / 1e9})
  return sorted(rows, key=lambda row: -row["ms"])
