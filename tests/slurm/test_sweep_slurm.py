"""The SLURM path of scripts/sweep.py against a real scheduler (the `slurm_cluster` fixture): a tiny ListOps grid
submitted as an array, an outside requeue, a time limit, scancel and re-submission, and a 2-process run by srun.

A run must still be training when the scheduler's signal comes, as a long run would be, but these runs take
seconds: the tests hold the run's train.py with SIGSTOP once it has a checkpoint and let it go (SIGCONT) once the
scheduler has acted, so the run handles the scheduler's own signal at its next step. Every wait is on the
scheduler's state or on files, never a fixed sleep.
"""

import os
import shlex
import signal
import subprocess
import sys

import pytest

from tests.slurm import cluster as cluster_lib
from tools import sweep

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = sweep.REPO_DIR
SWEEP_PY = os.path.join(REPO, "scripts", "sweep.py")
TABLE1_PY = os.path.join(REPO, "scripts", "table1.py")
# The real train.py on tiny generated ListOps: 24 steps, a checkpoint every 4 (the tests hold a run at its first
# checkpoint: the 20 steps, 5 checkpoints and evaluation after it leave them time to, even on a fast machine).
TINY_OVERRIDES = ("model.n_layers=1", "model.d_model=8", "model.d_hidden=8", "train.batch_size=8",
                  "train.max_steps=24", "train.ckpt_every_steps=4", "train.log_every_steps=10",
                  "optim.warmup_epochs=0.1", "data.max_length=64", "data.listops.num_train=256",
                  "data.listops.num_val=32", "data.listops.num_test=32", "data.listops.min_tokens=10",
                  "data.listops.max_tokens=60", "data.listops.max_depth=3")
ONE_RUN = ("--tasks", "listops", "--seeds", "0", "--axis", "model.recurrence=diag", "--axis", "model.init=glorot_half")
RESULT_KEYS = ("best_val_metric", "test_metric", "best_step", "steps", "diverged", "finished")
FINAL_STATES = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED")
USR1_MASK = 1 << (signal.SIGUSR1 - 1)


def _env(cluster, cache):
  return dict(cluster.env, WANDB_MODE="disabled", JAX_PLATFORMS="cpu", XLA_FLAGS="", PYTHONUNBUFFERED="1",
              PYTHONPATH=os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p))


def _grid(root, cache, *grid):
  program = f"{sys.executable} train.py"
  overrides = [f"data.cache_dir={cache}", *TINY_OVERRIDES]
  return ["--root", str(root), "--emit", "slurm", *grid, "--program", program, "--python", sys.executable,
          "--repo", REPO, "--gpus", "0", "--cpus", "1", "--mem", "500M",
          *[a for o in overrides for a in ("--override", o)]]


