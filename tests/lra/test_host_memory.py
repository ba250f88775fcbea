"""lra/host_memory.py: with malloc tuned, a repeated XLA computation reuses its freed temporary buffer instead of
page-faulting a fresh one in at every call (each case in a fresh process: the tuning is process-wide)."""

import json
import subprocess
import sys

from tests.lra.tiny import REPO

_SCRIPT = """
import json, resource, sys
from lra import host_memory
applied = host_memory.keep_freed_memory() if sys.argv[1] == "tuned" else False
import jax, jax.numpy as jnp
x = jnp.ones((4096, 2048))  # 32 MiB; the cumulative sums need XLA temporaries of several times that
f = jax.jit(lambda x: jnp.sum(jnp.cumsum(jnp.tanh(x), axis=0) * jnp.cumsum(jnp.exp(-x), axis=1)))
compiled = f.lower(x).compile()
temp_pages = compiled.memory_analysis().temp_size_in_bytes // 4096
compiled(x).block_until_ready()
faults = []
for _ in range(5):
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  compiled(x).block_until_ready()
  faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"applied": applied, "temp_pages": temp_pages, "faults": sorted(faults)[2]}))
"""


def _run(mode):
  proc = subprocess.run([sys.executable, "-c", _SCRIPT, mode], cwd=REPO, capture_output=True, text=True,
                        timeout=120, env={"JAX_PLATFORMS": "cpu", "PYTHONPATH": REPO})
  assert proc.returncode == 0, proc.stderr[-2000:]
  return json.loads(proc.stdout.splitlines()[-1])


def test_tuned_malloc_stops_the_page_faults_of_each_call():
  default, tuned = _run("default"), _run("tuned")
  assert default["temp_pages"] > 8192  # over 32 MiB of temporaries: glibc maps them fresh at every call
  assert default["faults"] > 0.5 * default["temp_pages"], default
  assert tuned["applied"] and tuned["faults"] < 0.1 * tuned["temp_pages"], tuned
