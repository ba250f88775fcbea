"""The measurement of `python scripts/bench_step.py` (its docstring says what each column is): `bench(config, steps)`
times the jitted training step of a config and returns one row; `row_text` and `floor_table` print it."""

import re
import resource
import time

# The authors' code (NogaBar/Rescaled_Glorot_for_RNN) timed on the project's 2-core CPU at the ListOps paper
# config (docs/bench_step.md): seconds a step and peak GB, at 6 layers / batch 32 and at 2 layers / batch 8
# (time only), keyed by (task, recurrence, layers, batch).
AUTHORS = {("listops", "diag", 6, 32): (19.5, 9.1), ("listops", "dense", 6, 32): (12.7, 4.3),
           ("listops", "lru", 6, 32): (19.8, 8.4), ("listops", "diag", 2, 8): (1.39, None),
           ("listops", "dense", 2, 8): (0.70, None), ("listops", "lru", 2, 8): (1.32, None)}

# The predefined tables of `scripts/bench_step.py --table`: per row, a config and its overrides, each row run in
# a process of its own. "authors": the rows the authors' code was timed at. "pathx": Path-X at the paper size
# (configs/pathx.py: 6 bidirectional layers, d_model 128, n = 256, batch 32, L = 16,384), the dense recurrence
# at n = 256 like the others; the LRU with its long ring.
TABLES = {
    "authors": [("configs/listops.py", (f"--config.model.recurrence={rec}", f"--config.model.n_layers={layers}",
                                        f"--config.train.batch_size={batch}",
                                        "--config.model.init=" + ("lru_ring" if rec == "lru" else "rescaled_glorot")))
                for (_, rec, layers, batch) in AUTHORS],
    "pathx": [(f"configs/pathx.py:recurrence={rec}", ()) for rec in ("diag", "lru", "dense")],
}


