"""IMDB reviews: tfds `imdb_reviews` or the raw `aclImdb/` folder, tokenized as UTF-8 bytes or characters.

Byte level (LRA): id = byte + 1, 0 = padding, vocabulary 257. Character level (the authors' code): characters
seen at least `char_min_freq` times in the training examples, plus <pad> = 0, <unk> = 1, <eos> = 2; a review is
its first max_length - 1 characters and <eos>. Labels: 1 positive, 0 negative. Validation: a seeded
`val_fraction` of train held out (default), or the test set (`val_from_test=True`, the LRA/authors' practice,
flagged in `Split.info["val_from_test"]`). The Split stores uint16 ids; `normalise` casts a batch to int32.
"""

import collections
import os
import re

import numpy as np

from lra.errors import ConfigError
from lra.tasks import data
from lra.tasks import fixtures

NUM_CLASSES = 2
TFDS_NAME = "imdb_reviews"
BYTE_VOCAB_SIZE = 257
CHAR_SPECIALS = ("<pad>", "<unk>", "<eos>")
RAW_WHAT = "the aclImdb/ folder (train/ and test/, each with pos/ and neg/ .txt files) of aclImdb_v1.tar.gz"
RAW_FIELD = "imdb.raw_dir"


def byte_ids(text: bytes) -> np.ndarray:
  """UTF-8 bytes -> uint16 ids byte + 1 (0 is padding)."""
  return np.frombuffer(text, np.uint8).astype(np.uint16) + 1


class CharVocab:
  """Characters seen at least `min_freq` times in `texts`, ids after the specials, most frequent first."""

  def __init__(self, texts, min_freq: int):
    counts = collections.Counter()
    for text in texts:
      counts.update(text)
    kept = sorted((c for c, k in counts.items() if k >= min_freq), key=lambda c: (-counts[c], c))
    self.chars = tuple(kept)
    self._codepoints = np.array([ord(c) for c in kept], np.int64)
    self._order = np.argsort(self._codepoints)
    self._sorted = self._codepoints[self._order]

  def __len__(self) -> int:
    return len(CHAR_SPECIALS) + len(self.chars)

  def encode(self, text: str, max_length: int) -> np.ndarray:
    """uint16 ids of text[:max_length - 1] followed by <eos>; unknown characters -> <unk>."""
    codepoints = np.frombuffer(text[:max_length - 1].encode("utf-32-le"), np.uint32).astype(np.int64)
    where = np.searchsorted(self._sorted, codepoints)
    where = np.minimum(where, max(len(self._sorted) - 1, 0))
    known = (self._sorted[where] == codepoints) if len(self._sorted) else np.zeros(len(codepoints), bool)
    ids = np.where(known, self._order[where] + len(CHAR_SPECIALS), 1)
    return np.append(ids, 2).astype(np.uint16)


def read_raw(raw_dir: str, split: str) -> tuple[list[bytes], np.ndarray]:
  """(texts as UTF-8 bytes, int32 labels) of aclImdb/<split>/{neg,pos}, files in numeric id order."""
  root = raw_dir
  if not os.path.isdir(os.path.join(root, split)) and os.path.isdir(os.path.join(raw_dir, "aclImdb", split)):
    root = os.path.join(raw_dir, "aclImdb")
  texts, labels = [], []
  for label, folder in ((0, "neg"), (1, "pos")):
    path = os.path.join(root, split, folder)
    if not os.path.isdir(path):
      raise data.DataNotFoundError(data.not_found_message("IMDB (imdb_reviews)", TFDS_NAME, [path], RAW_FIELD,
                                                          RAW_WHAT))
    names = [n for n in os.listdir(path) if n.endswith(".txt")]
    names.sort(key=lambda n: (int(m.group()) if (m := re.match(r"\d+", n)) else -1, n))
    for name in names:
      try:
        with open(os.path.join(path, name), "rb") as f:
          texts.append(f.read())
      except OSError as e:
        raise data.DataFormatError(f"{os.path.join(path, name)}: cannot read ({e})") from None
      labels.append(label)
  if not texts:
    raise data.DataNotFoundError(f"IMDB: no .txt reviews under {os.path.join(root, split)}; expected {RAW_WHAT}")
  return texts, np.asarray(labels, np.int32)


def read_tfds(split: str, data_dir: str | None) -> tuple[list[bytes], np.ndarray]:
  """(texts as UTF-8 bytes, labels) from tfds `imdb_reviews` through `tfds.data_source` (no download)."""
  source = data.tfds_data_source("IMDB (imdb_reviews)", TFDS_NAME, split, data_dir, RAW_FIELD, RAW_WHAT)
  texts, labels = [], np.zeros(len(source), np.int32)
  for i in range(len(source)):
    example = source[i]
    text = example["text"]
    text = text.item() if isinstance(text, np.ndarray) else text  # a 0-d object array on some tfds versions
    texts.append(text.encode("utf-8") if isinstance(text, str) else bytes(text))
    labels[i] = example["label"]
  return texts, labels


