"""Tests of Retrieval (AAN): the TSV reader on files written here in the official format, both tokenizers against
independent encodings, truncation, split sizes, one-line errors, the fixture's law and pair batches."""

import collections
import os

import numpy as np
import pytest

from configs import data as data_config
from lra.errors import ConfigError
from lra.tasks import batching
from lra.tasks import data
from lra.tasks import get_task
from lra.tasks import retrieval
from models import dual_encoder

FILES = {"train": "new_aan_pairs.train.tsv", "val": "new_aan_pairs.eval.tsv", "test": "new_aan_pairs.test.tsv"}
PAIRS = {
    "train": [(1, "a b", "ccc"), (0, "Café ü — x", "é" * 10), (1, "zz", "abc def")],
    "val": [(0, "hello", "world"), (1, "ab", "")],
    "test": [(1, "new char: Ω", "q")],
}


def write_tsvs(folder, pairs=PAIRS, labels=None):
  """The three files, tab-separated, no header, no quoting: label, id1, id2, text1, text2."""
  folder.mkdir(parents=True, exist_ok=True)
  for split, rows in pairs.items():
    lines = [f"{labels or label}\tP{i}-1\tP{i}-2\t{a}\t{b}\n" for i, (label, a, b) in enumerate(rows)]
    (folder / FILES[split]).write_bytes("".join(lines).encode("utf-8"))
  return str(folder)


def config(raw_dir=None, max_length=8, **fields):
  cfg = data_config.default_data_config("retrieval")
  cfg.max_length = max_length
  cfg.retrieval.update(raw_dir=raw_dir, **fields)
  return cfg


def byte_row(text, length):
  """Independent byte encoding: UTF-8 bytes + 1, cut to `length`, zero-padded."""
  ids = [b + 1 for b in text.encode("utf-8")][:length]
  return ids + [0] * (length - len(ids)), len(ids)


def test_byte_tokenizer_sizes_and_truncation(tmp_path):
  task = get_task("retrieval", config(write_tsvs(tmp_path), max_length=8))
  assert (task.head, task.num_outputs, task.vocab_size, task.input_dim) == ("dual_encoder", 2, 257, 1)
  for split, rows in PAIRS.items():
    loaded = task.load(split)
    assert loaded.inputs.shape == (len(rows), 2, 8) and loaded.lengths.shape == (len(rows), 2)
    assert loaded.labels.tolist() == [label for label, _, _ in rows]
    for i, (_, a, b) in enumerate(rows):
      for j, text in enumerate((a, b)):
        ids, length = byte_row(text, 8)
        assert loaded.inputs[i, j].tolist() == ids and loaded.lengths[i, j] == length
  train = task.load("train")
  # 'Café ü — x' is 14 bytes and 'é' * 10 is 20: both cut to 8.
  assert train.info["truncated_documents"] == 2 and train.lengths[1].tolist() == [8, 8]
  assert train.model_inputs(np.arange(3)).dtype == np.int32


def test_char_tokenizer_builds_its_vocabulary_on_train_only(tmp_path):
  max_length = 6
  task = get_task("retrieval", config(write_tsvs(tmp_path), max_length=max_length, tokenizer="char"))
  # Independent: count the characters of the train documents' first max_length - 1 characters; most frequent
  # first, ties by code point; ids from 3 after <pad> 0, <unk> 1, <eos> 2.
  counts = collections.Counter()
  for _, a, b in PAIRS["train"]:
    for text in (a, b):
      for char in text[:max_length - 1]:
        counts[char] += 1
  ranked = sorted(counts, key=lambda char: (-counts[char], ord(char)))
  ids = {char: 3 + rank for rank, char in enumerate(ranked)}
  assert task.vocab_size == 3 + len(ranked)
  assert "é" in ids and ids["é"] == 3  # 'é' * 10 contributes its first 5
  for split, rows in PAIRS.items():
    loaded = task.load(split)
    for i, (_, a, b) in enumerate(rows):
      for j, text in enumerate((a, b)):
        expected = [ids.get(char, 1) for char in text[:max_length - 1]] + [2]
        assert loaded.inputs[i, j, :len(expected)].tolist() == expected
        assert loaded.lengths[i, j] == len(expected) and not loaded.inputs[i, j, len(expected):].any()
  test = task.load("test")
  assert 1 in test.inputs[0, 0].tolist()  # 'w' and 'Ω' never occur in train: <unk>
  # 'Café ü — x', 'é' * 10 and 'abc def' exceed 5 characters ('abc def' fits in 8 bytes).
  assert task.load("train").info["truncated_documents"] == 3


def test_float_labels_read_as_lra_parses_them(tmp_path):
  pairs = {"train": [(0, "a", "b")], "val": [(0, "a", "b")], "test": [(0, "a", "b")]}
  task = get_task("retrieval", config(write_tsvs(tmp_path, pairs, labels="1.0")))
  assert task.load("test").labels.tolist() == [1]


