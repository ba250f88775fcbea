"""Sequential CIFAR-10: 1024 pixels, 10 classes; the paper's hyperparameters (colour, as the authors' code),
and a `:cpu` preset on the small learnable fixture (no download).

  python train.py --config configs/scifar.py --workdir runs/scifar          # paper: d_model 512, n 384, colour
  python train.py --config configs/scifar.py --config.data.scifar.grayscale=True   # LRA's grayscale variant
  python train.py --config configs/scifar.py:cpu --workdir runs/scifar_cpu
"""

from configs import common


def get_config(arg: str = "paper"):
  arg = common.parse_arg(arg, preset="paper", recurrence="diag")
  c = common.base_config("scifar", arg)
  c.model.update(d_model=512, d_hidden=384, n_layers=6, dropout=0.1)
  c.optim.update(lr=1e-3, lr_factor=0.025, weight_decay=0.05, warmup_epochs=18.0)
  c.train.update(batch_size=50, epochs=180)
  c.data.max_length = 1024
  if arg.preset == "cpu":  # the small learnable fixture in the raw format (no download)
    common.shrink_for_cpu(c, epochs=3, warmup_epochs=0.5, log_every_steps=10, ckpt_every_steps=200)
  return c
