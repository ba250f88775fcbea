"""Tests of tools/sweep.py and scripts/sweep.py: grid expansion, dry run, SLURM/wandb emitters, the local runner."""

import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tools import sweep

REPO = sweep.REPO_DIR
SWEEP_PY = os.path.join(REPO, "scripts", "sweep.py")
TABLE1_PY = os.path.join(REPO, "scripts", "table1.py")

# A stand-in for train.py with its contract: --config, --workdir, --config.k=v; writes results.json; a relaunch
# of a finished run exits at once. FAKE_DIVERGE_INIT names the init that "diverges"; the run in FAKE_HANG_WORKDIR
# hangs on its first launch, after writing its first files (to be killed); the run in FAKE_PREEMPT_WORKDIR waits on
# its first launch until SIGUSR1 / SIGTERM, then exits 75 as train.py does; each launch appends to launches.txt;
# FAKE_SLEEP seconds pass before it reads its arguments.
FAKE_TRAIN = r'''
import json, os, signal, sys, time
time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))  # train.py's imports, before it takes its run lock
args = sys.argv[1:]
workdir = args[args.index("--workdir") + 1]
config = args[args.index("--config") + 1]
over = dict(a[len("--config."):].split("=", 1) for a in args if a.startswith("--config."))
os.makedirs(workdir, exist_ok=True)
with open(os.path.join(workdir, "launches.txt"), "a") as f:
  f.write(" ".join(args) + "\n")
path = os.path.join(workdir, "results.json")
if os.path.exists(path) and json.load(open(path))["finished"]:
  sys.exit(0)
with open(os.path.join(workdir, "metrics.jsonl"), "a") as f:
  f.write('{"step": 1}\n')
seed = int(over["seed"])
if os.environ.get("FAKE_PREEMPT_WORKDIR") == workdir and not os.path.exists(os.path.join(workdir, "signalled")):
  def stop(signum, frame):
    open(os.path.join(workdir, "signalled"), "w").write(signal.Signals(signum).name)
    sys.exit(75)
  signal.signal(signal.SIGUSR1, stop)
  signal.signal(signal.SIGTERM, stop)
  open(os.path.join(workdir, "waiting"), "w").close()
  while True:
    signal.pause()
if os.environ.get("FAKE_HANG_WORKDIR") == workdir and not os.path.exists(os.path.join(workdir, "hung")):
  open(os.path.join(workdir, "hung"), "w").close()
  time.sleep(600)
diverged = over["model.init"] == os.environ.get("FAKE_DIVERGE_INIT")
task = os.path.basename(config).split(".")[0]
results = dict(task=task, recurrence=over["model.recurrence"], init=over["model.init"], seed=seed,
               diverged=diverged, diverged_step=3 if diverged else None, finished=True, steps=10, wall_s=0.1,
               best_val_accuracy=None if diverged else 0.5, test_accuracy=None if diverged else 0.5 + 0.01 * seed)
json.dump(results, open(path, "w"))
'''


@pytest.fixture
def fake_train(tmp_path):
  path = tmp_path / "fake_train.py"
  path.write_text(FAKE_TRAIN)
  return shlex.join([sys.executable, str(path)])


