"""Sweep grids over train.py runs (Table 1 by default) and their SLURM, wandb and local emitters.

A sweep is a list of `Run`s. Each run is one `train.py` invocation, written only as `--config.*` overrides on a
task config (never restated hyper-parameters), with a deterministic workdir
`<root>/<task>/<recurrence>-<init>[-ln][-<axis><value>...]/seed<k>`. train.py resumes a run re-launched in the
same workdir and exits at once when it has finished, so every emitter can re-run a sweep: finished and
diverged runs are skipped, interrupted ones resume.
"""

import dataclasses
import datetime
import functools
import importlib
import itertools
import json
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence

from flax import traverse_util

import inits as inits_lib
from lra.tasks import task_names
from models import RECURRENCES
from lra import provenance as provenance_lib
from lra.errors import ConfigError
from lra.train import workdir as workdir_lib
from lra.train.preemption import PREEMPTED_EXIT_CODE, SIGNALS as STOP_SIGNALS
TABLE1_TASKS = ("listops", "scifar", "imdb")  # Table 1's columns, in the paper's order
TABLE1_INITS = ("glorot", "glorot_half", "rescaled_glorot", "diag_uniform")
LAYER_NORM_MODES = ("off", "add", "only")
EMITTERS = ("local", "slurm", "wandb")
DEFAULT_PROGRAM = ("python", "train.py")
REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Grid axes that every run sets; `--axis` on one of these replaces the default values instead of adding an axis.
TASK_KEY = "task"
SEED_KEY = "seed"
RECURRENCE_KEY = "model.recurrence"
INIT_KEY = "model.init"
LAYER_NORM_KEY = "model.recurrent_layer_norm"
BUILTIN_KEYS = (TASK_KEY, SEED_KEY, RECURRENCE_KEY, INIT_KEY, LAYER_NORM_KEY)


@dataclasses.dataclass(frozen=True)
class Row:
  """One row of Table 1: a recurrence, an initializer, and whether the rebuttal's LayerNorm is in the recurrence."""
  recurrence: str
  init: str
  layer_norm: bool = False

  @property
  def name(self) -> str:
    return f"{self.recurrence}-{self.init}" + ("-ln" if self.layer_norm else "")


TABLE1_ROWS = tuple(Row(rec, init) for rec in ("dense", "diag") for init in TABLE1_INITS) + (Row("lru", "lru_ring"),)


@dataclasses.dataclass(frozen=True)
class Run:
  """One train.py run of a sweep.

  Attributes:
    task: a task name (`configs/<task>.py`).
    row: the Table 1 row (recurrence, init, layer norm).
    seed: `config.seed`.
    preset: the config preset after ':' ("" for the config's default).
    axes: extra grid axes as ((config key, value), ...), part of the workdir name.
    overrides: fixed overrides, ((config key, value), ...), not part of the name.
    workdir: the run's working directory.
  """
  task: str
  row: Row
  seed: int
  preset: str
  axes: tuple[tuple[str, str], ...]
  overrides: tuple[tuple[str, str], ...]
  workdir: str

  @property
  def label(self) -> str:
    """The table row label: the row name plus the extra axes, e.g. `dense-glorot-ln-lr_factor0.01`."""
    return self.row.name + "".join(f"-{_axis_tag(key, value)}" for key, value in self.axes)

  @property
  def name(self) -> str:
    return f"{self.task}/{self.label}/seed{self.seed}"

  @property
  def config_arg(self) -> str:
    return f"configs/{self.task}.py" + (f":{self.preset}" if self.preset else "")

  def config_overrides(self) -> list[tuple[str, str]]:
    """All `--config.<key>=<value>` pairs of the run, in a fixed order."""
    pairs = [(RECURRENCE_KEY, self.row.recurrence), (INIT_KEY, self.row.init), (SEED_KEY, str(self.seed))]
    if self.row.layer_norm:
      pairs.append((LAYER_NORM_KEY, "True"))
    return pairs + list(self.axes) + list(self.overrides)

  def args(self) -> list[str]:
    """train.py's arguments: `--config configs/<task>.py[:preset] --workdir <dir> --config.<key>=<value> ...`."""
    args = ["--config", self.config_arg, "--workdir", self.workdir]
    return args + [f"--config.{key}={value}" for key, value in self.config_overrides()]

  def argv(self, program: Sequence[str] = DEFAULT_PROGRAM) -> list[str]:
    return list(program) + self.args()

  def command(self, program: Sequence[str] = DEFAULT_PROGRAM) -> str:
    return shlex.join(self.argv(program))

  def to_dict(self, program: Sequence[str] = DEFAULT_PROGRAM) -> dict:
    return dict(name=self.name, label=self.label, task=self.task, recurrence=self.row.recurrence,
                init=self.row.init, layer_norm=self.row.layer_norm, seed=self.seed, preset=self.preset,
                axes=[list(kv) for kv in self.axes], overrides=[list(kv) for kv in self.overrides],
                workdir=self.workdir, argv=self.argv(program), command=self.command(program))

  @classmethod
  def from_dict(cls, d: dict) -> "Run":
    return cls(task=d["task"], row=Row(d["recurrence"], d["init"], bool(d["layer_norm"])), seed=int(d["seed"]),
               preset=d["preset"], axes=tuple(tuple(kv) for kv in d["axes"]),
               overrides=tuple(tuple(kv) for kv in d["overrides"]), workdir=d["workdir"])


