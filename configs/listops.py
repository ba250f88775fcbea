"""ListOps (LRA): length 2048, 10 classes; the paper's hyperparameters, and a `:cpu` preset.

  python train.py --config configs/listops.py --workdir runs/listops        # paper: 6 layers, d_model 256, n 192
  python train.py --config configs/listops.py:cpu --workdir runs/listops_cpu  # 2-core laptop, generated data
  python train.py --config configs/listops.py --config.model.recurrence=dense --config.model.init=glorot
"""

from configs import common
from lra import data as lra_data


def get_config(arg: str = "paper"):
  arg = common.parse_arg(arg, preset="paper", recurrence="diag")
  c = common.base_config("listops", arg)
  c.model.update(d_model=256, d_hidden=192, n_layers=6, dropout=0.0)
  c.optim.update(lr=1e-3, lr_factor=0.05, weight_decay=0.05, warmup_epochs=5.0)
  c.train.update(batch_size=32, epochs=50)
  c.data.max_length = 2048
  if arg.preset == "cpu":
    # Same task on a small generated set of short expressions; paper width n = 192 (rescaled Glorot needs n > 163).
    c.model.update(d_model=64, d_hidden=192, n_layers=2)
    c.train.update(batch_size=32, epochs=20, log_every_steps=20, ckpt_every_steps=500)
    c.optim.update(lr=3e-3, lr_factor=0.25, warmup_epochs=1.0)
    c.data.update(lra_data.cpu_data_overrides("listops"))
  return c
