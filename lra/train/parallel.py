"""Data parallelism with jax.sharding: the batch is split over all devices, parameters are replicated.

Single host: every visible device (`XLA_FLAGS=--xla_force_host_platform_device_count=4` gives 4 on a CPU).
Multi-host (SLURM, several GPUs per node): set `config.distributed=True`; `jax.distributed.initialize()` reads
the cluster from SLURM's environment, each process builds the same global batch from the seed and puts its own
rows on its local devices.
"""

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec

AXIS = "data"


def maybe_initialize_distributed(enabled: bool):
  """`jax.distributed.initialize()` (the cluster from SLURM's or another launcher's environment) when `enabled`.

  It must come before anything that starts a JAX backend, `jax.process_count()` included, so it is the first
  thing a run does.
  """
  if enabled and not jax.distributed.is_initialized():
    jax.distributed.initialize()


def is_main_process() -> bool:
  """Whether this process writes the run's files, logs and progress bar (process 0 of a multi-process run)."""
  return jax.process_index() == 0


def make_mesh() -> jax.sharding.Mesh:
  # Auto axes: the model code is written for one device and XLA partitions it (jax >= 0.7 defaults to
  # Explicit axes, under which every gather in the model would need an out_sharding).
  return jax.make_mesh((jax.device_count(),), (AXIS,), axis_types=(jax.sharding.AxisType.Auto,))


def check_batch_size(batch_size: int, mesh) -> None:
  n = mesh.devices.size
  if batch_size % n:
    raise ValueError(
        f"config.train.batch_size={batch_size} does not divide over the {n} devices; use a multiple of {n} "
        f"(e.g. --config.train.batch_size={max(n, batch_size // n * n)})")


def replicated(mesh) -> NamedSharding:
  """The sharding of an array every device holds whole."""
  return NamedSharding(mesh, PartitionSpec())


def replicate(tree, mesh):
  return jax.device_put(tree, replicated(mesh))


def shard_batch(batch: dict, mesh) -> dict:
  """Global numpy batch -> arrays sharded on the leading axis; each process contributes its own rows."""
  sharding = NamedSharding(mesh, PartitionSpec(AXIS))
  n_proc, proc = jax.process_count(), jax.process_index()

  def put(x):
    x = np.asarray(x)
    rows = x.shape[0] // n_proc
    local = x[proc * rows:(proc + 1) * rows]
    return jax.make_array_from_process_local_data(sharding, local, x.shape)

  return {k: put(v) for k, v in batch.items()}