def _sweep(cluster, cache, *args):
  proc = subprocess.run([sys.executable, SWEEP_PY, *args], cwd=REPO, env=_env(cluster, cache), capture_output=True,
                        text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr
  return proc.stdout


def _submit(cluster, cache, root, *grid):
  """Emits and submits (`--submit`); returns (job id, the one-run workdir or None, the log folder)."""
  out = _sweep(cluster, cache, *_grid(root, cache, *grid), "--submit")
  job_id = out.split("submitted job ")[1].split(":")[0]
  runs, _ = sweep.load_manifest(str(root / "sweep_slurm.json"))
  return job_id, runs, root / "slurm_logs"


def _wait_done(cluster, job_id, num_tasks):
  """Waits until every task of the array is in a final state; returns {task: scontrol fields}."""
  want = {f"{job_id}_{i}" for i in range(num_tasks)}

  def done():
    jobs = cluster.jobs(job_id)
    return jobs if set(jobs) == want and all(j["JobState"] in FINAL_STATES for j in jobs.values()) else None

  return cluster_lib.wait_until(done, f"job {job_id} to end", on_timeout=cluster.logs)


def _latest_steps(workdir):
  folder = os.path.join(workdir, "checkpoints", "latest")
  return [int(n) for n in os.listdir(folder) if n.isdigit()] if os.path.isdir(folder) else []


def _train_pid(workdir):
  """The pid of the live train.py that trains `workdir`, or None."""
  pids = _train_pids(workdir)
  return pids[0] if pids else None


def _train_pids(workdir):
  """The pids of the live train.py processes that train `workdir`."""
  pids = []
  for entry in os.listdir("/proc"):
    if not entry.isdigit():
      continue
    try:
      with open(f"/proc/{entry}/cmdline", "rb") as f:
        argv = f.read().decode(errors="replace").split("\0")
    except (FileNotFoundError, ProcessLookupError):
      continue
    is_python = os.path.basename(argv[0]).startswith("python")  # not srun, which names train.py too
    if is_python and "train.py" in argv and workdir in argv and cluster_lib.pid_alive(int(entry)):
      pids.append(int(entry))
  return pids


def _hold_after_checkpoint(cluster, workdir, log):
  """Waits for the run's first checkpoint, then stops its train.py (SIGSTOP); returns its pid."""
  cluster_lib.wait_until(lambda: _latest_steps(workdir), f"a checkpoint in {workdir}", poll_s=0.01,
                         on_timeout=lambda: _read(log) + cluster.logs())
  pid = _train_pid(workdir)
  assert pid is not None, _read(log)
  os.kill(pid, signal.SIGSTOP)
  return pid


def _pending_signals(pid):
  with open(f"/proc/{pid}/status") as f:
    fields = dict(line.split(":", 1) for line in f if ":" in line)
  return int(fields["SigPnd"], 16) | int(fields["ShdPnd"], 16)


def _read(path):
  try:
    with open(path) as f:
      return f.read()
  except FileNotFoundError:
    return f"({path} does not exist)"


def _assert_reference_numbers(workdir, reference):
  results = sweep.read_results(str(workdir))
  assert results is not None, f"no results.json in {workdir}"
  assert {k: results[k] for k in RESULT_KEYS} == {k: reference[k] for k in RESULT_KEYS}
  return results


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
  """A folder every xdist worker shares: the generated data cache and the reference run."""
  folder = os.path.join(cluster_lib.shared_dir(tmp_path_factory.getbasetemp()), "slurm_tests")
  os.makedirs(folder, exist_ok=True)
  return folder


@pytest.fixture(scope="session")
def reference(shared):
  """The uninterrupted run of ONE_RUN (train.py, no scheduler), made once for all workers; also fills the data
  cache that every job of the tests reads."""
  from pathlib import Path
  root, cache = Path(shared) / "reference", os.path.join(shared, "data_cache")
  with cluster_lib.locked(os.path.join(shared, "reference.lock")):
    runs = sweep.expand(str(root), tasks=["listops"], rows=[sweep.Row("diag", "glorot_half")], seeds=[0],
                        overrides=[tuple(o.split("=", 1)) for o in (f"data.cache_dir={cache}", *TINY_OVERRIDES)])
    if sweep.run_status(runs[0].workdir) != "finished":
      env = dict(os.environ, WANDB_MODE="disabled", JAX_PLATFORMS="cpu", XLA_FLAGS="")
      proc = subprocess.run(runs[0].argv([sys.executable, "train.py"]), cwd=REPO, env=env, capture_output=True,
                            text=True, timeout=300)
      assert proc.returncode == 0, proc.stderr[-3000:]
  results = sweep.read_results(runs[0].workdir)
  return dict(results, cache=cache)


# The two slowest first: under xdist they start on different workers while the others queue behind them.
def test_srun_two_tasks_train_as_one_job_pass_the_signal_on_and_end_with_the_one_process_numbers(
    slurm_cluster, reference, tmp_path):
  root = tmp_path / "runs"
  job_id, runs, logs = _submit(slurm_cluster, reference["cache"], root, *ONE_RUN, "--nodes", "1",
                               "--ntasks-per-node", "2")
  script = (root / "sweep.slurm").read_text()
  launcher = shlex.quote(shlex.join(sweep.SRUN_LAUNCHER))
  assert "#SBATCH --ntasks-per-node=2\n" in script and f"--launcher {launcher}" in script
  workdir, log = runs[0].workdir, logs / f"{job_id}_0.out"
  cluster_lib.wait_until(lambda: _latest_steps(workdir), f"a checkpoint in {workdir}", poll_s=0.01,
                         on_timeout=lambda: _read(log))
  pids = _train_pids(workdir)
  assert len(pids) == 2, _read(log)
  for pid in pids:
    os.kill(pid, signal.SIGSTOP)
  try:  # what SLURM's time-limit warning does (B:USR1): signal the batch shell only; srun passes it on
    slurm_cluster.run("scancel", "--batch", "--signal=USR1", f"{job_id}_0")
    cluster_lib.wait_until(lambda: all(_pending_signals(pid) & USR1_MASK for pid in pids),
                           "SIGUSR1 to reach both processes", on_timeout=lambda: _read(log))
  finally:
    for pid in pids:
      os.kill(pid, signal.SIGCONT)
  task = _wait_done(slurm_cluster, job_id, 1)[f"{job_id}_0"]
  text = _read(log)
  assert task["JobState"] == "COMPLETED" and int(task["Restarts"]) >= 1, text + slurm_cluster.logs()
  assert "--config.distributed=True" in text and f"requeueing {job_id}_0" in text, text
  assert "stopped by SIGUSR1 at step" in text and "resuming at step" in text, text
  results = _assert_reference_numbers(workdir, reference)
  assert results["processes"] == 2 and results["devices"] == 2


def test_time_limit_signal_checkpoints_and_requeues_until_done(slurm_cluster, reference, tmp_path):
  # --time 2 with --signal-s 60 (the least SLURM allows): USR1 comes 30-60 s after the start.
  job_id, runs, logs = _submit(slurm_cluster, reference["cache"], tmp_path / "runs", *ONE_RUN,
                               "--time", "2", "--signal-s", "60")
  log = logs / f"{job_id}_0.out"
  pid = _hold_after_checkpoint(slurm_cluster, runs[0].workdir, log)
  try:  # the batch shell gets USR1 and passes it on: it waits, pending, in the stopped train.py
    cluster_lib.wait_until(lambda: _pending_signals(pid) & USR1_MASK, "SIGUSR1 before the time limit",
                           on_timeout=lambda: _read(log))
  finally:
    os.kill(pid, signal.SIGCONT)
  task = _wait_done(slurm_cluster, job_id, 1)[f"{job_id}_0"]
  text = _read(log)
  assert task["JobState"] == "COMPLETED" and int(task["Restarts"]) >= 1, text + slurm_cluster.logs()
  assert "stopped by SIGUSR1 at step" in text and f"requeueing {job_id}_0" in text, text
  assert "resuming at step" in text and "scontrol: error" not in text, text
  _assert_reference_numbers(runs[0].workdir, reference)


def test_array_of_four_runs_finishes_makes_the_table_and_resubmission_skips(slurm_cluster, reference, tmp_path):
  root = tmp_path / "runs"
  grid = ("--tasks", "listops", "--seeds", "0,1", "--axis", "model.recurrence=diag",
          "--axis", "model.init=glorot_half,diag_uniform")
  job_id, runs, logs = _submit(slurm_cluster, reference["cache"], root, *grid)
  assert len(runs) == 4
  tasks = _wait_done(slurm_cluster, job_id, 4)
  for i, run in enumerate(runs):
    log = _read(logs / f"{job_id}_{i}.out")
    assert tasks[f"{job_id}_{i}"]["JobState"] == "COMPLETED", log + slurm_cluster.logs()
    assert f"$ {run.command([sys.executable, 'train.py'])}" in log
    assert "listops diag/" in log and "step 24/24 (100%)" in log and "\r" not in log  # plain progress lines
    results = sweep.read_results(run.workdir)
    assert results["finished"] and results["steps"] == 24, log
  assert {k: sweep.read_results(runs[0].workdir)[k] for k in RESULT_KEYS} == {k: reference[k] for k in RESULT_KEYS}

  table = subprocess.run([sys.executable, TABLE1_PY, "--root", str(root)], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
  assert table.returncode == 0, table.stderr
  for init, title in (("glorot_half", "Diagonal, Glorot/2"), ("diag_uniform", "Diagonal, uniform")):
    accs = [100 * sweep.read_results(r.workdir)["test_metric"] for r in runs if r.row.init == init]
    mean, std = sum(accs) / 2, abs(accs[0] - accs[1]) / 2
    assert f"| {title} | {mean:.2f} ± {std:.2f} |" in table.stdout, table.stdout

  finished = {r.workdir: _read(os.path.join(r.workdir, "results.json")) for r in runs}
  again = slurm_cluster.run("sbatch", "--parsable", str(root / "sweep.slurm")).stdout.strip()
  tasks = _wait_done(slurm_cluster, again, 4)
  for i, run in enumerate(runs):
    log = _read(logs / f"{again}_{i}.out")
    assert tasks[f"{again}_{i}"]["JobState"] == "COMPLETED" and "already done, skipped" in log, log
    assert _read(os.path.join(run.workdir, "results.json")) == finished[run.workdir]


def test_outside_requeue_checkpoints_exits_75_reruns_to_the_same_numbers(slurm_cluster, reference, tmp_path):
  job_id, runs, logs = _submit(slurm_cluster, reference["cache"], tmp_path / "runs", *ONE_RUN)
  log = logs / f"{job_id}_0.out"
  pid = _hold_after_checkpoint(slurm_cluster, runs[0].workdir, log)
  slurm_cluster.run("scontrol", "requeue", f"{job_id}_0")
  os.kill(pid, signal.SIGCONT)
  task = _wait_done(slurm_cluster, job_id, 1)[f"{job_id}_0"]
  text = _read(log)
  assert task["JobState"] == "COMPLETED" and int(task["Restarts"]) >= 1, text
  assert "stopped by SIGTERM at step" in text and "resuming at step" in text, text
  assert text.count("$ ") >= 2 and "SLURM restart 1 of this task" in text  # one log, appended by the rerun
  assert "pending execution" not in text and "requeueing" not in text  # SLURM requeued it: the script did not
  _assert_reference_numbers(runs[0].workdir, reference)


def test_scancel_leaves_a_run_that_a_new_sbatch_resumes(slurm_cluster, reference, tmp_path):
  root = tmp_path / "runs"
  job_id, runs, logs = _submit(slurm_cluster, reference["cache"], root, *ONE_RUN)
  workdir = runs[0].workdir
  pid = _hold_after_checkpoint(slurm_cluster, workdir, logs / f"{job_id}_0.out")
  slurm_cluster.run("scancel", f"{job_id}_0")
  os.kill(pid, signal.SIGCONT)
  task = _wait_done(slurm_cluster, job_id, 1)[f"{job_id}_0"]
  cluster_lib.wait_until(lambda: not cluster_lib.pid_alive(pid), "the cancelled train.py to exit")
  assert task["JobState"] == "CANCELLED" and task["Restarts"] == "0"  # cancelled stays cancelled
  assert sweep.run_status(workdir) == "partial" and _latest_steps(workdir)
  again = slurm_cluster.run("sbatch", "--parsable", str(root / "sweep.slurm")).stdout.strip()
  task = _wait_done(slurm_cluster, again, 1)[f"{again}_0"]
  text = _read(logs / f"{again}_0.out")
  assert task["JobState"] == "COMPLETED" and "resuming at step" in text, text
  _assert_reference_numbers(workdir, reference)
