"""IMDB reviews at byte level (LRA): length 4096, 2 classes; the paper's hyperparameters, and a `:cpu` preset on
the small learnable fixture (no download).

  python train.py --config configs/imdb.py --workdir runs/imdb             # paper: d_model 192, n 256, L 4096
  python train.py --config configs/imdb.py --config.data.max_length=8192   # one reviewer's reading
  python train.py --config configs/imdb.py:cpu --workdir runs/imdb_cpu
"""

from configs import common


def get_config(arg: str = "paper"):
  arg = common.parse_arg(arg, preset="paper", recurrence="diag")
  c = common.base_config("imdb", arg)
  c.model.update(d_model=192, d_hidden=256, n_layers=6, dropout=0.1)
  c.optim.update(lr=1e-3, lr_factor=0.025, weight_decay=0.05, warmup_epochs=7.0)
  c.train.update(batch_size=32, epochs=65)
  c.data.max_length = 4096
  if arg.preset == "cpu":  # the small learnable fixture in the raw format (no download)
    common.shrink_for_cpu(c, epochs=3, warmup_epochs=0.5, log_every_steps=10, ckpt_every_steps=200)
  return c
