"""Copying memory: K = 10 symbols of 8, a long run of blanks, a delimiter, then the K symbols to reproduce.

  python train.py --config configs/copy.py --workdir runs/copy          # default: 1000 blanks, 4 layers, n 192
  python train.py --config configs/copy.py:cpu --workdir runs/copy_cpu  # 200 blanks, 2 layers, d_model 64
  python train.py --config configs/copy.py:cpu --config.model.init=diag_uniform

Loss and accuracy on the K output positions only (per-symbol and whole-sequence); chance 1/8 per symbol.
docs/table2_cpu.md records the `:cpu` runs of every initializer.
"""

from configs import common


def get_config(arg: str = "paper"):
  arg = common.parse_arg(arg, preset="paper", recurrence="diag")
  c = common.base_config("copy", arg)
  c.model.update(d_model=128, d_hidden=192, n_layers=4, dropout=0.0, pooling="last")
  c.optim.update(lr=1e-3, lr_factor=0.25, weight_decay=0.0, warmup_epochs=1.0)
  c.train.update(batch_size=64, epochs=20)
  if arg.preset == "cpu":  # an epoch is 100 steps at batch 64: 300 steps (timed in docs/table2_cpu.md)
    common.shrink_generated_for_cpu(c, epochs=3)
  return c
