"""Times one scan implementation (forward + backward) in this process, and renders the rows as a table.

The logic of `python scripts/bench_scan.py` (its command line, which runs each cell in its own process).

A cell is the jitted gradient of a scalar loss of all states h (B, L, n) with respect to the coefficient and the
inputs: `sum(real(h * w))` for a fixed random w, so the backward pass sees a dense cotangent. Diagonal cells use
complex64 lambda (n,) with |lambda| = 0.99 and complex64 inputs (the DiagonalRNN / LRU case); dense cells use a
float32 A = 0.99 * (a random orthogonal matrix) and float32 inputs (the LinearRNN case). Seconds: the median of
--reps runs after one compile-and-warm-up run. Peak memory (MB): the growth of the cell's process's peak resident
set (VmHWM, reset through /proc/self/clear_refs after compiling) over its resident set just before the first run,
so it counts what the run allocates (XLA's temporaries, the residuals kept for the backward pass, the outputs), not
the inputs nor the compiler's own memory; `jax.devices()[0].memory_stats()` is None on CPU in jax 0.10, and where
it reports `peak_bytes_in_use` (a GPU) the script uses that instead. XLA's static estimate of the temporaries
(`memory_analysis().temp_size_in_bytes`) is recorded beside it. "authors" rows are the authors' formulation, plain JAX
autodiff through `associative_scan` (diagonal, the minimal-LRU binary operator) or `lax.scan` (dense), without
this package's adjoint-recurrence backward pass.
"""

import json
import subprocess
import time

AUTHORS_IMPL = {"diag": "associative", "dense": "sequential"}  # what the authors' code uses, for the last column


def _status_bytes(field: str) -> int:
  """A memory line of /proc/self/status (VmRSS: resident now, VmHWM: peak resident), in bytes."""
  with open("/proc/self/status") as f:
    for line in f:
      if line.startswith(field + ":"):
        return int(line.split()[1]) * 1024
  raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak_rss():
  """Resets VmHWM to the current resident set (Linux >= 4.0), so compile-time memory is not counted."""
  with open("/proc/self/clear_refs", "w") as f:
    f.write("5")


def _authors_scan(kind, coeff, b):
  """The authors' formulation, differentiated by plain JAX autodiff (no custom backward pass)."""
  import jax
  import jax.numpy as jnp
  if kind == "diag":
    def binary_operator_diag(element_i, element_j):  # as in minimal-LRU / the authors' lru/model.py
      a_i, bu_i = element_i
      a_j, bu_j = element_j
      return a_j * a_i, a_j * bu_i + bu_j
    lambda_elements = jnp.broadcast_to(coeff, b.shape)
    _, h = jax.lax.associative_scan(binary_operator_diag, (lambda_elements, b), axis=1)
    return h

  def step(h, b_t):
    h = h @ coeff.T + b_t
    return h, h
  _, h = jax.lax.scan(step, jnp.zeros((b.shape[0], b.shape[2]), b.dtype), jnp.swapaxes(b, 0, 1))
  return jnp.swapaxes(h, 0, 1)


