"""Times the jitted training step of any config: compile time, median step time, peak memory, GFLOP/s.

  python scripts/bench_step.py --config configs/listops.py --config.model.recurrence=dense   # one row
  python scripts/bench_step.py --table authors       # the authors' ListOps configs, each in its own process
  python scripts/bench_step.py --table authors --config configs/listops.py --config.model.remat=full   # + overrides
  python scripts/bench_step.py --config configs/listops.py --profile out/profile   # + a Perfetto trace of a step
  python scripts/bench_step.py --config configs/listops.py --floor   # + the step's matmuls, each timed alone
  python scripts/bench_step.py --config configs/listops.py --hlo step.hlo   # + the compiled step's HLO, to diff

The batch is synthetic (random tokens or values of the task's shape and the config's batch size and length), so
no data set is needed. Peak memory is the process's peak resident set (ru_maxrss) minus its size before the model
was built, in a fresh process per row: "step peak" is the peak while the timed steps run (the kernel's VmHWM,
reset after compiling and one warm-up step), "process peak" also counts compilation. XLA's own estimate of the
step's temporaries is printed beside them. Like train.py, it re-executes itself with glibc's malloc asking for
transparent huge pages (lra/train/host_memory.py; `GLIBC_TUNABLES=glibc.malloc.hugetlb=0` keeps glibc's default, to
compare); the JSON row counts the minor page faults a step.
GFLOP/s divides XLA's flop count of the compiled step by the median step time; the peak it is compared with is a
float32 matmul measured on this machine at the shapes the model uses ((B*L, d_model) x (d_model, d_model)).
`--floor` also times every matmul of the compiled step on its own (tools/hlo_dots.py) and prints them: their sum
is a floor for the step on this machine, whatever the code around them does.
`--hlo` writes the compiled step's optimized HLO without its source locations (metadata, stack frames), so two
checkouts that compile the same program give the same file (`diff` them).
"""

import json
import os
import re
import resource
import subprocess
import sys
import time

from absl import app, flags
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "configs/<task>.py[:preset]", lock_config=True)
_STEPS = flags.DEFINE_integer("steps", 3, "Timed steps after one warm-up step.")
_TABLE = flags.DEFINE_enum("table", None, ["authors"], "Run a predefined table of configs, one process a row.")
_JSON = flags.DEFINE_string("json", None, "Append the row as JSON to this file.")
_PROFILE = flags.DEFINE_string("profile", None, "Also trace one step with jax.profiler into this directory.")
_FLOOR = flags.DEFINE_bool("floor", False, "Also time each matmul of the step alone and print their sum.")
_HLO = flags.DEFINE_string("hlo", None, "Also write the compiled step's HLO, source locations stripped, here.")

# The authors' code (NogaBar/Rescaled_Glorot_for_RNN) timed on the project's 2-core CPU at the ListOps paper
# config (docs/bench_step.md): seconds a step and peak GB, at 6 layers / batch 32 and at 2 layers / batch 8
# (time only).
AUTHORS = {("diag", 6, 32): (19.5, 9.1), ("dense", 6, 32): (12.7, 4.3), ("lru", 6, 32): (19.8, 8.4),
           ("diag", 2, 8): (1.39, None), ("dense", 2, 8): (0.70, None), ("lru", 2, 8): (1.32, None)}


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


def bench(config, n_steps: int) -> dict:
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
  step_fn = jax.jit(lambda s, b: steps.train_step(graphdef, tx, s, b, key), donate_argnums=0)
  t = time.perf_counter()
  compiled = step_fn.lower(state, batch).compile()
  compile_s = time.perf_counter() - t
  if _HLO.value:
    with open(_HLO.value, "w") as f:
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
  if _PROFILE.value:  # one more step under the profiler: a Perfetto trace (ui.perfetto.dev) of every XLA op
    with jax.profiler.trace(_PROFILE.value, create_perfetto_trace=True):
      state, metrics = compiled(state, batch)
      jax.block_until_ready(metrics)
  floor = None
  if _FLOOR.value:  # after the timed steps, so that its arrays do not count in the step's peak
    from tools import hlo_dots
    floor = hlo_dots.floor_rows(compiled.as_text())
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
  if floor is not None:
    row.update(dot_floor_s=sum(r["ms"] for r in floor) / 1e3, dot_gflop=sum(r["gflop"] for r in floor),
               step_gflop=flops / 1e9, dots=floor)
  return row


def _authors(r: dict) -> tuple[float | None, float | None]:
  """The authors' (seconds, GB) at this row's config, None where they were not measured."""
  return AUTHORS.get((r["recurrence"], r["n_layers"], r["batch_size"]), (None, None))


def _floor_table(r: dict) -> str:
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


def _row(r: dict) -> str:
  ref_s, ref_gb = _authors(r)
  ratio = f"{r['step_s'] / ref_s:.2f}" if ref_s else "-"
  ratio_gb = f"{r['peak_gb'] / ref_gb:.2f}" if ref_gb else "-"
  return (f"| {r['task']} | {r['recurrence']} | {r['n_layers']} | {r['batch_size']} | {r['length']} | "
          f"{r['compile_s']:.1f} | {r['step_s']:.2f} | {ref_s if ref_s else '-'} | {ratio} | {r['peak_gb']:.2f} | "
          f"{ref_gb if ref_gb else '-'} | {ratio_gb} | {r['process_peak_gb']:.2f} | {r['xla_temp_gb']:.2f} | "
          f"{r['gflops_per_s']:.0f} | {r['matmul_peak_gflops_per_s']:.0f} |")


HEADER = ("| task | recurrence | layers | batch | L | compile s | step s | authors s | ratio | step peak GB | "
          "authors GB | ratio | process peak GB | XLA temp GB | GFLOP/s | matmul GFLOP/s |\n|" + "---|" * 16)


def main(argv):
  del argv
  if _TABLE.value == "authors":
    out = os.path.abspath(_JSON.value or "bench_step.jsonl")
    # Overrides given with the table apply to every row: --config configs/listops.py --config.model.remat=full
    overrides = [arg for arg in sys.argv[1:] if arg.startswith("--config.")]
    print(HEADER, flush=True)
    for (recurrence, n_layers, batch_size) in AUTHORS:
      cmd = [sys.executable, os.path.abspath(__file__), "--config", "configs/listops.py",
             f"--config.model.recurrence={recurrence}", f"--config.model.n_layers={n_layers}",
             f"--config.train.batch_size={batch_size}", "--config.model.init=" +
             ("lru_ring" if recurrence == "lru" else "rescaled_glorot"), f"--json={out}", "--quiet_row",
             *overrides]
      proc = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(cmd[1])))
      if proc.returncode:
        print(f"| {recurrence} {n_layers} {batch_size} | failed: {proc.stderr.strip().splitlines()[-1:]} |")
        continue
      print(proc.stdout.strip().splitlines()[-1], flush=True)
    return
  if _CONFIG.value is None:
    sys.exit("usage: bench_step.py --config configs/<task>.py [--config.x=...] | --table authors")
  row = bench(_CONFIG.value, _STEPS.value)
  if _JSON.value:
    with open(_JSON.value, "a") as f:
      f.write(json.dumps(row) + "\n")
  if not flags.FLAGS.quiet_row:
    print(HEADER)
  print(_row(row))
  if _FLOOR.value:
    print()
    print(_floor_table(row))


if __name__ == "__main__":
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  from lra.train import host_memory
  host_memory.reexec_with_huge_pages()
  flags.DEFINE_bool("quiet_row", False, "Print only the row (used by --table).")
  app.run(main)