def test_missing_folder_and_files_are_one_line_errors(tmp_path):
  with pytest.raises(data.DataNotFoundError, match=r"source='raw' needs --config.data.retrieval.raw_dir") as e:
    get_task("retrieval", config(None)).load("train")
  absent = str(tmp_path / "nowhere")
  with pytest.raises(data.DataNotFoundError, match=r"raw_dir=.*nowhere is not a folder; expected the folder") as e:
    get_task("retrieval", config(absent)).load("train")
  assert "\n" not in str(e.value)
  raw = write_tsvs(tmp_path / "aan")
  os.remove(os.path.join(raw, FILES["val"]))
  task = get_task("retrieval", config(raw))
  assert len(task.load("train")) == 3
  with pytest.raises(data.DataNotFoundError, match=r"new_aan_pairs\.eval\.tsv not found; expected") as e:
    task.load("val")
  assert "\n" not in str(e.value)


@pytest.mark.parametrize("line, message", [
    (b"1\tA\tB\tonly four fields", r"new_aan_pairs\.test\.tsv:2: 4 tab-separated fields, expected 5"),
    (b"1\tA\tB\tx\ty\textra", r"new_aan_pairs\.test\.tsv:2: 6 tab-separated fields, expected 5"),
    (b"2\tA\tB\tx\ty", r"new_aan_pairs\.test\.tsv:2: label '2' is not 0 or 1"),
    (b"yes\tA\tB\tx\ty", r"new_aan_pairs\.test\.tsv:2: label 'yes' is not 0 or 1"),
    (b"", r"new_aan_pairs\.test\.tsv:2: 1 tab-separated fields, expected 5"),
])
def test_malformed_rows_name_the_file_and_line(tmp_path, line, message):
  raw = write_tsvs(tmp_path)
  path = os.path.join(raw, FILES["test"])
  with open(path, "ab") as f:
    f.write(line + b"\n1\tA\tB\tx\ty\n")
  with pytest.raises(data.DataFormatError, match=message) as e:
    get_task("retrieval", config(raw)).load("test")
  assert "\n" not in str(e.value)


def test_bad_config_values():
  with pytest.raises(ConfigError, match=r"config.data.retrieval.tokenizer='word'; valid: \['byte', 'char'\]"):
    get_task("retrieval", config("/x", tokenizer="word"))
  with pytest.raises(ConfigError, match=r"config.data.retrieval.source='tfds'; valid: \['raw', 'fixture'\]"):
    get_task("retrieval", config("/x", source="tfds"))


def fixture_topic(text):
  """Independent reading of a fixture document's topic: the TOPIC_LETTERS group that spells its topic words."""
  groups = {i for word in text.rstrip(".").split() if word not in retrieval.FIXTURE_NEUTRAL_WORDS
            for i, letters in enumerate(retrieval.TOPIC_LETTERS) if set(word) <= set(letters)}
  assert len(groups) == 1, text
  return groups.pop()


def test_fixture_follows_its_law_and_is_seeded(tmp_path):
  sizes = dict(num_train=60, num_val=10, num_test=20, min_words=20, max_words=40)
  folder = retrieval.write_fixture(str(tmp_path / "a"), seed=3, **sizes)
  retrieval.write_fixture(str(tmp_path / "b"), seed=3, **sizes)
  retrieval.write_fixture(str(tmp_path / "c"), seed=4, **sizes)
  for name in FILES.values():
    first = (tmp_path / "a" / name).read_bytes()
    assert first == (tmp_path / "b" / name).read_bytes() and first != (tmp_path / "c" / name).read_bytes()
  ids_seen = {}
  for split, name in FILES.items():
    labels, first, second = retrieval.read_pairs(os.path.join(folder, name), max_bytes=10_000)
    assert len(labels) == sizes[f"num_{split}"]
    for label, a, b in zip(labels, first, second):
      assert label == (fixture_topic(a.decode()) == fixture_topic(b.decode())) and a != b
    with open(os.path.join(folder, name), encoding="utf-8") as f:
      ids_seen[split] = {i for line in f for i in line.split("\t")[1:3]}
  assert 0.3 < np.mean(retrieval.read_pairs(os.path.join(folder, FILES["train"]), max_bytes=1)[0]) < 0.7
  assert not ids_seen["train"] & ids_seen["test"] and not ids_seen["train"] & ids_seen["val"]


def test_fixture_source_and_pair_batches(tmp_path):
  cfg = config(max_length=64, source="fixture", fixture_num_train=30, fixture_num_val=6, fixture_num_test=7)
  cfg.cache_dir = str(tmp_path)
  split = get_task("retrieval", cfg).load("test")
  assert split.inputs.shape == (7, 2, 64) and split.info["source"].startswith("fixture ")
  batches = list(batching.Batches(split, 4, seed=0, shuffle=False, drop_last=False, prefetch=0).epoch(0))
  assert len(batches) == 2
  last = batches[-1]
  assert last["inputs"].shape == (4, 2, 64) and last["inputs"].dtype == np.int32
  assert last["lengths"].shape == (4, 2) and last["labels"].shape == (4,)
  assert last["weights"].tolist() == [1.0, 1.0, 1.0, 0.0]
  np.testing.assert_array_equal(last["inputs"][:3], split.inputs[4:7])
  np.testing.assert_array_equal(last["lengths"][:3], split.lengths[4:7])
  rows, lengths = dual_encoder.pair_rows(last["inputs"], last["lengths"])
  assert rows.shape == (8, 64) and lengths.shape == (8,)
  for i in range(4):  # first documents, then second documents
    np.testing.assert_array_equal(rows[i], last["inputs"][i, 0])
    np.testing.assert_array_equal(rows[4 + i], last["inputs"][i, 1])
    assert (lengths[i], lengths[4 + i]) == tuple(last["lengths"][i])
