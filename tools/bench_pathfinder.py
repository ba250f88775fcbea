"""The measurement of `python scripts/bench_pathfinder.py`: images per second of the Pathfinder generator."""

import os
import time

from lra.tasks import pathfinder_gen as gen

TOTAL = 200_000   # images in LRA's Pathfinder-32 and Path-X sets


def measure(resolution: int, num: int, workers: int, serial: int) -> dict:
  law = gen.law(resolution, "hard")
  start = time.perf_counter()
  gen.generate(law, 0, num, workers=workers, progress=False)
  wall = time.perf_counter() - start
  cpu_start = time.process_time()
  for index in range(serial):
    gen.sample(law, 1, index)
  cpu = (time.process_time() - cpu_start) / serial
  return {"rate": num / wall, "cpu": cpu, "load": os.getloadavg()[0]}
