"""The `slurm_cluster` fixture: one private one-node SLURM cluster for the whole test session, all xdist workers.

The first worker that needs it starts it in `<base temp>/slurm` (the folder every worker shares) under a file
lock, and records itself as a user; each worker removes itself at its session's end, and the last one stops the
daemons (tests/conftest.py's session-finish hook stops any left by a worker that crashed). Without SLURM the
tests skip with a line naming the packages, or fail under CI=true.
"""

import json
import os

import pytest

from tests.slurm import cluster as cluster_lib

CPUS = 4  # jobs that mostly wait on the scheduler share the 2 cores (see cluster.py)


def _read_users(path: str) -> list[str]:
  try:
    with open(path) as f:
      return json.load(f)
  except (FileNotFoundError, json.JSONDecodeError):
    return []


def _write_users(path: str, users: list[str]) -> None:
  with open(path, "w") as f:
    json.dump(users, f)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
  """A started `Cluster` (tests/slurm/cluster.py), shared by every test and worker of the session."""
  reason = cluster_lib.unavailable_reason(cluster_lib.missing_programs(), os.geteuid())
  if reason:
    cluster_lib.skip_or_fail(reason)
  shared = os.path.join(cluster_lib.shared_dir(tmp_path_factory.getbasetemp()), "slurm")
  os.makedirs(shared, exist_ok=True)
  lock, users_file = os.path.join(shared, "lock"), os.path.join(shared, "users.json")
  me = os.environ.get("PYTEST_XDIST_WORKER", "main")
  cluster = cluster_lib.Cluster(os.path.join(shared, "cluster"), cpus=CPUS)
  with cluster_lib.locked(lock):
    users = _read_users(users_file)
    if len(cluster.live_daemons()) < len(cluster_lib.DAEMONS):
      cluster.stop()  # what is left of a cluster whose users have gone
      cluster.start()
      users = []
    _write_users(users_file, users + [me])
  try:
    yield cluster
  finally:
    with cluster_lib.locked(lock):
      users = [u for u in _read_users(users_file) if u != me]
      _write_users(users_file, users)
      if not users:
        cluster.stop()

