"""Host memory: back XLA:CPU's large step buffers with transparent huge pages, so that faulting them in at every
step costs 512 times fewer page faults.

XLA:CPU allocates a step's temporaries when the step runs and frees them after. glibc serves allocations above
32 MB with mmap and returns them with munmap on free, so every step touches its whole working set as fresh
pages. Measured with `scripts/bench_step.py` (the JSON row's `minor_faults_per_step`): 84,000 minor page
faults a step at ListOps 2 layers / batch 8 and 690,000 at the paper config, about 1 microsecond each. With
glibc's `glibc.malloc.hugetlb=1` tunable (glibc >= 2.35) malloc asks the kernel for transparent huge pages
(madvise), 2 MiB a fault instead of 4 KiB: 700-3,200 faults a step at the paper config, the same step time as
keeping the freed memory in the heap (one arena, no mmap, no trim: tried first), and none of that approach's
heap fragmentation (it raised the paper dense step's peak from 1.6 to 3.7 GB). Memory is still given back to
the system when freed. Nothing changes where the kernel's transparent huge pages are `never`
(/sys/kernel/mm/transparent_hugepage/enabled) or glibc is older.

glibc reads tunables from the environment when the process starts, so the entry points re-execute themselves
once with the tunable added: `reexec_with_huge_pages()` at the top of train.py and scripts/bench_step.py.
"""

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


def reexec_with_huge_pages() -> None:
  """Replaces this process by itself with `tuned_environ`, unless GLIBC_TUNABLES already sets the hugetlb tunable
  (set `GLIBC_TUNABLES=glibc.malloc.hugetlb=0` to opt out) or this is not Linux. Call it first thing in
  `if __name__ == "__main__":`, before any computation; it never returns when it re-executes."""
  if not sys.platform.startswith("linux") or malloc_is_tuned() or not os.path.isfile(sys.argv[0]):
    return  # (not a script run as `python path.py`: `python -c`, an interactive session)
  sys.stdout.flush()
  sys.stderr.flush()
  os.execve(sys.executable, [sys.executable, *sys.argv], tuned_environ(os.environ))
