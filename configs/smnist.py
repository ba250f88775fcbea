"""Sequential MNIST: 784 pixels in raster order, 10 classes.

  python train.py --config configs/smnist.py --config.data.mnist.raw_dir=DIR --workdir runs/smnist  # 4 layers, n 192
  python train.py --config configs/smnist.py:cpu --workdir runs/smnist_cpu  # the small IDX fixture, 2 layers

Data: tfds `mnist` (array_record, prepared offline) or the four raw IDX files; never downloaded.
"""

from configs import common


def get_config(arg: str = "paper"):
  return mnist_config("smnist", arg)


def mnist_config(task: str, arg: str):
  """sMNIST's settings, also psMNIST's (configs/psmnist.py): the tasks differ only in the pixel order (config.data)."""
  arg = common.parse_arg(arg, preset="paper", recurrence="diag")
  c = common.base_config(task, arg)
  c.model.update(d_model=128, d_hidden=192, n_layers=4, dropout=0.1)
  c.optim.update(lr=1e-3, lr_factor=0.25, weight_decay=0.05, warmup_epochs=1.0)
  c.train.update(batch_size=64, epochs=50)
  if arg.preset == "cpu":  # the 2,000-image fixture
    common.shrink_for_cpu(c, epochs=5, warmup_epochs=0.5, log_every_steps=20, ckpt_every_steps=500)
  return c
