"""Cluster-proof runs, with real processes and real signals: SIGKILL at any moment resumes to the uninterrupted
numbers, SIGTERM / SIGUSR1 checkpoint and exit 75, one live run per workdir, a workdir keeps its config, and
two processes under SLURM's environment train as one."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lra.errors import ConfigError
from lra.train import checkpoint, loop, preemption, workdir as workdir_lib
from tests.lra.tiny import OVERRIDES, REPO, tiny_config

pytestmark = pytest.mark.slow

# 3 epochs of 8 steps, a latest checkpoint every 3 steps and an evaluation (and best checkpoint) every epoch.
EXTRA = {"train.epochs": 3, "train.ckpt_every_steps": 3, "train.log_every_steps": 1}
RESULT_KEYS = ("best_val_metric", "test_metric", "best_step", "steps", "diverged", "finished")


def _flags(cache):
  values = {**OVERRIDES, **EXTRA, "data.cache_dir": cache}
  return [f"--config.{k}={v}" for k, v in values.items()]


_JAX_CACHE = {}


@pytest.fixture(scope="module", autouse=True)
def shared_compilation_cache(tmp_path_factory):
  """One persistent XLA compilation cache for this module's processes: each start after the first skips most of
  its compilation (the same executables, so the same numbers)."""
  _JAX_CACHE["dir"] = str(tmp_path_factory.mktemp("jax_cache"))
  yield
  _JAX_CACHE.clear()


def _env(**extra):
  env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "GLOROT_LRA_KILL"))}
  return dict(env, JAX_PLATFORMS="cpu", WANDB_MODE="disabled", XLA_FLAGS="",
              JAX_COMPILATION_CACHE_DIR=_JAX_CACHE["dir"], JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
              JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1", **extra)


def _cmd(workdir, cache, *extra):
  return [sys.executable, "train.py", "--config", "configs/listops.py:cpu", "--workdir", str(workdir),
          *_flags(cache), *extra]


def _train(workdir, cache, kill_at=None, extra=()):
  env = _env(**({"GLOROT_LRA_KILL_AT": kill_at} if kill_at else {}))
  return subprocess.run(_cmd(workdir, cache, *extra), cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=300)


def _read_jsonl(path):
  with open(path) as f:
    return [json.loads(line) for line in f]  # every line must be whole JSON


def _wait_for(predicate, proc, what, timeout=240):
  deadline = time.monotonic() + timeout
  while not predicate():
    assert proc.poll() is None, f"train.py exited ({proc.returncode}) before {what}"
    assert time.monotonic() < deadline, f"timed out waiting for {what}"
    time.sleep(0.05)


def _logged_step(workdir):
  """The last step in metrics.jsonl (0 before any)."""
  try:
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
      lines = [json.loads(line) for line in f if line.endswith("\n")]
  except (FileNotFoundError, json.JSONDecodeError):
    return 0
  return max((line["step"] for line in lines), default=0)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """The uninterrupted run, in-process, and its metrics lines."""
  root = tmp_path_factory.mktemp("reference")
  config = tiny_config(root, **{k.split(".")[1]: v for k, v in EXTRA.items()})
  results = loop.run(config, str(root / "run"))
  return {"results": results, "lines": _read_jsonl(root / "run" / "metrics.jsonl"), "cache": str(root / "cache")}


def _assert_same_run(workdir, reference):
  results = json.loads((workdir / "results.json").read_text())
  for key in RESULT_KEYS:
    assert results[key] == reference["results"][key], key
  lines = _read_jsonl(workdir / "metrics.jsonl")
  assert [(l["step"], sorted(l)) for l in lines] == [(l["step"], sorted(l)) for l in reference["lines"]]
  for got, want in zip(lines, reference["lines"]):
    for key in ("train/loss", "val/accuracy", "test/accuracy"):
      if key in want:
        assert got[key] == pytest.approx(want[key], rel=1e-5, abs=1e-6), (want["step"], key)


def test_sigkill_at_every_moment_resumes_to_the_uninterrupted_numbers(tmp_path, reference):
  workdir = tmp_path / "run"
  ckpt = workdir / "checkpoints"
  # Each start dies at the next point, in the order a run reaches them; the last start runs to the end.
  stages = [
      ("compile", lambda: not os.path.exists(ckpt / "latest" / "3")),
      ("mid_step@5", lambda: (ckpt / "latest" / "3").is_dir() and not (ckpt / "latest" / "6").exists()),
      ("best_write@8", lambda: (ckpt / "latest" / "6").is_dir() and checkpoint.partial_checkpoints(str(ckpt))),
      ("between_checkpoints@8", lambda: (ckpt / "best" / "8").is_dir() and (ckpt / "latest" / "6").is_dir()),
      ("latest_write@9", lambda: (ckpt / "latest" / "8").is_dir() and any(
          p.endswith("9.orbax-checkpoint-tmp") for p in checkpoint.partial_checkpoints(str(ckpt)))),
      ("eval@16", lambda: (ckpt / "latest" / "15").is_dir()),
      ("results_write", lambda: (workdir / "results.json.tmp").exists() and not (workdir / "results.json").exists()),
  ]
  outputs = []
  for point, left_as_expected in stages:
    proc = _train(workdir, reference["cache"], kill_at=point)
    assert proc.returncode == -signal.SIGKILL, (point, proc.returncode, proc.stderr[-2000:])
    assert left_as_expected(), (point, sorted(str(p.relative_to(workdir)) for p in workdir.rglob("*") if
                                              "checkpoints" in str(p) and p.parent.parent == ckpt))
    outputs.append(proc.stderr + proc.stdout)
  # The starts after a kill mid-write say that they ignore the half-written checkpoint.
  for after_partial_write in (3, 5):
    assert "ignoring the half-written checkpoint" in outputs[after_partial_write]
  final = _train(workdir, reference["cache"])
  assert final.returncode == 0, final.stderr[-3000:]
  _assert_same_run(workdir, reference)


def test_sigterm_checkpoints_and_exits_75_then_resumes(tmp_path, reference):
  workdir = tmp_path / "run"
  proc = subprocess.Popen(_cmd(workdir, reference["cache"]), cwd=REPO, env=_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  try:
    _wait_for(lambda: _logged_step(workdir) >= 4, proc, "step 4")
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=240)
  finally:
    proc.kill()
  assert proc.returncode == preemption.PREEMPTED_EXIT_CODE, stderr[-3000:]
  assert "stopped by SIGTERM" in stderr
  stopped_at = int(stderr.split("stopped by SIGTERM at step ")[1].split(";")[0])
  assert stopped_at >= 4 and (workdir / "checkpoints" / "latest" / str(stopped_at)).is_dir()
  assert not (workdir / "results.json").exists()  # nothing says finished
  again = _train(workdir, reference["cache"])
  assert again.returncode == 0, again.stderr[-3000:]
  assert f"resuming at step {stopped_at}" in again.stdout
  _assert_same_run(workdir, reference)


def test_a_live_workdir_refuses_a_second_run_and_a_dead_lock_does_not_block(tmp_path):
  workdir = tmp_path / "run"
  workdir.mkdir()
  lock = workdir_lib.RunLock(str(workdir))
  holder = subprocess.Popen([sys.executable, "-c", (
      "import sys; from lra.train import workdir as w; "
      "l = w.RunLock(sys.argv[2]); l.acquire(); print('locked', flush=True); sys.stdin.read()"),
      REPO, str(workdir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(ConfigError, match=f"in use by a live run \\(pid {holder.pid} on "):
      lock.acquire()
    proc = subprocess.run(_cmd(workdir, str(tmp_path / "cache")), cwd=REPO, env=_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 1 and f"pid {holder.pid}" in proc.stderr and "Traceback" not in proc.stderr
    holder.kill()  # SIGKILL: the kernel drops its lock
    holder.wait()
    lock.acquire()
    lock.release()
  finally:
    holder.kill()


def test_a_workdir_refuses_another_config_and_names_the_fields(tmp_path):
  config = tiny_config(tmp_path, max_steps=2)
  loop.run(config, str(tmp_path / "run"))
  changed = tiny_config(tmp_path, max_steps=2)
  changed.optim.lr, changed.model.d_model = 0.5, 24
  with pytest.raises(ConfigError, match=r"model.d_model: 16 -> 24, optim.lr: 0.003 -> 0.5"):
    loop.run(changed, str(tmp_path / "run"))
  neutral = tiny_config(tmp_path, max_steps=2, log_every_steps=7, ckpt_every_steps=9)
  assert loop.run(neutral, str(tmp_path / "run"))["finished"]  # logging and checkpoint cadence may differ


def _slurm_env(rank, job_id):
  return _env(SLURM_JOB_ID=str(job_id), SLURM_NTASKS="2", SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank),
              SLURM_NODEID="0", SLURM_STEP_NODELIST="localhost", SLURM_NODELIST="localhost")


def _start_pair(workdir, cache, job_id):
  return [subprocess.Popen(_cmd(workdir, cache, "--config.distributed=True"), cwd=REPO,
                           env=_slurm_env(rank, job_id), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
          for rank in (0, 1)]


def _finish(procs, timeout=280):
  outs = []
  for proc in procs:
    try:
      outs.append(proc.communicate(timeout=timeout))
    finally:
      proc.kill()
  return outs


def test_two_processes_train_as_one_and_resume_together(tmp_path, reference):
  workdir = tmp_path / "run"
  job_id = 40000 + os.getpid() % 20000  # JAX derives the coordinator port from the job id
  procs = _start_pair(workdir, reference["cache"], job_id)
  try:
    _wait_for(lambda: _logged_step(workdir) >= 5, procs[0], "step 5")
    procs[0].send_signal(signal.SIGUSR1)  # one process signalled: both stop at the same step
  finally:
    outs = _finish(procs)
  assert [p.returncode for p in procs] == [75, 75], [o[1][-2000:] for o in outs]
  assert "stopped by SIGUSR1" in outs[0][1]
  steps = list((workdir / "checkpoints" / "latest").iterdir())
  assert len(steps) == 1 and int(steps[0].name) >= 5
  procs = _start_pair(workdir, reference["cache"], job_id + 1)
  outs = _finish(procs)
  assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
  assert f"resuming at step {steps[0].name}" in outs[0][0] and "resuming" not in outs[1][0]
  bar = "listops diag/glorot_half"  # the progress bar's description
  assert bar in outs[0][1] and bar not in outs[1][1] + outs[1][0]
  results = json.loads((workdir / "results.json").read_text())
  assert results["processes"] == 2 and results["devices"] == 2
  _assert_same_run(workdir, reference)
