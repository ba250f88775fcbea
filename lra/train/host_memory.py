"""Host memory: back XLA:CPU's large step buffers with transparent huge pages, so that faulting them in at every
step costs 512 times fewer page faults.

XLA:CPU allocates a step's temporaries when the step runs and frees them after. glibc serves large allocations
with mmap and returns them with munmap on free, so every step touches its whole working set as fresh pages.
With glibc's `glibc.malloc.hugetlb=1` tunable (glibc >= 2.35) malloc asks the kernel for transparent huge pages
(madvise): 2 MiB a fault instead of 4 KiB, and memory is still given back when freed. Nothing changes where the
kernel's transparent huge pages are `never` or glibc is older. Figures: docs/bench_step.md.

glibc reads tunables from the environment when the process starts, so the entry points re-execute themselves
once with the tunable added: `reexec_with_huge_pages()` at the top of train.py and scripts/bench_step.py. It does
so only for a CPU run (JAX_PLATFORMS, or no GPU/TPU plugin installed), never when GLIBC_TUNABLES is already set
(by the user, or by the re-execution itself) and never under a debugger.
"""

import importlib.util
import os
import sys

HUGETLB_TUNABLE = "glibc.malloc.hugetlb"


def malloc_is_tuned(environ=None) -> bool:
  """True if GLIBC_TUNABLES already sets the hugetlb tunable (ours, or the user's own: left as it is)."""
  environ = os.environ if environ is None else environ
  return any(item.split("=")[0] == HUGETLB_TUNABLE for item in environ.get("GLIBC_TUNABLES", "").split(":"))


def tuned_environ(environ) -> dict:
  """`environ` with `glibc.malloc.hugetlb=1` appended to GLIBC_TUNABLES (other tunables there are kept)."""
  tunables = [item for item in environ.get("GLIBC_TUNABLES", "").split(":") if item]
  return {**environ, "GLIBC_TUNABLES": ":".join([*tunables, f"{HUGETLB_TUNABLE}=1"])}


_ACCELERATOR_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm7_plugin", "libtpu")


def runs_on_cpu(environ=None) -> bool:
  """Whether JAX will run on the CPU: JAX_PLATFORMS names cpu first, or is unset and no GPU/TPU plugin is
  installed (looked up without importing JAX, which must not start before the re-execution)."""
  environ = os.environ if environ is None else environ
  platforms = environ.get("JAX_PLATFORMS", "")
  if platforms:
    return platforms.split(",")[0].strip() == "cpu"
  return not any(importlib.util.find_spec(name) for name in _ACCELERATOR_PLUGINS)


def under_debugger() -> bool:
  """A Python tracer (pdb, an IDE) or a ptrace-based debugger (gdb, strace) is attached to this process."""
  if sys.gettrace() is not None:
    return True
  try:
    with open("/proc/self/status") as f:
      return any(line.startswith("TracerPid:") and line.split()[1] != "0" for line in f)
  except OSError:
    return False


def should_reexec(environ=None) -> bool:
  """Re-execute only where it helps and nobody is surprised: a Linux CPU run started as a script, with no
  GLIBC_TUNABLES of the user's own (set `GLIBC_TUNABLES=` to any value to opt out) and no debugger."""
  environ = os.environ if environ is None else environ
  return (sys.platform.startswith("linux") and "GLIBC_TUNABLES" not in environ and os.path.isfile(sys.argv[0])
          and runs_on_cpu(environ) and not under_debugger())


def reexec_with_huge_pages() -> None:
  """Replaces this process by itself with `tuned_environ` when `should_reexec()`. Call it first thing in
  `if __name__ == "__main__":`, before any computation; it never returns when it re-executes."""
  if not should_reexec():
    return
  sys.stdout.flush()
  sys.stderr.flush()
  os.execve(sys.executable, [sys.executable, *sys.argv], tuned_environ(os.environ))
