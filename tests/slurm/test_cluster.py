"""Tests of the slurm tests' own set-up that need no SLURM: the skip / fail rule and the liveness check."""

import os
import subprocess
import sys

import pytest

from tests.slurm import cluster as cluster_lib


def test_without_slurm_a_user_gets_a_skip_naming_the_packages_and_ci_a_failure(tmp_path):
  missing = cluster_lib.missing_programs(path=str(tmp_path))  # an empty folder: only /usr/sbin is searched too
  assert {"sbatch", "squeue", "scontrol", "munge"} <= set(missing)
  reason = cluster_lib.unavailable_reason(missing, euid=0)
  assert reason.endswith("apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge")
  assert "\n" not in reason and "sbatch" in reason
  with pytest.raises(pytest.skip.Exception, match="SLURM is not installed"):
    cluster_lib.skip_or_fail(reason, environ={})
  with pytest.raises(pytest.fail.Exception, match="CI=true and SLURM is not installed"):
    cluster_lib.skip_or_fail(reason, environ={"CI": "true"})
  assert "as root" in cluster_lib.unavailable_reason([], euid=1000)
  assert cluster_lib.unavailable_reason([], euid=0) is None


def test_an_exited_process_is_dead_though_its_zombie_is_still_listed():
  proc = subprocess.Popen([sys.executable, "-c", "pass"])
  cluster_lib.wait_until(lambda: open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z",
                         "the child to exit", timeout=60, poll_s=0.01)
  os.kill(proc.pid, 0)  # kill -0 still finds the zombie ...
  assert not cluster_lib.pid_alive(proc.pid)  # ... which is not alive
  assert cluster_lib.pid_alive(os.getpid())
  proc.wait()
  assert not cluster_lib.pid_alive(proc.pid)


@pytest.mark.slurm
def test_stop_leaves_no_daemon_and_no_job_process_behind(tmp_path):
  reason = cluster_lib.unavailable_reason(cluster_lib.missing_programs(), os.geteuid())
  if reason:
    cluster_lib.skip_or_fail(reason)
  cluster = cluster_lib.Cluster(str(tmp_path / "cluster"), cpus=1).start()
  try:
    daemons = cluster.live_daemons()
    assert set(daemons) == set(cluster_lib.DAEMONS)
    script = tmp_path / "job.sh"  # a job that ignores SIGTERM, as a stuck run would
    script.write_text(f"#!/bin/bash\n#SBATCH --output={tmp_path}/job.out\ntrap '' TERM\necho $$ > {tmp_path}/pid\n"
                      "sleep 300\n")
    job_id = cluster.run("sbatch", "--parsable", str(script)).stdout.strip()
    cluster_lib.wait_until(lambda: (tmp_path / "pid").exists() and cluster.states(job_id).get(job_id) == "RUNNING",
                           "the job to run")
    job_pid = int((tmp_path / "pid").read_text())
  finally:
    cluster.stop()
  assert cluster.live_daemons() == {}
  assert not any(cluster_lib.pid_alive(pid) for pid in [*daemons.values(), job_pid])
  assert cluster.processes() == []  # its sleep and slurmstepd too
