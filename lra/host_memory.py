"""Host memory: let XLA:CPU reuse freed buffers instead of page-faulting its working set in again every step.

XLA:CPU allocates a step's temporaries when the step runs and frees them after. glibc serves allocations above
32 MB (and those of threads whose own arena is too small) with mmap and gives them back with munmap, or trims
the heap, on free; so every step touches its whole working set as fresh pages. Measured with
`scripts/bench_step.py` (the JSON row's `minor_faults_per_step`): 84,000 minor page faults a step at ListOps
2 layers / batch 8 and 690,000 at the paper config, about 1 microsecond each. With one arena, no mmap and no
trimming, freed memory stays in the heap and the next step reuses it: ~0 faults a step after the first; the
resident set stays at the peak the process reached, which is what a training process holds anyway.

glibc reads these settings (`TUNED_MALLOC_ENV`) from the environment when the process starts; set at run time
with mallopt, after numpy's and XLA's threads have their arenas, they fragment the heap instead (measured:
the paper-config step's peak grew from 3.0 to 5.6 GB). So the entry points re-execute themselves once with
the settings: `reexec_with_tuned_malloc()` at the top of train.py and scripts/bench_step.py.
"""

import os
import sys

# glibc malloc tunables (mallopt(3)): one arena, never mmap, never trim the heap.
TUNED_MALLOC_ENV = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(2**62)}


def malloc_is_tuned(environ=None) -> bool:
  """True if the environment already holds a malloc setting (ours, or the user's own: left as it is)."""
  environ = os.environ if environ is None else environ
  return any(name in environ for name in TUNED_MALLOC_ENV)


def reexec_with_tuned_malloc() -> None:
  """Replaces this process by itself with `TUNED_MALLOC_ENV` added, unless a malloc setting is already in the
  environment (set MALLOC_ARENA_MAX yourself to keep your own) or this is not Linux. Call it first thing in
  `if __name__ == "__main__":`, before any computation; it never returns when it re-executes."""
  if not sys.platform.startswith("linux") or malloc_is_tuned() or not os.path.isfile(sys.argv[0]):
    return  # (not a script run as `python path.py`: `python -c`, an interactive session)
  sys.stdout.flush()
  sys.stderr.flush()
  os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **TUNED_MALLOC_ENV})
