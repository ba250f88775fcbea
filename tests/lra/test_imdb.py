"""Tests of IMDB: byte and char tokenizers, the aclImdb reader, tfds (mocked), validation splits and errors."""

import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from configs import data as data_config
from lra.tasks import data
from lra.tasks import fixtures
from lra.tasks import get_task
from lra.tasks import imdb


def config(max_length=64, **fields):
  cfg = data_config.default_data_config("imdb")
  cfg.max_length = max_length
  cfg.imdb.update(fields)
  return cfg


def write_tree(root, reviews):
  """reviews: {(split, 'pos'|'neg'): [text, ...]} -> an aclImdb tree under root."""
  for (split, folder), texts in reviews.items():
    path = root / "aclImdb" / split / folder
    path.mkdir(parents=True)
    for i, text in enumerate(texts):
      (path / f"{i}_{8 if folder == 'pos' else 2}.txt").write_text(text, encoding="utf-8")
  return str(root / "aclImdb")


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory):
  return fixtures.write_imdb(str(tmp_path_factory.mktemp("imdb")), num_train=40, num_test=20, seed=2)


def test_byte_ids_of_non_ascii_text():
  text = "Café ü — 😀"
  expected = [b + 1 for b in text.encode("utf-8")]
  assert imdb.byte_ids(text.encode("utf-8")).tolist() == expected
  assert expected[3:5] == [0xC3 + 1, 0xA9 + 1]  # é = C3 A9 in UTF-8
  assert len(expected) == 3 + 2 + 1 + 2 + 1 + 3 + 1 + 4  # 1 to 4 bytes a character
  assert expected[-4:] == [0xF0 + 1, 0x9F + 1, 0x98 + 1, 0x80 + 1]  # U+1F600
  assert expected[9:12] == [0xE2 + 1, 0x80 + 1, 0x94 + 1]  # U+2014 em dash
  assert max(expected) <= 256 and min(expected) >= 1


def test_raw_reader_byte_task_and_truncation(tmp_path):
  long_text = "é" * 40  # 80 bytes
  raw = write_tree(tmp_path, {("train", "pos"): ["good", long_text], ("train", "neg"): ["bad"],
                              ("test", "pos"): ["fine ü"], ("test", "neg"): ["meh", "no"]})
  cfg = config(max_length=64, source="raw", raw_dir=raw, val_from_test=True)
  task = get_task("imdb", cfg)
  assert (task.vocab_size, task.input_dim, task.num_classes) == (257, 1, 2)
  train = task.load("train")
  assert train.labels.tolist() == [0, 1, 1]  # neg first, then pos, each in numeric file order
  assert train.lengths.tolist() == [3, 4, 64] and train.info["truncated"] == 1
  assert train.inputs.dtype == np.uint16 and train.model_inputs(np.arange(3)).dtype == np.int32
  assert train.inputs[0, :4].tolist() == [ord("b") + 1, ord("a") + 1, ord("d") + 1, 0]
  test = task.load("test")
  assert test.inputs[2, :7].tolist() == [b + 1 for b in "fine ü".encode()]
  val = task.load("val")
  assert val.info["val_from_test"] and np.array_equal(val.inputs, test.inputs)


def test_default_validation_is_held_out_of_train(fixture_dir):
  task = get_task("imdb", config(source="raw", raw_dir=fixture_dir))
  train, val, test = task.load("train"), task.load("val"), task.load("test")
  assert (len(train), len(val), len(test)) == (36, 4, 20)
  assert not val.info["val_from_test"]
  train_rows = {r.tobytes() for r in train.inputs}
  assert not any(r.tobytes() in train_rows for r in val.inputs)
  again = get_task("imdb", config(source="raw", raw_dir=fixture_dir)).load("val")
  assert np.array_equal(again.inputs, val.inputs)  # the split seed fixes the held-out set


def test_char_vocabulary_is_built_on_train_only(tmp_path):
  raw = write_tree(tmp_path, {("train", "pos"): ["aaab", "aab"], ("train", "neg"): ["ab ab"],
                              ("test", "pos"): ["zab"], ("test", "neg"): ["ba"]})
  task = get_task("imdb", config(max_length=4, source="raw", raw_dir=raw, tokenizer="char", char_min_freq=3,
                                 val_from_test=True))
  vocab = task.char_vocab()
  assert vocab.chars == ("a", "b")  # counts a 7, b 4, ' ' 1: below min_freq 3
  assert task.vocab_size == 5       # <pad>, <unk>, <eos>, a, b
  train = task.load("train")
  a, b, unk, eos = 3, 4, 1, 2
  assert train.inputs.tolist() == [[a, b, unk, eos], [a, a, a, eos], [a, a, b, eos]]  # max_length - 1, then <eos>
  assert task.load("test").inputs[1].tolist() == [unk, a, b, eos]  # 'z' never seen in train


def test_fixture_has_long_non_ascii_learnable_reviews(tmp_path):
  root = fixtures.write_imdb(str(tmp_path), num_train=20, num_test=4, min_words=700, max_words=900, seed=0)
  task = get_task("imdb", config(max_length=4096, source="raw", raw_dir=root))
  train = task.load("train")
  assert train.info["truncated"] > 0 and train.lengths.max() == 4096
  texts, labels = imdb.read_raw(root, "train")
  assert any(max(t) > 127 for t in texts)
  words = [t.decode().lower().split() for t in texts]
  score = [sum(w.strip(".") in fixtures.POSITIVE_WORDS for w in ws) -
           sum(w.strip(".") in fixtures.NEGATIVE_WORDS for w in ws) for ws in words]
  assert np.array_equal(np.array(score) > 0, labels == 1)


def test_fixture_source_is_cached(tmp_path):
  cfg = config(source="fixture", fixture_num_train=10, fixture_num_test=4, fixture_max_words=30)
  cfg.cache_dir = str(tmp_path)
  task = get_task("imdb", cfg)
  assert len(task.load("train")) == 9 and len(task.load("test")) == 4
  assert "fixture" in task.load("test").info["source"]


def test_tfds_path_with_mock_data():
  with tfds.testing.mock_data(num_examples=10):
    task = get_task("imdb", config(source="tfds"))
    train, val, test = task.load("train"), task.load("val"), task.load("test")
  assert (len(train), len(val), len(test)) == (9, 1, 10)
  assert train.info["source"] == "tfds imdb_reviews" and set(train.labels) <= {0, 1}


def test_missing_data_fails_fast_with_both_ways(tmp_path):
  start = time.time()
  cfg = config()
  cfg.data_dir = str(tmp_path)
  with pytest.raises(data.DataNotFoundError) as error:
    get_task("imdb", cfg).load("train")
  assert time.time() - start < 10
  for words in ("imdb_reviews", str(tmp_path), "tfds build imdb_reviews", "--config.data.imdb.raw_dir", "aclImdb"):
    assert words in str(error.value)
  with pytest.raises(data.DataNotFoundError, match="train/neg"):
    get_task("imdb", config(source="raw", raw_dir=str(tmp_path))).load("train")


def test_bad_config_values():
  with pytest.raises(ValueError, match="'byte', 'char'"):
    get_task("imdb", config(tokenizer="word"))
  with pytest.raises(ValueError, match="max_length=1"):
    get_task("imdb", config(max_length=1))
