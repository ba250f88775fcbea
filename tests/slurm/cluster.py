"""A private one-node SLURM cluster (munged, slurmctld, slurmd) in a folder, for tests against the real scheduler.

Everything lives under the folder: the munge key and socket, slurm.conf, state, spool, pid files and logs; the
daemons listen on localhost ports picked free at start. `Cluster.start()` returns once `sinfo` shows the node
idle; `stop()` ends the daemons by the PIDs in their pid files and waits until each has left the process table
or become a zombie (the container's PID 1 reaps slowly, so `kill -0` would still see an exited daemon).
"""

import contextlib
import fcntl
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time

DAEMONS = ("slurmctld", "slurmd", "munged")  # stopped in this order
PACKAGES = "slurmctld slurmd slurm-client munge"
PROGRAMS = ("munged", "munge", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "srun", "sinfo")
STATE_TIMEOUT_S = 300  # a generous bound on any wait for the scheduler; waits end as soon as the state is reached


def shared_dir(base) -> str:
  """The folder every xdist worker of the session shares (their base temp folders' parent), or `base`."""
  return str(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)


@contextlib.contextmanager
def locked(path: str):
  """Holds an exclusive file lock on `path` (shared by the xdist workers)."""
  with open(path, "a+") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f, fcntl.LOCK_UN)


def missing_programs(path: str | None = None) -> list[str]:
  """The programs of the cluster that are not on `path` (default PATH) or in /usr/sbin (Debian's daemons)."""
  path = (os.environ.get("PATH", "") if path is None else path) + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
  return [p for p in PROGRAMS if shutil.which(p, path=path) is None]


def unavailable_reason(missing: list[str], euid: int) -> str | None:
  """Why the cluster cannot start here, in one line naming the fix, or None."""
  if missing:
    return f"SLURM is not installed (no {', '.join(missing)}): apt-get install -y --no-install-recommends {PACKAGES}"
  if euid != 0:
    return "the slurm tests start slurmd, which runs jobs as root: run them as root (e.g. in a container)"
  return None


def skip_or_fail(reason: str, environ=os.environ) -> None:
  """Skips the test with `reason`; under CI=true fails it instead (CI must run the slurm tests)."""
  import pytest
  if environ.get("CI", "").lower() == "true":
    pytest.fail(f"CI=true and {reason}", pytrace=False)
  pytest.skip(reason)


def _which(program: str) -> str:
  path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
  return shutil.which(program, path=path) or program


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _mem_mb() -> int:
  with open("/proc/meminfo") as f:
    return int(f.readline().split()[1]) // 1024


def pid_alive(pid: int) -> bool:
  """Whether `pid` is a live process: present in /proc and not a zombie (or dead) waiting to be reaped."""
  try:
    with open(f"/proc/{pid}/stat") as f:
      state = f.read().rsplit(")", 1)[1].split()[0]
  except (FileNotFoundError, ProcessLookupError, IndexError):
    return False
  return state not in ("Z", "X", "x")


def wait_until(predicate, what: str, timeout: float = STATE_TIMEOUT_S, poll_s: float = 0.2, on_timeout=None):
  """Polls `predicate` until it returns a true value (returned); AssertionError naming `what` after `timeout`."""
  deadline = time.monotonic() + timeout
  while True:
    value = predicate()
    if value:
      return value
    if time.monotonic() > deadline:
      detail = on_timeout() if on_timeout else ""
      raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{detail}")
    time.sleep(poll_s)