def _sweep(*args, env=None, check=True):
  proc = subprocess.run([sys.executable, SWEEP_PY, *args], capture_output=True, text=True, cwd=REPO,
                        env=dict(os.environ, **(env or {})), timeout=120)
  if check and proc.returncode != 0:
    raise AssertionError(f"sweep.py {args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
  return proc


def test_default_grid_is_table1():
  runs = sweep.expand("/r")
  assert len(runs) == 3 * (2 * 4 + 1) * 3
  assert len({r.workdir for r in runs}) == len(runs)
  rows = {(r.row.recurrence, r.row.init) for r in runs}
  assert rows == {(rec, init) for rec in ("dense", "diag") for init in sweep.TABLE1_INITS} | {("lru", "lru_ring")}
  first = runs[0]
  assert first.workdir == "/r/listops/dense-glorot/seed0"
  assert first.command() == ("python train.py --config configs/listops.py --workdir /r/listops/dense-glorot/seed0 "
                             "--config.model.recurrence=dense --config.model.init=glorot --config.seed=0")


def test_layer_norm_rows_axes_and_overrides():
  rows = sweep.table1_rows(layer_norm="add")
  assert len(rows) == 9 + 8 and sum(r.layer_norm for r in rows) == 8
  runs = sweep.expand("/r", tasks=["imdb"], rows=sweep.table1_rows(layer_norm="only"), seeds=[1], preset="cpu",
                      axes=[("optim.lr_factor", ["0.01", "0.05"])], overrides=[("train.max_steps", "7")])
  assert len(runs) == 8 * 2
  run = runs[0]
  assert run.workdir == "/r/imdb/dense-glorot-ln-lr_factor0.01/seed1"
  assert run.args()[:2] == ["--config", "configs/imdb.py:cpu"]
  assert run.args()[4:] == ["--config.model.recurrence=dense", "--config.model.init=glorot", "--config.seed=1",
                            "--config.model.recurrent_layer_norm=True", "--config.optim.lr_factor=0.01",
                            "--config.train.max_steps=7"]
  assert sweep.Run.from_dict(run.to_dict()) == run


def test_task_scoped_overrides():
  assert sweep.parse_override("--config.train.max_steps=5") == (None, "train.max_steps", "5")
  assert sweep.parse_override("imdb:model.d_hidden=256") == ("imdb", "model.d_hidden", "256")
  overrides = [sweep.parse_override(t) for t in ("train.max_steps=5", "imdb:model.d_hidden=256",
                                                 "listops:model.d_hidden=192")]
  runs = sweep.expand("/r", tasks=["listops", "imdb"], seeds=[0], overrides=overrides)
  assert {r.task: r.overrides for r in runs} == {"listops": (("train.max_steps", "5"), ("model.d_hidden", "192")),
                                                 "imdb": (("train.max_steps", "5"), ("model.d_hidden", "256"))}
  configs = sweep.wandb_sweep_configs(runs, manifest_path="m.json", prov=sweep.provenance("test"))
  assert len(configs) == 4  # per task: {dense, diag} x 4 inits, and lru
  assert sum(len(sweep.grid_points(c)) for c in configs) == len(runs)


def test_an_lru_row_gets_what_the_config_sets_for_the_lru_unless_the_grid_sets_it():
  """Pathfinder's config gives the LRU its long ring under `recurrence=lru`; a sweep names the recurrence by an
  override, so the ring comes as overrides: the run's config is the config arg's, field for field."""
  from tests.configs.test_configs import _parse
  runs = sweep.expand("r", tasks=["pathfinder", "listops"], rows=[sweep.Row("lru", "lru_ring"),
                                                                  sweep.Row("diag", "glorot")], seeds=[0],
                      preset="cpu")
  by_name = {run.name: run for run in runs}
  assert by_name["listops/lru-lru_ring/seed0"].overrides == by_name["pathfinder/diag-glorot/seed0"].overrides == ()
  run = by_name["pathfinder/lru-lru_ring/seed0"]
  got = _parse(*[f"--config.{k}={v}" for k, v in run.config_overrides()], config=run.config_arg)
  want = _parse(config="configs/pathfinder.py:preset=cpu,recurrence=lru")
  assert want.model.init_params.r_min == 0.999 and want.model.init_params.r_max == 0.9999
  want.seed = 0
  assert got.to_dict() == want.to_dict()
  # An axis (or an override) on one of those fields wins over the config's value, and the workdir names it.
  run, = sweep.expand("r", tasks=["pathfinder"], rows=[sweep.Row("lru", "lru_ring")], seeds=[0], preset="cpu",
                      axes=[("model.init_params.r_min", ["0.9"])])
  assert dict(run.config_overrides())["model.init_params.r_min"] == "0.9" and "r_min0.9" in run.workdir
  assert [k for k, _ in run.config_overrides()].count("model.init_params.r_min") == 1


def test_row_selection_filters_or_crosses():
  only_inits = sweep.table1_rows(inits=["glorot", "rescaled_glorot"])
  assert [r.name for r in only_inits] == ["dense-glorot", "dense-rescaled_glorot", "diag-glorot",
                                          "diag-rescaled_glorot"]
  both = sweep.table1_rows(recurrences=["lru"], inits=["rescaled_glorot", "diag_uniform"])
  assert [r.name for r in both] == ["lru-rescaled_glorot", "lru-diag_uniform"]


@pytest.mark.parametrize("call, match", [
    (lambda: sweep.expand("/r", tasks=["cifar"]), r"unknown task 'cifar'; valid: listops, scifar, imdb"),
    (lambda: sweep.table1_rows(recurrences=["rnn"]), r"unknown recurrence 'rnn'; valid: dense, diag, lru"),
    (lambda: sweep.table1_rows(inits=["bogus"]), r"unknown initializer 'bogus'; valid: glorot, glorot_half, "),
    (lambda: sweep.table1_rows(layer_norm="yes"), r"unknown layer_norm mode 'yes'; valid: off, add, only"),
    (lambda: sweep.expand("/r", axes=[("model.init", ["glorot"])]), r"built-in grid axis"),
    (lambda: sweep.parse_axis("model.init"), r"expected KEY=V1,V2"),
    (lambda: sweep.parse_override("train.max_steps"), r"expected \[TASK:\]KEY=VALUE"),
    (lambda: sweep.parse_override("mnist:train.max_steps=1"), r"unknown task 'mnist'"),
    (lambda: sweep.expand("/r", seeds=[0, 0]), r"share a workdir"),
])
def test_bad_grids_raise_clear_errors(call, match):
  with pytest.raises(ValueError, match=match):
    call()


def test_dry_run_lists_exact_commands_and_writes_nothing(tmp_path):
  root = tmp_path / "runs"
  out = _sweep("--root", str(root), "--dry-run", "--tasks", "listops", "--seeds", "0,1",
               "--axis", "model.init=glorot,rescaled_glorot", "--override", "train.max_steps=5").stdout
  commands = [line.strip() for line in out.splitlines() if line.startswith("    ")]
  assert len(commands) == 2 * 2 * 2  # {dense, diag} x 2 inits x 2 seeds
  assert commands[0] == (f"python train.py --config configs/listops.py:paper --workdir {root}/listops/dense-glorot/"
                         "seed0 --config.model.recurrence=dense --config.model.init=glorot --config.seed=0 "
                         "--config.train.max_steps=5")
  assert "# commit " in out and "8 runs: 8 new" in out
  assert not root.exists()
  bad = _sweep("--root", str(root), "--dry-run", "--tasks", "mnist", check=False)
  assert bad.returncode == 2 and "unknown task 'mnist'" in bad.stderr


def test_slurm_script_passes_bash_n_and_its_log_folder_exists_before_sbatch(tmp_path, fake_train):
  # Running it is for the real scheduler: tests/slurm/test_sweep_slurm.py.
  root = tmp_path / "runs"
  _sweep("--root", str(root), "--emit", "slurm", "--tasks", "listops,imdb", "--seeds", "0",
         "--axis", "model.recurrence=dense,diag", "--axis", "model.init=glorot,glorot_half", "--partition", "gpu",
         "--gpus", "2", "--time", "01:00:00", "--mem", "8G", "--cpus", "3", "--max-parallel", "2",
         "--signal-s", "300", "--program", fake_train, "--python", sys.executable)
  script = (root / "sweep.slurm").read_text()
  subprocess.run(["bash", "-n", str(root / "sweep.slurm")], check=True)
  for line in ("--array=0-7%2", "--partition=gpu", "--gres=gpu:2", "--time=01:00:00", "--mem=8G",
               "--cpus-per-task=3", f"--output={root}/slurm_logs/%A_%a.out", "--signal=B:USR1@300", "--requeue",
               "--open-mode=append"):
    assert f"#SBATCH {line}\n" in script
  assert (root / "slurm_logs").is_dir()  # SLURM opens the logs before the script runs
  assert "# Generated by: " in script and "# Commit: " in script and "srun" not in script
  runs, manifest = sweep.load_manifest(str(root / "sweep_slurm.json"))
  assert len(runs) == 8 and manifest["commit"] and manifest["command"]
  listed = [line for line in (root / "runs.txt").read_text().splitlines() if not line.startswith("#")]
  assert listed == [run.command(shlex.split(fake_train)) for run in runs]
  out_of_range = subprocess.run([sys.executable, SWEEP_PY, "run-index", "--manifest", str(root / "sweep_slurm.json"),
                                 "--index", "8"], capture_output=True, text=True, cwd=REPO)
  assert out_of_range.returncode == 2 and "outside 0..7" in out_of_range.stderr


def test_multi_node_runs_are_one_srun_job_with_distributed_set(tmp_path, fake_train):
  root = tmp_path / "runs"
  _sweep("--root", str(root), "--emit", "slurm", "--tasks", "listops", "--seeds", "0,1", "--nodes", "2",
         "--gpus", "4", "--ntasks-per-node", "4", "--program", fake_train, "--python", sys.executable)
  script = (root / "sweep.slurm").read_text()
  for line in ("--nodes=2", "--ntasks-per-node=4", "--gres=gpu:4", "--requeue", "--signal=B:USR1@120"):
    assert f"#SBATCH {line}\n" in script
  launcher = shlex.join(sweep.SRUN_LAUNCHER)
  assert f"--launcher {shlex.quote(launcher)} &" in script and "8 processes on 2 node(s)" in script
  runs, _ = sweep.load_manifest(str(root / "sweep_slurm.json"))
  assert all(r.overrides == (("distributed", "True"),) for r in runs)
  assert runs[0].workdir == str(root / "listops" / "dense-glorot" / "seed0")  # the same workdirs as one process


@pytest.mark.parametrize("flags, message", [
    (("--signal-s", "30"), "--signal-s=30 is below SLURM's 60 s signal resolution"),
    (("--time", "1", "--signal-s", "60"), "--time=1 is shorter than --signal-s=60 + 60 s"),
    (("--time", "3:00", "--signal-s", "150"), "raise --time to at least 210 s"),
    (("--time", "1-2:x",), "bad time limit '1-2:x'"),
    (("--nodes", "0",), "--nodes=0 and --ntasks-per-node=1 must be >= 1"),
])
def test_slurm_emitter_refuses_what_slurm_cannot_do_in_one_line(tmp_path, flags, message):
  proc = _sweep("--root", str(tmp_path / "runs"), "--emit", "slurm", "--tasks", "listops", *flags, check=False)
  assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
  assert not (tmp_path / "runs" / "sweep.slurm").exists()


def test_slurm_time_limits_parse_as_slurm_reads_them():
  assert [sweep.parse_time_limit(t) for t in ("5", "5:30", "2:00:00", "1-2", "1-2:30", "1-0:0:10", "INFINITE")] == [
      300, 330, 7200, 93600, 95400, 86410, None]


def test_submit_without_sbatch_says_so(tmp_path, fake_train):
  env = {"PATH": os.path.dirname(sys.executable)}  # no sbatch here
  proc = _sweep("--root", str(tmp_path / "runs"), "--emit", "slurm", "--tasks", "listops", "--seeds", "0",
                "--submit", "--program", fake_train, env=env, check=False)
  assert proc.returncode == 1 and "--submit needs sbatch on PATH" in proc.stderr


def test_wandb_yaml_parses_and_lists_the_grid(tmp_path, fake_train):
  root = tmp_path / "runs"
  _sweep("--root", str(root), "--emit", "wandb", "--layer-norm", "add", "--seeds", "0,1",
         "--override", "train.max_steps=3", "--wandb-project", "glorot-lra", "--program", fake_train)
  runs, _ = sweep.load_manifest(str(root / "sweep_wandb.json"))
  paths = sorted(root.glob("wandb_sweep_*.yaml"))
  assert len(paths) == 3  # {dense, diag} x 4 inits, the same with LayerNorm, lru x lru_ring
  configs = [yaml.safe_load(p.read_text()) for p in paths]
  for config in configs:
    assert config["method"] == "grid" and config["program"] == "train.py" and config["project"] == "glorot-lra"
    assert "${args}" in config["command"] and "Generated by:" in config["description"]
    assert config["parameters"]["config.train.max_steps"] == {"value": "3"}
  points = sorted(json.dumps(p, sort_keys=True) for c in configs for p in sweep.grid_points(c))
  assert points == sorted(json.dumps(sweep.wandb_params(r), sort_keys=True) for r in runs)
  assert len(points) == 3 * 17 * 2

  # What a wandb agent runs: the command with ${args} as `--key=value`; it lands in the run's own workdir.
  point = sweep.grid_points(configs[0])[5]
  argv = [a for a in configs[0]["command"] if a not in ("${env}", "${args}")][1:]
  argv = [sys.executable] + [os.path.join(REPO, a) if a == "scripts/sweep.py" else a for a in argv]
  proc = subprocess.run(argv + [f"--{k}={v}" for k, v in point.items()], capture_output=True, text=True, cwd=REPO)
  assert proc.returncode == 0, proc.stderr
  run = sweep.run_from_wandb_args(runs, [f"--{k}={v}" for k, v in point.items()])
  assert sweep.run_status(run.workdir) == "finished"
  assert sum(sweep.run_status(r.workdir) == "finished" for r in runs) == 1
  with pytest.raises(ValueError, match="no run of the manifest matches"):
    sweep.run_from_wandb_args(runs, ["--config=configs/listops.py:paper", "--config.seed=9"])


def test_local_runner_never_starts_a_run_that_a_live_train_py_holds(tmp_path, fake_train):
  from lra.train import workdir as workdir_lib
  runs = sweep.expand(str(tmp_path / "runs"), tasks=["listops"], seeds=[0, 1], rows=[sweep.Row("diag", "glorot")])
  os.makedirs(runs[0].workdir)
  lock = workdir_lib.RunLock(runs[0].workdir)  # as a train.py of another runner (or a SLURM task) holds it
  lock.acquire()
  try:
    assert sweep.run_status(runs[0].workdir) == "running"
    lines = []
    counts = sweep.run_sequentially(runs, program=shlex.split(fake_train), repo_dir=REPO, echo=lines.append)
  finally:
    lock.release()
  assert counts == {"skipped": 1, "ran": 1, "failed": 0, "stopped": 0}
  assert "running, skipped" in lines[0]
  assert not os.path.exists(os.path.join(runs[0].workdir, "launches.txt"))
  assert sweep.run_status(runs[0].workdir) == "partial"  # the lock is free again: resumable


def test_a_run_another_runner_has_claimed_is_skipped(tmp_path, fake_train):
  from lra.train import workdir as workdir_lib
  runs = sweep.expand(str(tmp_path / "runs"), tasks=["listops"], seeds=[0, 1], rows=[sweep.Row("diag", "glorot")])
  held = sweep.claim(runs[0].workdir)  # as another runner holds it between its check and its train.py's lock
  assert held is not None and sweep.claim(runs[0].workdir) is None
  assert sweep.run_status(runs[0].workdir) == "new"  # the claim file alone is not a started run
  lines = []
  try:
    counts = sweep.run_sequentially(runs, program=shlex.split(fake_train), repo_dir=REPO, echo=lines.append)
  finally:
    held.release()
  assert counts == {"skipped": 1, "ran": 1, "failed": 0, "stopped": 0}
  assert lines[0].endswith("diag-glorot/seed0: running, skipped")
  assert not os.path.exists(os.path.join(runs[0].workdir, "launches.txt"))
  assert os.path.exists(os.path.join(runs[0].workdir, workdir_lib.CLAIM_NAME))
  again = sweep.claim(runs[1].workdir)  # a finished runner leaves no claim held
  assert again is not None
  again.release()


def test_an_array_task_skips_a_run_another_runner_has_claimed(tmp_path, fake_train, capsys):
  run = sweep.expand(str(tmp_path / "runs"), tasks=["listops"], seeds=[0], rows=[sweep.Row("diag", "glorot")])[0]
  manifest = {"program": shlex.split(fake_train), "repo_dir": REPO}
  held = sweep.claim(run.workdir)
  try:
    assert sweep.run_entry(run, manifest) == 0
  finally:
    held.release()
  assert "another runner is launching this run, skipped" in capsys.readouterr().out
  assert not os.path.exists(os.path.join(run.workdir, "launches.txt"))
  assert sweep.run_entry(run, manifest) == 0 and sweep.run_status(run.workdir) == "finished"


def test_two_runners_on_one_root_launch_each_run_once(tmp_path, fake_train):
  root = tmp_path / "runs"
  grid = ["--root", str(root), "--tasks", "listops", "--seeds", "0,1,2", "--axis", "model.recurrence=diag",
          "--axis", "model.init=glorot,glorot_half", "--program", fake_train]
  env = dict(os.environ, FAKE_SLEEP="0.3")  # a window between a launch and its first file, as train.py's imports
  runners = [subprocess.Popen([sys.executable, SWEEP_PY, *grid], cwd=REPO, stdout=subprocess.PIPE, text=True,
                              env=env) for _ in range(2)]
  outs = [r.communicate(timeout=120)[0] for r in runners]
  assert [r.returncode for r in runners] == [0, 0], outs
  launches = sorted(root.glob("listops/*/seed*/launches.txt"))
  assert len(launches) == 6 and all(len(p.read_text().splitlines()) == 1 for p in launches), outs
  assert sum(out.count(": starting") for out in outs) == 6 and all(", 0 failed" in out for out in outs), outs


def test_a_signal_to_the_local_runner_stops_its_run_and_the_sweep(tmp_path, fake_train):
  root = tmp_path / "runs"
  grid = ["--root", str(root), "--tasks", "listops", "--seeds", "0,1", "--axis", "model.recurrence=diag",
          "--axis", "model.init=glorot", "--program", fake_train]
  first = root / "listops" / "diag-glorot" / "seed0"
  runner = subprocess.Popen([sys.executable, SWEEP_PY, *grid], cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, FAKE_PREEMPT_WORKDIR=str(first)))
  deadline = time.monotonic() + 60
  while not (first / "waiting").exists():
    assert runner.poll() is None and time.monotonic() < deadline, "the runner never started its first run"
    time.sleep(0.05)
  runner.send_signal(signal.SIGTERM)
  out, _ = runner.communicate(timeout=60)
  assert runner.returncode == 75, out
  assert (first / "signalled").read_text() == "SIGTERM" and "1 stopped by a signal" in out
  assert not (root / "listops" / "diag-glorot" / "seed1").exists()  # the next run was not started
  again = _sweep(*grid, env={"FAKE_PREEMPT_WORKDIR": str(first)}).stdout
  assert "diag-glorot/seed0: resuming" in again and "done: 2 ran" in again


