"""Writes the small learnable raw-format data sets: cifar-10-batches-py pickles and an aclImdb/ tree.

  python scripts/make_fixtures.py --out fixtures/            # fixtures/cifar-10-batches-py, fixtures/aclImdb
  python scripts/make_fixtures.py --out f/ --imdb_max_words 900   # reviews past 4096 bytes (IMDB's length)

Then: --config.data.scifar.source=raw --config.data.scifar.raw_dir=fixtures/cifar-10-batches-py (or
--config.data.imdb.raw_dir=fixtures/aclImdb). `source=fixture` writes the same kind of set into the cache itself.
"""

import argparse

from lra.tasks import fixtures


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--out", required=True, help="folder to write into")
  parser.add_argument("--only", choices=("scifar", "imdb"), default=None, help="write just one of the two")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--num_train", type=int, default=2000)
  parser.add_argument("--num_test", type=int, default=500)
  parser.add_argument("--cifar_archive", action="store_true", help="also write cifar-10-python.tar.gz")
  parser.add_argument("--imdb_min_words", type=int, default=20)
  parser.add_argument("--imdb_max_words", type=int, default=200)
  args = parser.parse_args(argv)
  if args.only in (None, "scifar"):
    print(fixtures.write_cifar(args.out, num_train=args.num_train, num_test=args.num_test, seed=args.seed,
                               archive=args.cifar_archive))
  if args.only in (None, "imdb"):
    print(fixtures.write_imdb(args.out, num_train=args.num_train, num_test=args.num_test,
                              min_words=args.imdb_min_words, max_words=args.imdb_max_words, seed=args.seed))


if __name__ == "__main__":
  main()