def _axis_tag(key: str, value: str) -> str:
  """`optim.lr_factor`, `0.01` -> `lr_factor0.01`: the last key component and the value, safe for a path."""
  return re.sub(r"[^A-Za-z0-9._=+-]", "_", key.rsplit(".", 1)[-1] + str(value))


def _check_choice(kind: str, value: str, allowed: Iterable[str]) -> None:
  allowed = tuple(allowed)
  if value not in allowed:
    raise ValueError(f"unknown {kind} {value!r}; valid: {', '.join(allowed)}")


def split_list(text: str) -> list[str]:
  values = [v.strip() for v in text.split(",") if v.strip()]
  if not values:
    raise ValueError(f"empty list {text!r}; expected comma-separated values")
  return values


def parse_axis(text: str) -> tuple[str, list[str]]:
  """`model.init=glorot,rescaled_glorot` -> ("model.init", ["glorot", "rescaled_glorot"]); `config.` is optional."""
  key, sep, values = text.partition("=")
  key = key.strip().removeprefix("--").removeprefix("config.")
  if not sep or not key:
    raise ValueError(f"bad axis {text!r}; expected KEY=V1,V2,... e.g. model.init=glorot,rescaled_glorot")
  return key, split_list(values)


def parse_override(text: str) -> tuple[str | None, str, str]:
  """`[TASK:]KEY=VALUE` -> (task or None for every task, key, value); a leading `--config.` is optional.

  `train.max_steps=100` -> (None, "train.max_steps", "100"); `imdb:model.d_hidden=256` -> ("imdb", ...).
  """
  key, sep, value = text.partition("=")
  task, colon, rest = key.partition(":")
  task, key = (task.strip(), rest) if colon else (None, key)
  key = key.strip().removeprefix("--").removeprefix("config.")
  if not sep or not key:
    raise ValueError(f"bad override {text!r}; expected [TASK:]KEY=VALUE e.g. train.max_steps=100 or "
                     f"imdb:model.d_hidden=256")
  if task is not None:
    _check_choice("task", task, task_names())
  return task, key, value.strip()


def table1_rows(recurrences: Sequence[str] | None = None, inits: Sequence[str] | None = None,
                layer_norm: str = "off") -> list[Row]:
  """The Table 1 rows, optionally narrowed or widened.

  Args:
    recurrences: keep these recurrences (None: all of Table 1's).
    inits: keep these initializers (None: all of Table 1's).
    layer_norm: "off" (Table 1), "add" (also the rebuttal's LayerNorm rows), "only" (only the LayerNorm rows).
      LayerNorm rows exist for the dense and diagonal recurrences, as in the rebuttal.

  Returns:
    With one of `recurrences`/`inits` given, the Table 1 rows that match it. With both given, their full product
    (so `lru` x `rescaled_glorot` can be asked for explicitly).
  """
  _check_choice("layer_norm mode", layer_norm, LAYER_NORM_MODES)
  for rec in recurrences or ():
    _check_choice("recurrence", rec, RECURRENCES)
  for init in inits or ():
    inits_lib.check_name(init)  # an unknown name would otherwise match no row: "the grid is empty"
  if recurrences is not None and inits is not None:
    base = [Row(rec, init) for rec in recurrences for init in inits]
  else:
    base = [r for r in TABLE1_ROWS if (recurrences is None or r.recurrence in recurrences)
            and (inits is None or r.init in inits)]
  ln_rows = [dataclasses.replace(r, layer_norm=True) for r in base if r.recurrence != "lru"]
  rows = {"off": base, "add": base + ln_rows, "only": ln_rows}[layer_norm]
  if not rows:
    raise ValueError(f"the grid is empty: recurrences={recurrences}, inits={inits}, layer_norm={layer_norm!r}")
  return rows