def test_a_run_killed_by_the_signal_passed_on_counts_as_stopped_not_failed(tmp_path, fake_train):
  # A signal that reaches train.py before it catches signals (at its start) kills it: resumable, so exit 75.
  root = tmp_path / "runs"
  grid = ["--root", str(root), "--tasks", "listops", "--seeds", "0", "--axis", "model.recurrence=diag",
          "--axis", "model.init=glorot", "--program", fake_train]
  workdir = root / "listops" / "diag-glorot" / "seed0"
  runner = subprocess.Popen([sys.executable, SWEEP_PY, *grid], cwd=REPO, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, FAKE_HANG_WORKDIR=str(workdir)))
  deadline = time.monotonic() + 60
  while not (workdir / "hung").exists():
    assert runner.poll() is None and time.monotonic() < deadline, "the runner never started its run"
    time.sleep(0.05)
  runner.send_signal(signal.SIGUSR1)
  out, _ = runner.communicate(timeout=60)
  assert runner.returncode == 75 and "exit 75" in out and "1 stopped by a signal" in out, out


def test_local_runner_skips_done_and_resumes_killed_runs(tmp_path, fake_train):
  root = tmp_path / "runs"
  grid = ["--root", str(root), "--tasks", "listops,scifar", "--seeds", "0,1", "--preset", "cpu",
          "--axis", "model.recurrence=dense", "--axis", "model.init=glorot,rescaled_glorot", "--program", fake_train]
  env = dict(FAKE_HANG_WORKDIR=str(root / "listops" / "dense-glorot" / "seed1"), FAKE_DIVERGE_INIT="glorot")
  # The first sweep hangs in its second run: kill the runner and its train.py mid-run.
  proc = subprocess.Popen([sys.executable, SWEEP_PY, *grid], cwd=REPO, env=dict(os.environ, **env),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
  hung = root / "listops" / "dense-glorot" / "seed1" / "hung"
  deadline = time.monotonic() + 60
  while not hung.exists() and time.monotonic() < deadline and proc.poll() is None:
    time.sleep(0.05)
  os.killpg(proc.pid, signal.SIGKILL)
  proc.wait()
  assert hung.exists()
  runs, _ = sweep.load_manifest(str(root / "sweep_local.json"))
  assert [sweep.run_status(r.workdir) for r in runs[:3]] == ["diverged", "partial", "new"]

  out = _sweep(*grid, env=env).stdout
  assert "listops/dense-glorot/seed0: diverged, skipped" in out
  assert "listops/dense-glorot/seed1: resuming" in out
  assert "done: 7 ran, 1 skipped (done, or running elsewhere), 0 failed" in out
  assert all(sweep.is_done(sweep.run_status(r.workdir)) for r in runs)
  journal = [json.loads(line) for line in (root / "sweep_journal.jsonl").read_text().splitlines()]
  # The killed sweep journaled run 0 only; the second one the other 7, starting with the resumed run.
  assert [j["before"] for j in journal][:3] == ["new", "partial", "new"] and len(journal) == 8
  assert "done: 0 ran, 8 skipped" in _sweep(*grid).stdout  # a finished sweep does nothing

  table = subprocess.run([sys.executable, TABLE1_PY, "--root", str(root)], capture_output=True, text=True, cwd=REPO)
  assert table.returncode == 0, table.stderr
  lines = {line.split(" | ")[0].lstrip("| "): line for line in table.stdout.splitlines() if line.startswith("| ")}
  assert set(lines) == {"Model", "Dense, Glorot", "Dense, rescaled Glorot"}
  assert lines["Dense, Glorot"].count("– (2/2 div., step 3)") == 2  # the fake train.py diverges at step 3
  assert lines["Dense, rescaled Glorot"].count("50.50 ± 0.50") == 2
  assert "missing" not in table.stdout


# The real train.py on tiny generated ListOps (paper config file, everything small through overrides).
TINY_OVERRIDES = ("model.n_layers=1", "model.d_model=8", "model.d_hidden=8", "train.batch_size=8",
                  "train.max_steps=40", "train.ckpt_every_steps=10", "train.log_every_steps=10",
                  "optim.warmup_epochs=0.1", "data.max_length=64", "data.listops.num_train=256",
                  "data.listops.num_val=32", "data.listops.num_test=32", "data.listops.min_tokens=10",
                  "data.listops.max_tokens=60", "data.listops.max_depth=3")


@pytest.mark.slow
def test_real_train_py_sweep_killed_mid_run_resumes_to_a_complete_table(tmp_path):
  root = tmp_path / "runs"
  grid = ["--root", str(root), "--tasks", "listops", "--seeds", "0", "--axis", "model.recurrence=dense,diag",
          "--axis", "model.init=glorot_half", "--program", f"{shlex.quote(sys.executable)} train.py",
          "--override", f"data.cache_dir={tmp_path / 'cache'}"] + [a for o in TINY_OVERRIDES for a in ("--override", o)]
  env = dict(os.environ, WANDB_MODE="disabled", JAX_PLATFORMS="cpu")
  proc = subprocess.Popen([sys.executable, SWEEP_PY, *grid], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
  first = root / "listops" / "dense-glorot_half" / "seed0"
  deadline = time.monotonic() + 240
  try:  # Kill the sweep (runner and train.py) once the first run has a checkpoint at step 10 or later.
    while time.monotonic() < deadline and proc.poll() is None:
      steps_saved = [int(p.name) for p in (first / "checkpoints" / "latest").glob("*") if p.name.isdigit()]
      if steps_saved and max(steps_saved) >= 10:
        break
      time.sleep(0.05)
  finally:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
  while sweep.run_status(str(first)) == "running":  # the killed train.py's lock goes with its last exit step
    assert time.monotonic() < deadline + 30, "the killed run's lock was never released"
    time.sleep(0.05)
  assert sweep.run_status(str(first)) == "partial", (first / "sweep.log").read_text()

  out = _sweep(*grid, env=env).stdout
  assert "listops/dense-glorot_half/seed0: resuming" in out and "0 failed" in out, out
  assert "resuming at step" in (first / "sweep.log").read_text()
  runs, _ = sweep.load_manifest(str(root / "sweep_local.json"))
  results = [sweep.read_results(r.workdir) for r in runs]
  assert all(r["finished"] and not r["diverged"] and r["steps"] == 40 for r in results), results

  table = subprocess.run([sys.executable, TABLE1_PY, "--root", str(root)], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
  assert table.returncode == 0, table.stderr
  for r in results:
    title = {"dense": "Dense, Glorot/2", "diag": "Diagonal, Glorot/2"}[r["recurrence"]]
    assert f"| {title} | {100 * r['test_metric']:.2f} ± 0.00 |" in table.stdout, table.stdout
  assert "missing" not in table.stdout

