"""Path-X (LRA: Pathfinder at 128 x 128, hard contours, 16,384 pixels row by row, 2 classes); the peers'
paper-scale settings, and a `:cpu` preset on a few generated images.

  python train.py --config configs/pathx.py --workdir runs/pathx                   # paper scale, 200k generated
  python train.py --config configs/pathx.py:resolution=256 --workdir runs/pathx256  # 65,536 pixels
  python train.py --config configs/pathx.py --config.data.pathfinder.source=raw \
      --config.data.pathfinder.raw_dir=lra_release/lra_release/pathfinder128       # the official PNGs (inner copy)
  python train.py --config configs/pathx.py:cpu --workdir runs/pathx_cpu            # 200 images, a few minutes
      # on 2 CPU cores shared with other jobs (load ~25): 1.7 min to generate, 20 steps of 16,384 in 4 min; at
      # chance (a smoke test of the length, not a result)

Settings: S5's Path-X run (6 layers, d_model 128, state 256, bidirectional, batch 32, 75 epochs, no dropout,
weight decay 0.06, SSM lr 6e-4 and the other parameters 3x that): lr 1.8e-3 and lr_factor 1/3 here, for the
reasons in configs/pathfinder.py; LRU runs use the ring r_min 0.999, r_max 0.9999, max_phase pi / 10.
The `:cpu` preset keeps the 16,384 steps (the point of the task) and shrinks everything else.
"""

from configs import common
from configs import pathfinder


def get_config(arg: str = "paper"):
  arg = common.parse_arg(arg, preset="paper", recurrence="diag", resolution=128)
  c = common.base_config("pathx", arg)
  pathfinder.paper(c, arg, d_model=128, lr=1.8e-3, lr_factor=1 / 3, weight_decay=0.06, dropout=0.0,
                   batch_size=32, epochs=75)
  if arg.preset == "cpu":  # 200 generated images (160 train), one epoch of 20 steps at batch 8, one direction
    common.shrink_for_cpu(c, epochs=1, warmup_epochs=0.2, log_every_steps=5, ckpt_every_steps=100)
    c.train.batch_size = 8
    c.model.bidirectional = False
  return c