def check_text_fields(task: str, data_cfg, fixture_splits) -> None:
  """The fields a text task shares with IMDB (`config.data.<task>`): tokenizer, char_min_freq, the fixture's sizes
  and review lengths, and max_length; raises a one-line ConfigError naming the field."""
  cfg = data_cfg[task]
  data.check_choice(f"{task}.tokenizer", cfg.tokenizer, ("byte", "char"))
  for field in (*fixture_splits, "fixture_min_words", "char_min_freq"):
    data.check_at_least(f"{task}.{field}", cfg[field], 1)
  data.check_at_least(f"{task}.fixture_max_words", cfg.fixture_max_words, cfg.fixture_min_words,
                      f"{task}.fixture_min_words")
  if int(data_cfg.max_length) < 2:
    raise ConfigError(f"config.data.max_length={data_cfg.max_length} must be >= 2")


class Imdb(data.Classification):
  """The IMDB task (see the module docstring); 2 classes, tokens, length data_cfg.max_length."""
  name = "imdb"
  num_classes = NUM_CLASSES
  input_dim = 1

  def __init__(self, data_cfg):
    cfg = data_cfg.imdb
    data.check_choice("imdb.source", cfg.source, ("auto", "tfds", "raw", "fixture"))
    check_text_fields("imdb", data_cfg, ("fixture_num_train", "fixture_num_test"))
    self.data_cfg = data_cfg
    self.max_length = int(data_cfg.max_length)
    self._texts: dict[str, tuple[list[bytes], np.ndarray, str]] = {}
    self._vocab: CharVocab | None = None

  def _source_split(self, split: str) -> tuple[list[bytes], np.ndarray, str]:
    """(texts, labels, where) of the source's "train" or "test" split, read once."""
    if split not in self._texts:
      cfg = self.data_cfg.imdb
      source = data.resolve_source("IMDB", "imdb", cfg, RAW_WHAT)
      if source == "raw":
        self._texts[split] = (*read_raw(cfg.raw_dir, split), cfg.raw_dir)
      elif source == "fixture":
        root = fixtures.ensure_fixture("imdb", data.cache_dir(self.data_cfg), num_train=cfg.fixture_num_train,
                                       num_test=cfg.fixture_num_test, min_words=cfg.fixture_min_words,
                                       max_words=cfg.fixture_max_words, seed=cfg.fixture_seed)
        self._texts[split] = (*read_raw(root, split), f"fixture {root}")
      else:
        self._texts[split] = (*read_tfds(split, self.data_cfg.data_dir), f"tfds {TFDS_NAME}")
    return self._texts[split]

  def _split_indices(self, split: str) -> tuple[str, np.ndarray]:
    """(source split, example indices) of one of our splits."""
    cfg = self.data_cfg.imdb
    if split == "test" or (split == "val" and cfg.val_from_test):
      return "test", np.arange(len(self._source_split("test")[1]))
    num = len(self._source_split("train")[1])
    if cfg.val_from_test:
      return "train", np.arange(num)
    kept, held = data.held_out_indices(num, self.data_cfg.val_fraction, self.data_cfg.split_seed)
    return "train", kept if split == "train" else held

  def char_vocab(self) -> CharVocab:
    """The character vocabulary, built on the training examples only (never on validation or test)."""
    if self._vocab is None:
      texts = self._source_split("train")[0]
      _, indices = self._split_indices("train")
      self._vocab = CharVocab((texts[i].decode("utf-8", errors="replace") for i in indices),
                              int(self.data_cfg.imdb.char_min_freq))
    return self._vocab

  @property
  def vocab_size(self) -> int:
    """257 for bytes; for characters, the vocabulary size (reads the training texts)."""
    return BYTE_VOCAB_SIZE if self.data_cfg.imdb.tokenizer == "byte" else len(self.char_vocab())

  def load(self, split: str) -> data.Split:
    """The split as uint16 token ids (N, max_length), zero-padded, with lengths and labels."""
    data.check_choice("split", split, ("train", "val", "test"))
    cfg = self.data_cfg.imdb
    source_split, indices = self._split_indices(split)
    texts, labels, where = self._source_split(source_split)
    if cfg.tokenizer == "byte":
      rows = [byte_ids(texts[i]) for i in indices]
    else:
      vocab = self.char_vocab()
      rows = [vocab.encode(texts[i].decode("utf-8", errors="replace"), self.max_length) for i in indices]
    inputs, lengths, truncated = data.pad_rows(rows, self.max_length, np.uint16)
    info = {"source": where, "tokenizer": cfg.tokenizer, "truncated": int(truncated),
            "val_from_test": bool(cfg.val_from_test)}
    return data.Split(inputs, lengths, labels[indices].astype(np.int32), info, data.as_int32_tokens)
