"""Permuted-pixel MNIST: sMNIST with one fixed permutation of the 784 positions (seeded, recorded).

  python train.py --config configs/psmnist.py --config.data.mnist.raw_dir=DIR --workdir runs/psmnist  # 4 layers, n 192
  python train.py --config configs/psmnist.py:cpu --workdir runs/psmnist_cpu  # the small IDX fixture, 2 layers

Data: tfds `mnist` (array_record, prepared offline) or the four raw IDX files; never downloaded.
"""

from configs import smnist


def get_config(arg: str = "paper"):
  return smnist.mnist_config("psmnist", arg)
