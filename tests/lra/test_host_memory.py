"""lra/host_memory.py: a process that re-executes itself with tuned malloc reuses XLA's freed temporaries
instead of page-faulting them in again at every call; a user's own malloc setting is left alone."""

import json
import os
import subprocess
import sys

from lra import host_memory
from tests.lra.tiny import REPO

_SCRIPT = """
import json, os, resource, sys, time
from lra import host_memory
if sys.argv[1] == "tuned":
  host_memory.reexec_with_tuned_malloc()
import jax, jax.numpy as jnp
x = jnp.ones((4096, 2048))  # 32 MiB; the cumulative sums need XLA temporaries of several times that
f = jax.jit(lambda x: jnp.sum(jnp.cumsum(jnp.tanh(x), axis=0) * jnp.cumsum(jnp.exp(-x), axis=1)))
compiled = f.lower(x).compile()
temp_pages = compiled.memory_analysis().temp_size_in_bytes // 4096
compiled(x).block_until_ready()
faults = []
for _ in range(9):  # the heap grows over the first few calls, then stays
  time.sleep(0.2)  # XLA frees a call's temporaries just after its outputs are ready: let it, as a step would
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  compiled(x).block_until_ready()
  faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"arena_max": os.environ.get("MALLOC_ARENA_MAX"), "temp_pages": temp_pages,
                  "faults": sorted(faults[4:])[2]}))
"""


def _run(mode, tmp_path):
  script = tmp_path / "faults.py"
  script.write_text(_SCRIPT)
  env = {"JAX_PLATFORMS": "cpu", "PYTHONPATH": REPO, "PATH": os.environ.get("PATH", "")}
  proc = subprocess.run([sys.executable, str(script), mode], cwd=REPO, capture_output=True, text=True,
                        timeout=120, env=env)
  assert proc.returncode == 0, proc.stderr[-2000:]
  return json.loads(proc.stdout.splitlines()[-1])


def test_reexec_with_tuned_malloc_stops_the_page_faults_of_each_call(tmp_path):
  default, tuned = _run("default", tmp_path), _run("tuned", tmp_path)
  assert default["arena_max"] is None and tuned["arena_max"] == "1"
  assert default["temp_pages"] > 8192  # over 32 MiB of temporaries: glibc maps them fresh at every call
  assert default["faults"] > 0.5 * default["temp_pages"], default
  assert tuned["faults"] < 0.05 * tuned["temp_pages"], tuned


def test_a_users_own_malloc_setting_is_kept(monkeypatch):
  calls = []
  monkeypatch.setattr(os, "execve", lambda *args: calls.append(args))
  monkeypatch.setattr(sys, "argv", [__file__, "--flag"])
  monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
  host_memory.reexec_with_tuned_malloc()
  assert calls == []
  monkeypatch.delenv("MALLOC_ARENA_MAX")
  for name in host_memory.TUNED_MALLOC_ENV:
    monkeypatch.delenv(name, raising=False)
  host_memory.reexec_with_tuned_malloc()
  (executable, argv, env), = calls
  assert executable == sys.executable and argv == [sys.executable, __file__, "--flag"]
  assert all(env[name] == value for name, value in host_memory.TUNED_MALLOC_ENV.items())