def _rss_gb() -> float:
  """The process's peak resident set since start (ru_maxrss, KiB on Linux), in GiB."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _status_gb(field: str) -> float:
  """VmRSS / VmHWM of this process from /proc (Linux), in GiB."""
  with open("/proc/self/status") as f:
    for line in f:
      if line.startswith(field + ":"):
        return int(line.split()[1]) / 2**20
  return float("nan")


def _reset_peak() -> None:
  """Resets VmHWM to the current RSS (Linux >= 4.0), so later peaks exclude compilation."""
  with open("/proc/self/clear_refs", "w") as f:
    f.write("5")


def hlo_without_locations(text: str) -> str:
  """Compiled HLO text without what names the source: metadata={...}, stack frame ids and their tables."""
  text = re.sub(r",? ?metadata=\{[^}]*\}", "", text)
  text = re.sub(r",? ?stack_frame_id=[0-9]+", "", text)
  return "\n".join(line for line in text.splitlines()
                   if not re.match(r"^([0-9]+ |FileNames|FunctionNames|FileLocations|StackFrames)", line))


def matmul_peak_gflops(rows: int, width: int) -> float:
  import jax
  import jax.numpy as jnp
  x = jax.random.normal(jax.random.key(0), (rows, width), jnp.float32)
  w = jax.random.normal(jax.random.key(1), (width, width), jnp.float32)
  f = jax.jit(lambda x, w: x @ w)
  f(x, w).block_until_ready()
  times = []
  for _ in range(5):
    t = time.perf_counter()
    f(x, w).block_until_ready()
    times.append(time.perf_counter() - t)
  return 2 * rows * width * width / sorted(times)[len(times) // 2] / 1e9


def bench(config, n_steps: int, *, hlo_path: str | None = None, profile_dir: str | None = None,
          floor: bool = False) -> dict:
  """One row: the step of `config` timed over `n_steps` after a warm-up (see scripts/bench_step.py); `hlo_path`,
  `profile_dir` and `floor` add the compiled HLO, a trace and the matmul floor."""
  import jax
  import numpy as np
  from flax import nnx

  import models
  from models import cpu_kernels, remat
  from lra.tasks import get_task
  from lra.train import host_memory, optim, steps

  rss_before = _status_gb("VmRSS")
  task = get_task(config.task, config.data)
  batch_size, length = config.train.batch_size, config.data.max_length
  rng = np.random.default_rng(0)
  if task.vocab_size is not None:
    inputs = rng.integers(1, task.vocab_size, (batch_size, length)).astype(np.int32)
  else:
    inputs = rng.standard_normal((batch_size, length, task.input_dim)).astype(np.float32)
  batch = {"inputs": inputs, "lengths": np.full((batch_size,), length, np.int32),
           "labels": rng.integers(0, task.num_outputs, (batch_size,)).astype(np.int32)}
  model = models.build(config.model, task, rngs=nnx.Rngs(0))
  tx = optim.make_optimizer(config.optim, nnx.state(model, nnx.Param), steps_per_epoch=100, total_steps=1000)
  graphdef, state = steps.init_state(model, tx)
  del model
  key = jax.random.key(0)
  step_fn = jax.jit(lambda s, b: steps.train_step(graphdef, tx, s, b, key, loss=task.loss), donate_argnums=0)
  t = time.perf_counter()
  compiled = step_fn.lower(state, batch).compile()
  compile_s = time.perf_counter() - t
  if hlo_path:
    with open(hlo_path, "w") as f:
      f.write(hlo_without_locations(compiled.as_text()))
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float(cost.get("flops", float("nan"))) if cost else float("nan")
  memory = compiled.memory_analysis()
  temp_gb = getattr(memory, "temp_size_in_bytes", float("nan")) / 2**30 if memory else float("nan")
  state, metrics = compiled(state, batch)  # warm-up
  jax.block_until_ready(metrics)
  _reset_peak()
  faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  times = []
  for _ in range(n_steps):
    t = time.perf_counter()
    state, metrics = compiled(state, batch)
    jax.block_until_ready(metrics)
    times.append(time.perf_counter() - t)
  step_s = float(np.median(times))
  faults_per_step = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before) / n_steps
  if profile_dir:  # one more step under the profiler: a Perfetto trace (ui.perfetto.dev) of every XLA op
    with jax.profiler.trace(profile_dir, create_perfetto_trace=True):
      state, metrics = compiled(state, batch)
      jax.block_until_ready(metrics)
  dots = None
  if floor:  # after the timed steps, so that its arrays do not count in the step's peak
    from tools import hlo_dots
    dots = hlo_dots.floor_rows(compiled.as_text())
  m = config.model
  row = {"task": config.task, "recurrence": m.recurrence, "n_layers": m.n_layers, "d_model": m.d_model,
          "d_hidden": m.d_hidden, "batch_size": batch_size, "length": length, "scan": m.scan,
          "kernels": cpu_kernels.resolve_kernels("auto"),
          "remat": remat.resolve_remat(m.remat), "compile_s": compile_s, "step_s": step_s,
          "peak_gb": _status_gb("VmHWM") - rss_before,
          "process_peak_gb": _rss_gb() - rss_before,
          "xla_temp_gb": temp_gb, "gflops_per_s": flops / step_s / 1e9,
          "matmul_peak_gflops_per_s": matmul_peak_gflops(batch_size * length, m.d_model),
          "platform": jax.default_backend(), "loss_finite": bool(metrics["finite"]),
          "minor_faults_per_step": faults_per_step, "huge_pages": host_memory.malloc_is_tuned()}
  if dots is not None:
    row.update(dot_floor_s=sum(r["ms"] for r in dots) / 1e3, dot_gflop=sum(r["gflop"] for r in dots),
               step_gflop=flops / 1e9, dots=dots)
  return row


def _authors(r: dict) -> tuple[float | None, float | None]:
  """The authors' (seconds, GB) at this row's config, None where they were not measured."""
  return AUTHORS.get((r["task"], r["recurrence"], r["n_layers"], r["batch_size"]), (None, None))


def floor_table(r: dict) -> str:
  """The step's matmuls, each timed alone (tools/hlo_dots.py), and what their sum says about the step."""
  lines = ["| matmul (lhs x rhs, contracting c / batch b dims) | runs | in a loop | GFLOP | ms alone | GFLOP/s |",
           "|---|---|---|---|---|---|"]
  for d in r["dots"]:
    lines.append(f"| {d['dot']} | {d['count']} | {'yes' if d['in_loop'] else 'no'} | {d['gflop']:.2f} | "
                 f"{d['ms']:.1f} | {d['gflops_per_s']:.0f} |")
  ref_s, _ = _authors(r)
  half = f"; half the authors' time: {ref_s / 2:.3f} s" if ref_s else ""
  lines.append(f"\nmatmuls alone: {r['dot_floor_s']:.3f} s for {r['dot_gflop']:.1f} of the step's "
               f"{r['step_gflop']:.1f} GFLOP; the step: {r['step_s']:.3f} s{half}")
  return "\n".join(lines)


def row_text(r: dict) -> str:
  ref_s, ref_gb = _authors(r)
  ratio = f"{r['step_s'] / ref_s:.2f}" if ref_s else "-"
  ratio_gb = f"{r['peak_gb'] / ref_gb:.2f}" if ref_gb else "-"
  return (f"| {r['task']} | {r['recurrence']} | {r['n_layers']} | {r['batch_size']} | {r['length']} | "
          f"{r['compile_s']:.1f} | {r['step_s']:.2f} | {ref_s if ref_s else '-'} | {ratio} | {r['peak_gb']:.2f} | "
          f"{ref_gb if ref_gb else '-'} | {ratio_gb} | {r['process_peak_gb']:.2f} | {r['xla_temp_gb']:.2f} | "
          f"{r['gflops_per_s']:.0f} | {r['matmul_peak_gflops_per_s']:.0f} |")


HEADER = ("| task | recurrence | layers | batch | L | compile s | step s | authors s | ratio | step peak GB | "
          "authors GB | ratio | process peak GB | XLA temp GB | GFLOP/s | matmul GFLOP/s |\n|" + "---|" * 16)
