"""Permuted-pixel MNIST: sMNIST with one fixed permutation of the 784 positions (seeded, recorded).

  python train.py --config configs/psmnist.py --config.data.mnist.raw_dir=DIR --workdir runs/psmnist  # 4 layers, n 192
  python train.py --config configs/psmnist.py:cpu --workdir runs/psmnist_cpu  # the small IDX fixture, 2 layers

Data: tfds `mnist` (array_record, prepared offline) or the four raw IDX files; never downloaded.
"""

from configs import common


def get_config(arg: str = "paper"):
  arg = common.parse_arg(arg, preset="paper", recurrence="diag")
  c = common.base_config("psmnist", arg)
  c.model.update(d_model=128, d_hidden=192, n_layers=4, dropout=0.1)
  c.optim.update(lr=1e-3, lr_factor=0.25, weight_decay=0.05, warmup_epochs=1.0)
  c.train.update(batch_size=64, epochs=50)
  if arg.preset == "cpu":  # the 2,000-image fixture
    common.shrink_for_cpu(c, epochs=5, warmup_epochs=0.5, log_every_steps=20, ckpt_every_steps=500)
  return c