@functools.lru_cache(maxsize=None)
def recurrence_overrides(task: str, preset: str, recurrence: str) -> tuple[tuple[str, str], ...]:
  """The fields `configs/<task>.py:<preset>,recurrence=<recurrence>` sets beyond the recurrence and its init, as
  overrides (e.g. Pathfinder's LRU ring 0.999-0.9999): a sweep passes the recurrence as an override, so what the
  config arg would have changed with it is passed too. () for a config without a `recurrence` arg."""
  module = importlib.import_module(f"configs.{task}")
  if "recurrence=" in preset:
    return ()
  try:
    plain = module.get_config(preset) if preset else module.get_config()
    with_rec = module.get_config(f"{preset},recurrence={recurrence}" if preset else f"recurrence={recurrence}")
  except ConfigError:
    return ()
  plain, with_rec = (traverse_util.flatten_dict(c.to_dict(), sep=".") for c in (plain, with_rec))
  return tuple((key, _override_text(value)) for key, value in sorted(with_rec.items())
               if key not in (RECURRENCE_KEY, INIT_KEY) and value is not None and plain.get(key) != value)


def _override_text(value) -> str:
  """A config value as `--config.<key>=<text>` takes it back (repr for floats: every digit)."""
  return repr(value) if isinstance(value, float) else str(value)


def expand(root: str, *, tasks: Sequence[str] = TABLE1_TASKS, rows: Sequence[Row] = TABLE1_ROWS,
           seeds: Sequence[int] = (0, 1, 2), preset: str = "", axes: Sequence[tuple[str, Sequence[str]]] = (),
           overrides: Sequence[tuple[str, str] | tuple[str | None, str, str]] = ()) -> list[Run]:
  """Expands a grid into runs, ordered task, row, extra axes, seed.

  Args:
    root: the sweep's root directory; run workdirs are `<root>/<task>/<label>/seed<k>`.
    tasks: task names (lra.tasks.task_names(); default Table 1's, TABLE1_TASKS).
    rows: Table 1 rows (see `table1_rows`).
    seeds: values of `config.seed`.
    preset: config preset ("paper", "cpu", ...; "" for the config's default).
    axes: extra grid axes [(config key, values)], crossed with everything else and named in the workdir.
    overrides: fixed [(config key, value)] for every run, or [(task, config key, value)] for one task's runs
      (task None: every run), as `parse_override` returns them.

  Returns:
    The runs; duplicates (same workdir) raise ValueError.
  """
  for task in tasks:
    _check_choice("task", task, task_names())
  overrides = [(None, *o) if len(o) == 2 else tuple(o) for o in overrides]
  for key in [key for key, _ in axes] + [key for _, key, _ in overrides]:
    if key in BUILTIN_KEYS:
      raise ValueError(f"{key!r} is a built-in grid axis; set it with the grid options, not as an extra axis or "
                       f"override (built-in: {', '.join(BUILTIN_KEYS)})")
  if len({key for key, _ in axes}) != len(axes):
    raise ValueError(f"an axis is given twice: {[key for key, _ in axes]}")
  axis_keys = [key for key, _ in axes]
  combos = [tuple(zip(axis_keys, values)) for values in itertools.product(*[vals for _, vals in axes])]
  runs = []
  for task, row, combo, seed in itertools.product(tasks, rows, combos, seeds):
    given = [(k, str(v)) for t, k, v in overrides if t in (None, task)]
    taken = set(axis_keys) | {k for k, _ in given}
    implied = [(k, v) for k, v in recurrence_overrides(task, preset, row.recurrence) if k not in taken]
    run = Run(task=task, row=row, seed=int(seed), preset=preset, axes=tuple((k, str(v)) for k, v in combo),
              overrides=tuple(implied + given), workdir="")
    runs.append(dataclasses.replace(run, workdir=os.path.join(root, task, run.label, f"seed{run.seed}")))
  workdirs = [r.workdir for r in runs]
  if len(set(workdirs)) != len(workdirs):
    raise ValueError("two runs share a workdir; are there repeated values in the grid?")
  return runs


def read_results(workdir: str) -> dict | None:
  """A run's results.json, or None when there is none (or it is being written)."""
  path = os.path.join(workdir, "results.json")
  try:
    with open(path) as f:
      return json.load(f)
  except (FileNotFoundError, json.JSONDecodeError):
    return None


def run_status(workdir: str) -> str:
  """"finished", "diverged" (both: nothing left to do), "running" (a live train.py holds the workdir's lock),
  "partial" (started: train.py resumes it) or "new"."""
  results = read_results(workdir)
  if results is not None and results.get("diverged"):
    return "diverged"
  if results is not None and results.get("finished"):
    return "finished"
  if os.path.exists(os.path.join(workdir, workdir_lib.LOCK_NAME)) and workdir_lib.RunLock(workdir).holder():
    return "running"
  if os.path.isdir(workdir) and set(os.listdir(workdir)) - {workdir_lib.CLAIM_NAME}:
    return "partial"
  return "new"


def claim(workdir: str) -> workdir_lib.RunLock | None:
  """The runner's lock on `workdir` (held until released or the runner dies), or None when another runner holds
  it. train.py takes its own lock only seconds after its launch (imports first): without a claim, two runners on
  one root could both see a run as free in that window and launch it twice."""
  os.makedirs(workdir, exist_ok=True)
  lock = workdir_lib.RunLock(workdir, name=workdir_lib.CLAIM_NAME)
  try:
    lock.acquire()
  except ConfigError:
    return None
  return lock