def run_cell(kind: str, impl: str, length: int, width: int, batch: int, reps: int) -> dict:
  """Compiles and times one cell in this process; returns its row."""
  import jax
  import jax.numpy as jnp
  import numpy as np

  from models import scan

  rng = np.random.default_rng(0)
  shape = (batch, length, width)
  if kind == "diag":
    phase = rng.uniform(0, 2 * np.pi, width)
    coeff = jnp.asarray(0.99 * np.exp(1j * phase), jnp.complex64)
    b = jnp.asarray(rng.standard_normal(shape) + 1j * rng.standard_normal(shape), jnp.complex64)
    scan_fn = scan.diag_scan
  else:
    q, _ = np.linalg.qr(rng.standard_normal((width, width)))
    coeff = jnp.asarray(0.99 * q, jnp.float32)
    b = jnp.asarray(rng.standard_normal(shape), jnp.float32)
    scan_fn = scan.dense_scan
  weights = jnp.asarray(rng.standard_normal(shape), jnp.float32)

  def loss(coeff, b, weights):  # weights an argument: a closed-over array would be compiled in as a constant
    h = _authors_scan(kind, coeff, b) if impl == "authors" else scan_fn(coeff, b, impl=impl)
    return jnp.sum(jnp.real(h) * weights)

  grad_fn = jax.jit(jax.grad(loss, argnums=(0, 1)))
  jax.block_until_ready((coeff, b, weights))
  start = time.perf_counter()
  compiled = grad_fn.lower(coeff, b, weights).compile()
  compile_s = time.perf_counter() - start
  memory = compiled.memory_analysis()
  temp_bytes = getattr(memory, "temp_size_in_bytes", None) if memory is not None else None
  _reset_peak_rss()
  rss_before = _status_bytes("VmRSS")
  grads = compiled(coeff, b, weights)
  jax.block_until_ready(grads)
  rss_peak = _status_bytes("VmHWM") - rss_before
  finite = bool(all(jnp.all(jnp.isfinite(g)) for g in grads))
  times = []
  for _ in range(reps):
    start = time.perf_counter()
    jax.block_until_ready(compiled(coeff, b, weights))
    times.append(time.perf_counter() - start)
  device = jax.devices()[0]
  stats = device.memory_stats()
  if stats and "peak_bytes_in_use" in stats:
    peak_bytes, peak_method = stats["peak_bytes_in_use"], "device peak_bytes_in_use"
  else:
    peak_bytes, peak_method = rss_peak, "peak RSS of the first run - RSS before it"
  return {"kind": kind, "impl": impl, "length": length, "width": width, "batch": batch,
          "seconds": float(np.median(times)), "compile_s": compile_s, "peak_mb": peak_bytes / 2**20,
          "xla_temp_mb": temp_bytes / 2**20 if temp_bytes is not None else None, "peak_method": peak_method,
          "finite": finite, "platform": device.platform, "device": device.device_kind,
          "auto": scan.resolve_impl(kind, "auto", device.platform)}


def cell_in_subprocess(command, kind, impl, length, width, batch, reps, timeout_s) -> dict:
  """Runs `command --cell=kind,impl,L,n --batch=B --reps=R` (a process that prints `run_cell`'s row as its last
  line); the row, or one naming the error or the timeout."""
  cmd = [*command, f"--cell={kind},{impl},{length},{width}", f"--batch={batch}", f"--reps={reps}"]
  base = {"kind": kind, "impl": impl, "length": length, "width": width, "batch": batch}
  try:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
  except subprocess.TimeoutExpired:
    return {**base, "error": f"timeout > {timeout_s} s"}
  if proc.returncode:
    lines = proc.stderr.strip().splitlines()
    return {**base, "error": lines[-1] if lines else f"exit {proc.returncode}"}
  return json.loads(proc.stdout.strip().splitlines()[-1])


def impls_for(kind):
  """Every implementation of this kind's scan, and the authors' formulation."""
  from models import scan
  impls = list(scan.DIAG_IMPLS if kind == "diag" else scan.DENSE_IMPLS)
  return impls + ["authors"]


def format_table(rows: list[dict]) -> str:
  """Markdown: one line per (kind, L, n), one 'seconds / MB' column per implementation."""
  lines = []
  for kind in dict.fromkeys(r["kind"] for r in rows):
    kind_rows = [r for r in rows if r["kind"] == kind]
    impls = list(dict.fromkeys(r["impl"] for r in kind_rows))
    auto = next((r["auto"] for r in kind_rows if "auto" in r), "?")
    lines.append(f"\n**{kind}** (B = {kind_rows[0]['batch']}; cells: forward+backward seconds / peak MB; "
                 f"auto = {auto}; authors = plain autodiff through {AUTHORS_IMPL[kind]})\n")
    lines.append("| L | n | " + " | ".join(impls) + " | fastest | auto / authors time |")
    lines.append("|" + "---|" * (len(impls) + 4))
    for length, width in dict.fromkeys((r["length"], r["width"]) for r in kind_rows):
      cells = {r["impl"]: r for r in kind_rows if (r["length"], r["width"]) == (length, width)}
      text = []
      for impl in impls:
        r = cells.get(impl)
        if r is None:
          text.append("-")
        elif "error" in r:
          text.append(f"({r['error'][:40]})")
        else:
          text.append(f"{r['seconds']:.3f} / {r['peak_mb']:.0f}" + ("" if r["finite"] else " (non-finite)"))
      timed = {i: r["seconds"] for i, r in cells.items() if "error" not in r}
      fastest = min(timed, key=timed.get) if timed else "-"
      ratio = (f"{timed[auto] / timed['authors']:.2f}" if auto in timed and "authors" in timed else "-")
      lines.append(f"| {length} | {width} | " + " | ".join(text) + f" | {fastest} | {ratio} |")
  return "\n".join(lines)