class Cluster:
  """One node named after this host, at 127.0.0.1, `cpus` CPUs, one default partition `debug`."""

  def __init__(self, folder: str, cpus: int = 2):
    self.folder = os.path.abspath(folder)
    self.cpus = cpus
    self.node = socket.gethostname()
    self.conf = os.path.join(self.folder, "slurm.conf")
    self.munge_socket = os.path.join(self.folder, "munge", "munge.socket")
    self.env = dict(os.environ, SLURM_CONF=self.conf)
    for key in [k for k in self.env if k.startswith("SLURM_") and k != "SLURM_CONF"]:
      del self.env[key]  # a test run inside a SLURM job must not leak that job's variables into ours

  def pid_file(self, daemon: str) -> str:
    return os.path.join(self.folder, "run", f"{daemon}.pid")

  def log_file(self, daemon: str) -> str:
    return os.path.join(self.folder, "log", f"{daemon}.log")

  def _write_config(self) -> None:
    for sub in ("munge", "run", "log", "state", "spool"):
      os.makedirs(os.path.join(self.folder, sub), exist_ok=True)
    os.chmod(os.path.join(self.folder, "munge"), 0o755)  # munged wants its socket's folder searchable
    key = os.path.join(self.folder, "munge", "munge.key")
    with open(key, "wb") as f:
      f.write(os.urandom(128))
    os.chmod(key, 0o600)
    d = self.folder
    lines = [
        "ClusterName=glorot-lra-test",
        f"SlurmctldHost={self.node}(127.0.0.1)",
        f"SlurmctldPort={_free_port()}",
        f"SlurmdPort={_free_port()}",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        # cred_expire: a requeued job waits this long for its old credential to expire (default 120 s).
        f"AuthInfo=socket={self.munge_socket},cred_expire=5",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU",
        "AccountingStorageType=accounting_storage/none",
        "JobAcctGatherType=jobacct_gather/none",
        "JobCompType=jobcomp/none",
        "MpiDefault=none",
        "ReturnToService=2",
        "JobRequeue=1",
        # A TERM'd train.py first finishes its step and checkpoint, slower on a loaded machine; it exits when done.
        "KillWait=30",
        "MinJobAge=300",
        # Schedule at once (the default waits for the 60 s scheduling pass): a requeued task reruns in seconds.
        "SchedulerParameters=batch_sched_delay=0,bf_interval=1,sched_interval=2",
        f"StateSaveLocation={d}/state",
        f"SlurmdSpoolDir={d}/spool",
        f"SlurmctldPidFile={self.pid_file('slurmctld')}",
        f"SlurmdPidFile={self.pid_file('slurmd')}",
        f"SlurmctldLogFile={self.log_file('slurmctld')}",
        f"SlurmdLogFile={self.log_file('slurmd')}",
        "SlurmctldDebug=info",
        "SlurmdDebug=info",
        # More CPUs than the machine's when asked (config_overrides): jobs that mostly wait share the cores.
        "SlurmdParameters=config_overrides",
        f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={_mem_mb()} State=UNKNOWN",
        f"PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
    ]
    with open(self.conf, "w") as f:
      f.write("\n".join(lines) + "\n")

  def start(self) -> "Cluster":
    """Writes the config and starts munged, slurmctld and slurmd; returns once the node is idle."""
    self._write_config()
    try:
      self._daemon("munged", [_which("munged"), "--force", f"--key-file={self.folder}/munge/munge.key",
                              f"--socket={self.munge_socket}", f"--pid-file={self.pid_file('munged')}",
                              f"--log-file={self.log_file('munged')}", f"--seed-file={self.folder}/munge/seed"])
      self._daemon("slurmctld", [_which("slurmctld"), "-f", self.conf, "-c"])
      self._daemon("slurmd", [_which("slurmd"), "-f", self.conf, "-N", self.node])
      wait_until(lambda: self.run("sinfo", "-h", "-N", "-o", "%t", check=False).stdout.strip() == "idle",
                 "the node to be idle", timeout=60, on_timeout=self.logs)
    except BaseException:
      self.stop()
      raise
    return self

  def _daemon(self, name: str, argv: list[str]) -> None:
    proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
      raise RuntimeError(f"{name} did not start ({proc.returncode}): {proc.stderr.strip()}\n{self.logs()}")
    wait_until(lambda: self._pid(name), f"{name}'s pid file", timeout=30, on_timeout=self.logs)

  def _pid(self, daemon: str) -> int | None:
    try:
      with open(self.pid_file(daemon)) as f:
        pid = int(f.read().strip())
    except (FileNotFoundError, ValueError):
      return None
    return pid if pid_alive(pid) else None

  def live_daemons(self) -> dict[str, int]:
    return {name: pid for name in DAEMONS if (pid := self._pid(name))}

  def stop(self) -> None:
    """Ends every job, then the daemons by PID; waits until none is alive (SIGKILL after 15 s)."""
    jobs = self.job_ids() if self._pid("slurmctld") else []
    if jobs:
      self.run("scancel", "--full", "--quiet", *jobs, check=False)
    self._kill_leftover_job_processes()  # the jobs and their slurmstepd, at once: slurmd would wait for them
    for name in DAEMONS:
      pid = self._pid(name)
      if pid is None:
        continue
      os.kill(pid, signal.SIGTERM)
      try:
        wait_until(lambda: not pid_alive(pid), f"{name} ({pid}) to exit", timeout=15)
      except AssertionError:
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(pid), f"{name} ({pid}) to die", timeout=15)
    self._kill_leftover_job_processes(spare_daemons=False)

  def processes(self) -> list[int]:
    """The live processes whose SLURM_CONF is ours: the daemons' helpers, the jobs, their slurmstepd, clients."""
    mine, pids = f"SLURM_CONF={self.conf}".encode(), []
    for entry in os.listdir("/proc"):
      if not entry.isdigit() or int(entry) == os.getpid():
        continue
      try:
        with open(f"/proc/{entry}/environ", "rb") as f:
          if mine in f.read().split(b"\0") and pid_alive(int(entry)):
            pids.append(int(entry))
      except (FileNotFoundError, ProcessLookupError, PermissionError):
        continue
    return pids

  def _kill_leftover_job_processes(self, spare_daemons: bool = True) -> None:
    """SIGKILLs `processes()`, but for the daemons and slurmctld's slurmscriptd (which it waits for on exit) when
    `spare_daemons`."""
    for pid in self.processes():
      try:
        with open(f"/proc/{pid}/comm") as f:
          if not spare_daemons or f.read().strip() not in (*DAEMONS, "slurmscriptd"):
            os.kill(pid, signal.SIGKILL)
      except (FileNotFoundError, ProcessLookupError):
        continue

  def logs(self) -> str:
    parts = []
    for name in DAEMONS:
      try:
        with open(self.log_file(name)) as f:
          parts.append(f"--- {name} log (tail) ---\n" + "".join(f.readlines()[-30:]))
      except FileNotFoundError:
        pass
    return "\n".join(parts)

  def run(self, *argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    """Runs a SLURM client (sbatch, squeue, scontrol, ...) against this cluster."""
    proc = subprocess.run([_which(argv[0]), *argv[1:]], env=self.env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
      raise AssertionError(f"{shlex.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc

  def job_ids(self) -> list[str]:
    return self.run("squeue", "-h", "-o", "%i", check=False).stdout.split()

  def jobs(self, job_id: str) -> dict[str, dict[str, str]]:
    """The jobs of an array (or one job), as {"<array job>_<task>" or "<job>": scontrol's fields}; completed
    jobs stay listed for MinJobAge seconds."""
    out = self.run("scontrol", "-o", "show", "job", job_id, check=False).stdout
    jobs = {}
    for line in out.splitlines():
      fields = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
      if not fields:
        continue
      task = fields.get("ArrayTaskId")
      key = f"{fields['ArrayJobId']}_{task}" if task and task != "(null)" else fields["JobId"]
      jobs[key] = fields
    return jobs

  def states(self, job_id: str) -> dict[str, str]:
    return {key: fields["JobState"] for key, fields in self.jobs(job_id).items()}

