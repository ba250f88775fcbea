"""lra/train/host_memory.py: a process that re-executes itself with glibc's hugetlb tunable faults XLA's freed and
re-allocated temporaries back in with far fewer page faults at every call; it re-executes only a CPU run, never
over a user's own GLIBC_TUNABLES or under a debugger."""

import json
import os
import subprocess
import sys

import pytest

from lra.train import host_memory
from tests.lra.tiny import REPO

_SCRIPT = """
import json, os, resource, sys
from lra.train import host_memory
if sys.argv[1] == "tuned":
  host_memory.reexec_with_huge_pages()
import jax, jax.numpy as jnp
x = jnp.ones((4096, 2048))  # 32 MiB; the cumulative sums need XLA temporaries of several times that
f = jax.jit(lambda x: jnp.sum(jnp.cumsum(jnp.tanh(x), axis=0) * jnp.cumsum(jnp.exp(-x), axis=1)))
compiled = f.lower(x).compile()
temp_pages = compiled.memory_analysis().temp_size_in_bytes // 4096
compiled(x).block_until_ready()
faults = []
for _ in range(9):
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  compiled(x).block_until_ready()
  faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps({"tunables": os.environ.get("GLIBC_TUNABLES"), "temp_pages": temp_pages,
                  "faults": sorted(faults)[4]}))
"""
_THP = "/sys/kernel/mm/transparent_hugepage/enabled"


def _thp_available() -> bool:
  try:
    with open(_THP) as f:
      return "[never]" not in f.read()
  except OSError:
    return False


def _run(mode, tmp_path):
  script = tmp_path / "faults.py"
  script.write_text(_SCRIPT)
  env = {"JAX_PLATFORMS": "cpu", "PYTHONPATH": REPO, "PATH": os.environ.get("PATH", "")}
  proc = subprocess.run([sys.executable, str(script), mode], cwd=REPO, capture_output=True, text=True,
                        timeout=120, env=env)
  assert proc.returncode == 0, proc.stderr[-2000:]
  return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.bench
@pytest.mark.skipif(not sys.platform.startswith("linux") or not _thp_available(),
                    reason=f"needs Linux with transparent huge pages ({_THP} not [never])")
def test_reexec_with_huge_pages_cuts_the_page_faults_of_each_call(tmp_path):
  """Counts, not times: the median page faults of a call with and without the tunable (a tenth or less)."""
  default, tuned = _run("default", tmp_path), _run("tuned", tmp_path)
  assert default["tunables"] is None and tuned["tunables"] == "glibc.malloc.hugetlb=1"
  assert default["temp_pages"] > 8192  # over 32 MiB of temporaries: glibc maps them fresh at every call
  assert default["faults"] > 0.5 * default["temp_pages"], default
  assert tuned["faults"] < 0.1 * default["faults"], (default, tuned)


def test_reexec_only_for_a_cpu_run_without_tunables_or_debugger(monkeypatch):
  calls = []
  monkeypatch.setattr(os, "execve", lambda *args: calls.append(args))
  monkeypatch.setattr(sys, "argv", [__file__, "--flag"])
  monkeypatch.setattr(host_memory, "under_debugger", lambda: False)
  monkeypatch.setenv("JAX_PLATFORMS", "cpu")
  for tunables in ("glibc.malloc.hugetlb=0", "glibc.malloc.arena_max=2", ""):  # the user's own: left alone
    monkeypatch.setenv("GLIBC_TUNABLES", tunables)
    host_memory.reexec_with_huge_pages()
  assert calls == []
  monkeypatch.delenv("GLIBC_TUNABLES")
  monkeypatch.setenv("JAX_PLATFORMS", "cuda,cpu")
  host_memory.reexec_with_huge_pages()
  assert calls == []
  monkeypatch.setenv("JAX_PLATFORMS", "cpu")
  monkeypatch.setattr(host_memory, "under_debugger", lambda: True)
  host_memory.reexec_with_huge_pages()
  assert calls == []
  monkeypatch.setattr(host_memory, "under_debugger", lambda: False)
  host_memory.reexec_with_huge_pages()
  (executable, argv, env), = calls
  assert executable == sys.executable and argv == [sys.executable, __file__, "--flag"]
  assert env["GLIBC_TUNABLES"] == "glibc.malloc.hugetlb=1"
  assert host_memory.malloc_is_tuned(env) and not host_memory.malloc_is_tuned({"GLIBC_TUNABLES": ""})


def test_runs_on_cpu_reads_jax_platforms():
  assert host_memory.runs_on_cpu({"JAX_PLATFORMS": "cpu"})
  assert not host_memory.runs_on_cpu({"JAX_PLATFORMS": "cuda"})
  assert not host_memory.runs_on_cpu({"JAX_PLATFORMS": "tpu,cpu"})


def test_a_pdb_trace_counts_as_a_debugger(monkeypatch):
  monkeypatch.setattr(sys, "gettrace", lambda: (lambda *a: None))
  assert host_memory.under_debugger()