def is_done(status: str) -> bool:
  return status in ("finished", "diverged")


def git_commit(repo_dir: str = REPO_DIR) -> str:
  """The checkout's commit, with `+dirty` when tracked files differ from it (lra.provenance); "unknown" outside git."""
  return provenance_lib.commit_label(repo_dir) or "unknown"


def provenance(command: Sequence[str] | str) -> dict:
  """What every sweep output records: the command that generated it, the commit, and the time."""
  if not isinstance(command, str):
    command = shlex.join(command)
  return dict(command=command, commit=git_commit(),
              created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))


def write_manifest(path: str, runs: Sequence[Run], *, program: Sequence[str], repo_dir: str,
                   prov: dict) -> None:
  """Writes `sweep.json`: provenance, the program, the repo dir commands run in, and every run with its argv."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  manifest = dict(prov, program=list(program), repo_dir=repo_dir, num_runs=len(runs),
                  runs=[dict(run.to_dict(program), index=i) for i, run in enumerate(runs)])
  with open(path, "w") as f:
    json.dump(manifest, f, indent=1)
    f.write("\n")


def load_manifest(path: str) -> tuple[list[Run], dict]:
  """Reads a `sweep.json`: (runs, the whole manifest dict)."""
  with open(path) as f:
    manifest = json.load(f)
  return [Run.from_dict(d) for d in manifest["runs"]], manifest


def write_run_list(path: str, runs: Sequence[Run], *, program: Sequence[str], prov: dict) -> None:
  """Writes `runs.txt` for people to read: two `#` header lines, then the exact command of run k on line k + 3."""
  with open(path, "w") as f:
    f.write(f"# {len(runs)} runs; generated by: {prov['command']}\n# commit {prov['commit']}, {prov['created']}\n")
    for run in runs:
      f.write(run.command(program) + "\n")


# SLURM checks time limits every 30 s and sends the warning signal when it is due within the next check: up to
# 60 s earlier than `--signal=B:USR1@<s>` asks, and at the job's start when the limit is less than `s` + 60 s away.
SLURM_SIGNAL_RESOLUTION_S = 60
# The launcher of a multi-process run inside its allocation, one task per process. When one task ends, the others
# get 120 s to end too (then srun kills them): a stopped run's processes all exit 75, and process 0 may still be
# finishing its checkpoint or results.json when the others are gone; a crashed one would leave them hanging.
SRUN_LAUNCHER = ("srun", "--kill-on-bad-exit=0", "--wait=120")


def parse_time_limit(text: str) -> int | None:
  """SLURM's `--time` formats (M, M:S, H:M:S, D-H, D-H:M, D-H:M:S) in seconds; None for no limit.

  Raises:
    ValueError: not one of those formats.
  """
  if text.strip().upper() in ("INFINITE", "UNLIMITED"):
    return None
  m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text.strip())
  if not m:
    raise ValueError(f"bad time limit {text!r}; expected SLURM's M, M:S, H:M:S, D-H, D-H:M or D-H:M:S")
  days, a, b, c = m.groups()
  parts = [int(v) for v in (a, b, c) if v is not None]
  if days is not None:  # D-H, D-H:M, D-H:M:S
    parts += [0] * (3 - len(parts))
    h, mi, sec = parts
    return ((int(days) * 24 + h) * 60 + mi) * 60 + sec
  if len(parts) == 1:
    return parts[0] * 60
  if len(parts) == 2:
    return parts[0] * 60 + parts[1]
  return (parts[0] * 60 + parts[1]) * 60 + parts[2]


def check_signal_time(signal_s: int, time_limit: str) -> None:
  """Refuses a warning signal that SLURM cannot deliver where asked (see SLURM_SIGNAL_RESOLUTION_S).

  Raises:
    ValueError: `signal_s` is below SLURM's resolution, or leaves no time to train under `time_limit`.
  """
  res = SLURM_SIGNAL_RESOLUTION_S
  if signal_s < res:
    raise ValueError(f"--signal-s={signal_s} is below SLURM's {res} s signal resolution (it checks time limits every "
                     f"30 s and may signal up to {res} s early); use --signal-s {res} or more")
  limit_s = parse_time_limit(time_limit)
  if limit_s is not None and limit_s < signal_s + res:
    raise ValueError(f"--time={time_limit} is shorter than --signal-s={signal_s} + {res} s: SLURM would signal the "
                     f"run at its start, before it trains; raise --time to at least {signal_s + res} s "
                     f"(e.g. {-(-(signal_s + res) // 60)} minutes) or lower --signal-s")


def check_slurm_options(*, signal_s: int, time_limit: str, nodes: int, ntasks_per_node: int) -> None:
  """Raises ValueError, in one line, on SLURM options that cannot work (see `check_signal_time`)."""
  if nodes < 1 or ntasks_per_node < 1:
    raise ValueError(f"--nodes={nodes} and --ntasks-per-node={ntasks_per_node} must be >= 1")
  check_signal_time(signal_s, time_limit)


def slurm_script(*, manifest_path: str, num_runs: int, repo_dir: str, python: str = "python",
                 partition: str | None = None, gpus: int = 1, time_limit: str = "24:00:00", mem: str = "32G",
                 cpus: int = 8, max_parallel: int | None = None, job_name: str = "glorot-lra",
                 log_dir: str = "slurm_logs", extra_sbatch: Sequence[str] = (), signal_s: int = 120,
                 nodes: int = 1, ntasks_per_node: int = 1, prov: dict) -> str:
  """A SLURM job-array script: array index i runs run i of the manifest (skipped when already done).

  It survives time limits and preemption. SLURM sends SIGUSR1 `signal_s` seconds (up to 60 s more) before the
  limit (`--signal=B:USR1@...`): the script passes it on to train.py, which writes its latest checkpoint and exits
  75, and then requeues its own array task (`--requeue`), which resumes from that checkpoint. A SIGTERM (an
  outside `scontrol requeue`, preemption, `scancel`) is passed on the same way, but SLURM decides what follows:
  a requeued or preempted task runs again and resumes, a cancelled one stays cancelled until the script is
  submitted again. Logs are appended across requeues (`--open-mode=append`).

  With `nodes` > 1 or `ntasks_per_node` > 1 a run is one multi-process JAX job: the task launches its train.py
  with `srun` over all of its tasks (the manifest's runs carry `--config.distributed=True`), and srun passes the
  signals on to every process.

  Args:
    manifest_path: the sweep.json the array indexes into.
    num_runs: the number of runs (array 0..num_runs-1).
    repo_dir: where train.py is; the job `cd`s there.
    python: the python on the compute nodes.
    partition, gpus, time_limit, mem, cpus: resources per array task (partition None: the cluster default);
      gpus and mem per node, cpus per process.
    max_parallel: at most this many array tasks at once (`%N`), None for no limit.
    job_name, log_dir: the job name and the folder of the per-task logs (`%A_%a.out`), which must exist before
      `sbatch` runs (SLURM opens the log before the script starts).
    extra_sbatch: more `#SBATCH` lines, e.g. ["--account=abc", "--qos=long"].
    signal_s: how long before the time limit SLURM warns the task (enough to finish a step and checkpoint).
    nodes, ntasks_per_node: nodes per run and processes per node.
    prov: provenance (see `provenance`), written into the header.

  Raises:
    ValueError: no runs, a bad node or task count, or a signal time SLURM cannot honour (`check_signal_time`).
  """
  if num_runs < 1:
    raise ValueError(f"a SLURM array needs at least one run, got num_runs={num_runs}")
  check_slurm_options(signal_s=signal_s, time_limit=time_limit, nodes=nodes, ntasks_per_node=ntasks_per_node)
  multi_process = nodes * ntasks_per_node > 1
  array = f"0-{num_runs - 1}" + (f"%{max_parallel}" if max_parallel else "")
  sbatch = [f"--job-name={job_name}", f"--array={array}", f"--time={time_limit}", f"--mem={mem}",
            f"--cpus-per-task={cpus}", f"--output={log_dir}/%A_%a.out", "--open-mode=append", "--requeue",
            f"--signal=B:USR1@{signal_s}"]
  if multi_process:
    sbatch += [f"--nodes={nodes}", f"--ntasks-per-node={ntasks_per_node}"]
  if partition:
    sbatch.append(f"--partition={partition}")
  if gpus:
    sbatch.append(f"--gres=gpu:{gpus}")
  sbatch += [s if s.startswith("--") else "--" + s for s in extra_sbatch]
  q = shlex.quote
  launcher = f" --launcher {q(shlex.join(SRUN_LAUNCHER))}" if multi_process else ""
  usr1, term = int(signal.SIGUSR1), int(signal.SIGTERM)
  lines = ["#!/bin/bash"] + [f"#SBATCH {s}" for s in sbatch] + [
      f"# glorot-lra sweep: {num_runs} runs, one per array index (see {manifest_path} and runs.txt)"
      + (f"; each run {nodes * ntasks_per_node} processes on {nodes} node(s), launched by srun." if multi_process
         else "."),
      f"# Generated by: {prov['command']}",
      f"# Commit: {prov['commit']}, {prov['created']}",
      "# Submit with: sbatch <this file>. Re-submitting skips finished/diverged runs and resumes the others.",
      "set -uo pipefail",
      ': "${SLURM_ARRAY_TASK_ID:?run this script with sbatch (or set SLURM_ARRAY_TASK_ID)}"',
      f"cd {q(repo_dir)} || exit 1",
      f"{q(python)} scripts/sweep.py run-index --manifest {q(manifest_path)} --index \"$SLURM_ARRAY_TASK_ID\""
      f"{launcher} &",
      "child=$!",
      "# USR1 (before the time limit) and TERM (requeue, preemption, scancel) go on to train.py, which checkpoints",
      "# and exits 75.",
      "got= signals=0",
      'forward() { got=$1; signals=$((signals + 1)); kill -s "$1" "$child" 2>/dev/null || true; }',
      "trap 'forward USR1' USR1",
      "trap 'forward TERM' TERM",
      'while :; do  # a trapped signal interrupts wait: wait again for the real exit status',
      '  before=$signals; wait "$child"; rc=$?',
      '  [ "$signals" != "$before" ] || break',
      "done",
      'task="${SLURM_ARRAY_JOB_ID:-$SLURM_JOB_ID}_${SLURM_ARRAY_TASK_ID}"',
      f'# {128 + usr1}: the signal came before sweep.py could pass it on; the run resumes from its last checkpoint.',
      f'if [ "$got" = USR1 ] && {{ [ "$rc" -eq {PREEMPTED_EXIT_CODE} ] || [ "$rc" -eq {128 + usr1} ]; }}; then',
      '  echo "SIGUSR1 before the time limit: the run stopped at its latest checkpoint; requeueing $task"',
      "  trap '' TERM  # SLURM ends this allocation with a TERM once the task is requeued",
      '  scontrol requeue "$task"',
      f'elif [ "$got" = TERM ] && {{ [ "$rc" -eq {PREEMPTED_EXIT_CODE} ] || [ "$rc" -eq {128 + term} ]; }}; then',
      '  echo "stopped by SIGTERM with its latest checkpoint written: a requeued or preempted task runs again and '
      'resumes; after scancel, sbatch this script again"',
      "fi",
      'exit "$rc"',
  ]
  return "\n".join(lines) + "\n"


def submit(script_path: str) -> str:
  """Submits a script with `sbatch` and returns the job id.

  Raises:
    RuntimeError: no sbatch on PATH, or sbatch refused the script (its message).
  """
  try:
    proc = subprocess.run(["sbatch", "--parsable", script_path], capture_output=True, text=True)
  except FileNotFoundError:
    raise RuntimeError("--submit needs sbatch on PATH (run on a SLURM login node)") from None
  if proc.returncode != 0:
    raise RuntimeError(f"sbatch {script_path} failed ({proc.returncode}): {proc.stderr.strip()}")
  return proc.stdout.strip().split(";")[0]  # --parsable: "<job id>[;<cluster>]"


def wandb_params(run: Run) -> dict[str, str]:
  """A run as wandb sweep parameters: {"config": "configs/<task>.py[:preset]", "config.<key>": value, ...}."""
  return {"config": run.config_arg} | {f"config.{key}": value for key, value in run.config_overrides()}


def wandb_sweep_configs(runs: Sequence[Run], *, manifest_path: str, project: str | None = None,
                        entity: str | None = None, python: str = "python", prov: dict) -> list[dict]:
  """wandb grid sweep configs covering exactly the runs: one config per block of rows that forms a full product.

  Table 1 is not one product ({dense, diag} x 4 inits, plus lru x lru_ring), so recurrences with the same set of
  inits (and LayerNorm flag) share one grid sweep; tasks, seeds and extra axes are crossed inside each. The
  parameters are the train.py arguments themselves: `config` (file and preset) and `config.<key>`, which
  wandb's `${args}` turns into `--config=... --config.model.init=...`. The command goes through
  `scripts/sweep.py wandb-run`, which finds the run in the manifest (for its deterministic workdir), skips it when
  already done, and runs train.py.

  Raises:
    ValueError: the runs are not a union of such products (they always are when made by `expand`).
  """
  inits_of: dict[tuple, set[str]] = {}  # runs with different fixed overrides (per task) go to different blocks
  for run in runs:
    inits_of.setdefault((run.row.layer_norm, run.overrides, run.row.recurrence), set()).add(run.row.init)
  recs_of: dict[tuple, list[str]] = {}
  for (layer_norm, overrides, rec), inits in inits_of.items():
    recs_of.setdefault((layer_norm, overrides, frozenset(inits)), []).append(rec)
  configs = []
  for i, ((layer_norm, overrides, inits), recs) in enumerate(recs_of.items()):
    block = [r for r in runs if r.row.layer_norm == layer_norm and r.overrides == overrides
             and r.row.recurrence in recs]
    params: dict[str, dict] = {}
    for key in wandb_params(block[0]):
      values = list(dict.fromkeys(wandb_params(r)[key] for r in block))
      params[key] = {"values": values} if len(values) > 1 or key in _GRID_KEYS else {"value": values[0]}
    config = {
        "name": f"glorot-lra-{i}",
        "description": f"Generated by: {prov['command']} (commit {prov['commit']}, {prov['created']})",
        "program": "train.py",
        "method": "grid",
        "parameters": params,
        "command": ["${env}", python, "scripts/sweep.py", "wandb-run", "--manifest", manifest_path, "${args}"],
    }
    if project:
      config["project"] = project
    if entity:
      config["entity"] = entity
    configs.append(config)
  want = sorted(json.dumps(wandb_params(r), sort_keys=True) for r in runs)
  got = sorted(json.dumps(p, sort_keys=True) for c in configs for p in grid_points(c))
  if want != got:
    raise ValueError("these runs are not a union of full grids; emit them with --emit slurm or local instead")
  return configs


_GRID_KEYS = ("config", f"config.{RECURRENCE_KEY}", f"config.{INIT_KEY}", f"config.{SEED_KEY}")


def grid_points(sweep_config: dict) -> list[dict[str, str]]:
  """Every parameter combination a wandb grid sweep config runs, as {name: value} dicts."""
  params = sweep_config["parameters"]
  keys = list(params)
  choices = [params[k]["values"] if "values" in params[k] else [params[k]["value"]] for k in keys]
  return [{k: str(v) for k, v in zip(keys, combo)} for combo in itertools.product(*choices)]


def run_from_wandb_args(runs: Sequence[Run], args: Sequence[str]) -> Run:
  """The manifest run that wandb's `${args}` (`--config=configs/x.py:p --config.k=v ...`) describe."""
  given: dict[str, str] = {}
  for arg in args:  # wandb passes `--key=value`, values through str().
    if not arg.startswith("--") or "=" not in arg:
      raise ValueError(f"unexpected argument {arg!r}; expected --config=... or --config.KEY=VALUE")
    key, value = arg[2:].split("=", 1)
    given[key] = value
  for run in runs:
    if wandb_params(run) == given:
      return run
  raise ValueError(f"no run of the manifest matches {shlex.join(args)}")


def execute(run: Run, *, program: Sequence[str], repo_dir: str, log_path: str | None = None) -> int:
  """Runs one run's train.py in `repo_dir` and returns its exit code; output goes to `log_path` (None: inherited).

  SIGTERM and SIGUSR1 received meanwhile are passed on to train.py (which checkpoints and exits 75).
  """
  os.makedirs(run.workdir, exist_ok=True)
  argv = run.argv(program)
  if log_path is None:
    return _wait_forwarding_signals(subprocess.Popen(argv, cwd=repo_dir))
  with open(log_path, "a") as log:
    log.write(f"\n# {datetime.datetime.now().isoformat(timespec='seconds')} $ {shlex.join(argv)}\n")
    log.flush()
    return _wait_forwarding_signals(subprocess.Popen(argv, cwd=repo_dir, stdout=log, stderr=subprocess.STDOUT))


def _wait_forwarding_signals(proc: subprocess.Popen) -> int:
  """The child's exit code; 75 too when a stop signal passed on reached it before it could catch it (the run is
  then as resumable as after a checkpoint: it restarts from its last one)."""
  forwarded = set()

  def forward(signum, frame):
    del frame
    forwarded.add(signum)
    proc.send_signal(signum)

  previous = {sig: signal.signal(sig, forward) for sig in STOP_SIGNALS}
  try:
    rc = proc.wait()
  finally:
    for sig, handler in previous.items():
      signal.signal(sig, handler)
  return PREEMPTED_EXIT_CODE if rc < 0 and -rc in forwarded else rc


def run_sequentially(runs: Sequence[Run], *, program: Sequence[str], repo_dir: str, stream: bool = False,
                     stop_on_error: bool = False, journal_path: str | None = None,
                     echo=print) -> dict[str, int]:
  """The local runner: runs one after another, skipping done runs, resuming partial ones.

  Several runners may share one root (a run is claimed before its launch: `claim`), each skipping what another
  has launched. Each run's train.py output goes to `<workdir>/sweep.log` (or the terminal with `stream`). One
  JSON line per run (name, status before, exit code, wall seconds, status after, commit, command) is appended to
  `journal_path`.

  A run stopped by SIGTERM / SIGUSR1 (exit 75: its checkpoint written) stops the sweep too: the signal was meant
  for the whole job, and re-running the sweep resumes that run first.

  Returns:
    Counts: {"skipped": .., "ran": .., "failed": .., "stopped": ..}.
  """
  counts = dict(skipped=0, ran=0, failed=0, stopped=0)
  for i, run in enumerate(runs):
    prefix = f"[{i + 1}/{len(runs)}] {run.name}"
    before, held = run_status(run.workdir), None
    if not (is_done(before) or before == "running"):
      held = claim(run.workdir)
      # Claimed: look again (another runner may have finished it meanwhile); not: another runner is launching it.
      before = run_status(run.workdir) if held else "running"
    if held is None or is_done(before) or before == "running":  # a live run elsewhere (a runner, a SLURM task)
      if held is not None:
        held.release()
      counts["skipped"] += 1
      echo(f"{prefix}: {before}, skipped")
      continue
    try:
      rc, ok = _launch(run, before, prefix, program=program, repo_dir=repo_dir, stream=stream,
                       journal_path=journal_path, echo=echo)
    finally:
      held.release()
    counts["ran" if ok else "stopped" if rc == PREEMPTED_EXIT_CODE else "failed"] += 1
    if rc == PREEMPTED_EXIT_CODE:
      echo(f"stopped by a signal after {run.name} wrote its checkpoint; run the sweep again to resume")
      break
    if not ok and stop_on_error:
      break
  return counts


def _launch(run: Run, before: str, prefix: str, *, program, repo_dir, stream, journal_path, echo) -> tuple[int, bool]:
  """Runs one claimed run's train.py, says how it ended and journals it; returns (exit code, ended done)."""
  echo(f"{prefix}: {'resuming' if before == 'partial' else 'starting'}")
  commit = git_commit(repo_dir)  # a run imports the checkout as it is when it starts
  start = time.monotonic()
  log_path = None if stream else os.path.join(run.workdir, "sweep.log")
  rc = execute(run, program=program, repo_dir=repo_dir, log_path=log_path)
  wall_s = time.monotonic() - start
  after = run_status(run.workdir)
  ok = rc == 0 and is_done(after)
  echo(f"{prefix}: exit {rc}, {after}, {wall_s:.1f} s" + ("" if ok or log_path is None else f" (see {log_path})"))
  if journal_path:
    with open(journal_path, "a") as f:
      f.write(json.dumps(dict(name=run.name, workdir=run.workdir, before=before, rc=rc, after=after,
                              wall_s=round(wall_s, 2), commit=commit, command=run.command(program))) + "\n")
  return rc, ok


def describe(runs: Sequence[Run], *, program: Sequence[str]) -> str:
  """The dry-run listing: one block per run with its index, status, name and exact command."""
  lines = []
  for i, run in enumerate(runs):
    lines.append(f"[{i}] {run.name} ({run_status(run.workdir)})")
    lines.append(f"    {run.command(program)}")
  counts: dict[str, int] = {}
  for run in runs:
    status = run_status(run.workdir)
    counts[status] = counts.get(status, 0) + 1
  lines.append(f"{len(runs)} runs: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
  return "\n".join(lines)


def grid_from_flags(*, root: str, tasks: str, seeds: str, preset: str, layer_norm: str, axes: Sequence[str],
                    overrides: Sequence[str]) -> list[Run]:
  """The grid that scripts/py's flags describe (comma-separated tasks and seeds, `--axis KEY=V1,V2` and
  `--override [TASK:]KEY=VALUE` texts).

  Raises:
    ValueError: a malformed axis, override or seed, or a name that is not valid (one line).
  """
  tasks = split_list(tasks)
  seeds = split_list(seeds)
  axis_texts, axes = axes, []
  recurrences = inits = None
  for text in axis_texts:
    key, values = parse_axis(text)
    if key == TASK_KEY:
      tasks = values
    elif key == SEED_KEY:
      seeds = values
    elif key == RECURRENCE_KEY:
      recurrences = values
    elif key == INIT_KEY:
      inits = values
    elif key == LAYER_NORM_KEY:
      flags = {v.lower() for v in values}
      if not flags <= {"true", "false"}:
        raise ValueError(f"{key} takes True/False, got {values}")
      layer_norm = {frozenset({"false"}): "off", frozenset({"true"}): "only"}.get(frozenset(flags), "add")
    else:
      axes.append((key, values))
  try:
    seeds = [int(s) for s in seeds]
  except ValueError:
    raise ValueError(f"seeds must be integers, got {seeds}") from None
  rows = table1_rows(recurrences, inits, layer_norm)
  overrides = [parse_override(text) for text in overrides]
  return expand(os.path.abspath(root), tasks=tasks, rows=rows, seeds=seeds, preset=preset, axes=axes,
                overrides=overrides)


def run_entry(run: Run, manifest: dict, launcher: Sequence[str] = ()) -> int:
  """Runs one run of a manifest (a SLURM array task, a wandb agent's call) unless it is done, held by a live
  train.py or claimed by another runner; prints what it does; returns the exit code."""
  status = run_status(run.workdir)
  print(f"{run.name}: {status}")
  if is_done(status):
    print("already done, skipped")
    return 0
  if status == "running":
    print("a live train.py holds this workdir, skipped")
    return 0
  held = claim(run.workdir)
  if held is None:
    print("another runner is launching this run, skipped")
    return 0
  try:
    program = [*launcher, *manifest["program"]]
    print(f"$ {run.command(program)}", flush=True)
    return execute(run, program=program, repo_dir=manifest["repo_dir"])
  finally:
    held.release()
