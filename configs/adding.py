"""The adding problem: a value and a marker channel; the target is the sum of the two marked values (MSE).

  python train.py --config configs/adding.py --workdir runs/adding          # default: length 1000, 4 layers
  python train.py --config configs/adding.py:cpu --workdir runs/adding_cpu  # length 128, 2 layers, d_model 64

The constant predictor's MSE (about 1/6) is the baseline (results.json); docs/table2_cpu.md records the runs.
"""

from configs import common


def get_config(arg: str = "paper"):
  arg = common.parse_arg(arg, preset="paper", recurrence="diag")
  c = common.base_config("adding", arg)
  c.model.update(d_model=128, d_hidden=192, n_layers=4, dropout=0.0, pooling="last")
  c.optim.update(lr=1e-3, lr_factor=0.25, weight_decay=0.0, warmup_epochs=1.0)
  c.train.update(batch_size=64, epochs=30)
  if arg.preset == "cpu":  # an epoch is 100 steps at batch 64: 500 steps (timed in docs/table2_cpu.md)
    common.shrink_generated_for_cpu(c, epochs=5)
  return c
