"""Numpy batches of a Split: reshuffled per epoch from the seed, resumable, padded to a fixed shape, prefetched.

    batches = Batches(split, 32, seed=0, shuffle=True, drop_last=True)
    for batch in batches.epoch(3, start_step=10):   # exactly batches 10.. of epoch 3
      ...  # batch = {"inputs": (B, L) int32 or (B, L, C) float32, "lengths": (B,) int32, "labels": (B,) int32,
           #          "weights": (B,) float32, 1 for real examples and 0 for padding rows}
           # A pair task (retrieval) has inputs (B, 2, L) and lengths (B, 2): rows are indexed on axis 0 only.

The order of epoch e is `np.random.default_rng([seed, e]).permutation(N)` (or 0..N-1 without shuffling), so it
depends on nothing but (seed, e). With drop_last=False the last batch is filled up to the full batch size with
copies of real examples at weight 0, so every batch has the same shape and a jitted step compiles once.
Batches are built on a background thread into a bounded queue; leaving the loop early (break, an exception,
garbage collection of the generator) stops and joins the thread.
"""

import queue
import threading

import numpy as np

from lra.tasks import data

_END = object()


class Batches:
  """Epochs of fixed-shape numpy batches over `split`.

  Attributes:
    split: the data (`lra.tasks.data.Split`).
    batch_size: examples a batch.
    seed: the shuffling seed.
    shuffle: reshuffle each epoch (training) or keep the split's order (evaluation).
    drop_last: drop the incomplete last batch (training) or pad it with weight-0 rows (evaluation).
    prefetch: batches built ahead on a background thread; 0 builds them in the consumer's thread.
  """

  def __init__(self, split: data.Split, batch_size: int, *, seed: int, shuffle: bool, drop_last: bool,
               prefetch: int = 2):
    if batch_size < 1:
      raise ValueError(f"batch_size={batch_size} must be >= 1")
    if prefetch < 0:
      raise ValueError(f"prefetch={prefetch} must be >= 0")
    if len(split) == 0:
      raise ValueError("Batches: the split has no examples")
    self.split = split
    self.batch_size = int(batch_size)
    self.seed = int(seed)
    self.shuffle = bool(shuffle)
    self.drop_last = bool(drop_last)
    self.prefetch = int(prefetch)

  def __len__(self) -> int:
    """Batches an epoch."""
    n = len(self.split)
    return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

  def order(self, epoch: int) -> np.ndarray:
    """The example order of `epoch`: a permutation seeded by (seed, epoch), or 0..N-1."""
    n = len(self.split)
    if not self.shuffle:
      return np.arange(n)
    return np.random.default_rng([self.seed, int(epoch)]).permutation(n)

  def batch(self, order: np.ndarray, step: int) -> dict:
    """Batch `step` of an epoch with example order `order`."""
    indices = order[step * self.batch_size:(step + 1) * self.batch_size]
    num_real = len(indices)
    weights = np.ones(self.batch_size, np.float32)
    if num_real < self.batch_size:  # only the last batch of a drop_last=False epoch
      fill = np.resize(order, self.batch_size - num_real)  # real examples (finite outputs), weighted 0
      indices = np.concatenate([indices, fill])
      weights[num_real:] = 0.0
    return {"inputs": self.split.model_inputs(indices), "lengths": self.split.lengths[indices],
            "labels": self.split.labels[indices], "weights": weights}

  def epoch(self, epoch: int, start_step: int = 0):
    """Yields batches start_step, start_step + 1, ... of `epoch` (the same batches as an uninterrupted epoch)."""
    num_steps = len(self)
    if not 0 <= start_step <= num_steps:
      raise ValueError(f"start_step={start_step} must be in [0, {num_steps}] (batches an epoch)")
    order = self.order(epoch)
    if self.prefetch == 0:
      for step in range(start_step, num_steps):
        yield self.batch(order, step)
      return
    yield from self._prefetched(order, start_step, num_steps)

  def _prefetched(self, order: np.ndarray, start_step: int, num_steps: int):
    batches: queue.Queue = queue.Queue(maxsize=self.prefetch)
    stop = threading.Event()

    def put(item) -> bool:
      while not stop.is_set():
        try:
          batches.put(item, timeout=0.1)
          return True
        except queue.Full:
          continue
      return False

    def produce():
      try:
        for step in range(start_step, num_steps):
          if not put(self.batch(order, step)):
            return
        put(_END)
      except BaseException as e:  # noqa: BLE001 - handed to the consumer, which re-raises it.
        put(e)

    worker = threading.Thread(target=produce, name="lra-batches", daemon=True)
    worker.start()
    try:
      while True:
        item = batches.get()
        if item is _END:
          return
        if isinstance(item, BaseException):
          raise item
        yield item
    finally:
      stop.set()
      worker.join()
