"""Retrieval (LRA's AAN): do two papers cite each other? Two documents a pair, read from the official TSVs.

Files (`lra_release/lra_release/tsv_data/`): `new_aan_pairs.{train,eval,test}.tsv`, tab-separated, no header,
no quoting, one pair a line: `label, id1, id2, text1, text2` (label 1: the papers are linked by a citation; LRA
parses it as a float, so `1` and `1.0` both read). The eval file is our validation split.

Tokenizers (of each document alone, as the field stands in the file):
  byte  LRA: id = byte + 1, 0 = padding (vocabulary 257); a document is its first `max_length` bytes.
  char  S4 / S5: <pad> = 0, <unk> = 1, <eos> = 2, then the characters of the training documents' first
        `max_length - 1` characters seen at least `char_min_freq` times (1: every one, as S4), most frequent
        first; a document is its first max_length - 1 characters and <eos>.

A Split holds inputs (N, 2, max_length) uint16 (document 1, document 2), lengths (N, 2) int32, labels (N,)
int32; `max_length` (config.data.max_length) is per document. The model runs one backbone on both documents
(`models.dual_encoder.pair_rows`) and the dual-encoder head compares them: `head = "dual_encoder"`.

`source=fixture` writes a small learnable set in the official format (`write_fixture`), cached by its parameters.
"""

import os

import numpy as np

from lra.tasks import data
from lra.tasks import imdb

NUM_CLASSES = 2
NUM_FIELDS = 5
SPLIT_FILES = {"train": "new_aan_pairs.train.tsv", "val": "new_aan_pairs.eval.tsv",
               "test": "new_aan_pairs.test.tsv"}
RAW_WHAT = ("the folder holding new_aan_pairs.{train,eval,test}.tsv (lra_release/lra_release/tsv_data of "
            "lra_release.gz)")
MAX_UTF8_BYTES = 4  # bytes of one character: the first k characters lie in the first 4k bytes


def _shown(field: bytes) -> str:
  """A field for an error message: at most 40 characters of its repr."""
  text = repr(field.decode("utf-8", errors="replace"))
  return text if len(text) <= 40 else text[:37] + "..."


def read_pairs(path: str, *, max_bytes: int) -> tuple[np.ndarray, list[bytes], list[bytes]]:
  """(labels (N,) int32, first documents, second documents) of one official TSV, in file order.

  Each document is cut to its first `max_bytes` bytes as it is read, so the full file is never held.

  Raises:
    DataNotFoundError: `path` is not a file.
    DataFormatError: a line without exactly 5 tab-separated fields, or a label that is not 0 or 1 (the
      message names the file and the line).
  """
  if not os.path.isfile(path):
    raise data.DataNotFoundError(f"Retrieval (AAN): {path} not found; expected {RAW_WHAT}")
  labels, first, second = [], [], []
  with open(path, "rb") as f:
    for line_no, line in enumerate(f, start=1):
      line = line.rstrip(b"\n")
      if line.endswith(b"\r"):  # a file saved with CRLF line ends
        line = line[:-1]
      fields = line.split(b"\t")
      if len(fields) != NUM_FIELDS:
        raise data.DataFormatError(f"{path}:{line_no}: {len(fields)} tab-separated fields, expected {NUM_FIELDS} "
                                   f"(label, id1, id2, text1, text2)")
      try:
        label = float(fields[0])
      except ValueError:
        label = None
      if label not in (0.0, 1.0):
        raise data.DataFormatError(f"{path}:{line_no}: label {_shown(fields[0])} is not 0 or 1")
      labels.append(int(label))
      first.append(fields[3][:max_bytes])
      second.append(fields[4][:max_bytes])
  if not labels:
    raise data.DataFormatError(f"{path}: no pairs (an empty file); expected {RAW_WHAT}")
  return np.asarray(labels, np.int32), first, second


# The fixture: a learnable law in the official format. A paper has one of TOPIC_COUNT topics; its text is
# neutral words with about one word in four (at least one) from its topic's own words, spelt with letters no
# other topic uses, so that a mean over its characters tells the topic. Label 1: the two papers share a topic.
TOPIC_LETTERS = ("etaoin", "shrdlu", "cmfwyp", "vbgkqj")
TOPIC_COUNT = len(TOPIC_LETTERS)
TOPIC_WORDS_EACH = 10
TOPIC_WORD_SHARE = 0.25
FIXTURE_NEUTRAL_WORDS = ("we", "the", "a", "model", "paper", "results", "show", "that", "of", "in", "and", "our",
                         "method", "corpus", "section", "table", "naïve", "café", "—", "data", "is", "for")


def topic_words(seed: int) -> tuple[tuple[str, ...], ...]:
  """TOPIC_WORDS_EACH words per topic, 3-7 letters drawn from that topic's TOPIC_LETTERS."""
  rng = np.random.default_rng([seed, 1])
  return tuple(tuple("".join(rng.choice(list(letters), size=int(rng.integers(3, 8))))
                     for _ in range(TOPIC_WORDS_EACH)) for letters in TOPIC_LETTERS)


def fixture_document(topic: int, num_words: int, words: tuple, rng: np.random.Generator) -> str:
  """One synthetic paper of `topic` with `num_words` words (no tab, no newline)."""
  own = rng.random(num_words) < TOPIC_WORD_SHARE
  own[rng.integers(num_words)] = True  # every paper shows its topic
  picks = [words[topic][rng.integers(TOPIC_WORDS_EACH)] if is_own
           else FIXTURE_NEUTRAL_WORDS[rng.integers(len(FIXTURE_NEUTRAL_WORDS))] for is_own in own]
  return " ".join(picks) + "."


def write_fixture(out_dir: str, *, num_train: int = 2000, num_val: int = 200, num_test: int = 500,
                  min_words: int = 20, max_words: int = 100, seed: int = 0) -> str:
  """Writes out_dir/new_aan_pairs.{train,eval,test}.tsv in the official format; returns out_dir.

  Per split, a pool of papers (half as many as pairs, at least 2 per topic; no paper in two splits) with
  seeded topics; per pair a fair label, a first paper, and a second one of the same topic (label 1) or of
  another (label 0), distinct from the first.
  """
  if min(num_train, num_val, num_test) < 1 or not 1 <= min_words <= max_words:
    raise ValueError(f"write_fixture: need num_train, num_val, num_test >= 1 and 1 <= min_words <= max_words; "
                     f"got {num_train}, {num_val}, {num_test}, {min_words}, {max_words}")
  words = topic_words(seed)
  os.makedirs(out_dir, exist_ok=True)
  for index, (split, num_pairs) in enumerate((("train", num_train), ("val", num_val), ("test", num_test))):
    rng = np.random.default_rng([seed, 2, index])
    num_papers = max(2 * TOPIC_COUNT, num_pairs // 2)
    topics = rng.permutation(np.arange(num_papers) % TOPIC_COUNT)
    texts = [fixture_document(int(t), int(rng.integers(min_words, max_words + 1)), words, rng) for t in topics]
    ids = [f"F{index}-{i:05d}" for i in range(num_papers)]
    by_topic = [np.flatnonzero(topics == t) for t in range(TOPIC_COUNT)]
    path = os.path.join(out_dir, SPLIT_FILES[split])
    with open(path + ".tmp", "w", encoding="utf-8", newline="\n") as f:
      for _ in range(num_pairs):
        label = int(rng.integers(2))
        a = int(rng.integers(num_papers))
        if label:
          b = int(rng.choice(by_topic[topics[a]][by_topic[topics[a]] != a]))
        else:
          b = int(rng.choice(np.flatnonzero(topics != topics[a])))
        f.write(f"{label}\t{ids[a]}\t{ids[b]}\t{texts[a]}\t{texts[b]}\n")
    os.replace(path + ".tmp", path)
  return out_dir


def ensure_fixture(cache_root: str, **params) -> str:
  """`write_fixture(**params)` once under <cache_root>/fixtures/retrieval-<hash of params>; returns the folder."""
  params = {k: int(v) for k, v in params.items()}
  out_dir = os.path.join(cache_root, "fixtures", f"retrieval-{data.params_hash(params)}")
  done = os.path.join(out_dir, "DONE")
  if not os.path.exists(done):
    write_fixture(out_dir, **params)
    with open(done, "w") as f:
      f.write(repr(params))
  return out_dir


class Retrieval(data.Classification):
  """The AAN retrieval task (see the module docstring): pairs of documents, 2 classes, dual-encoder head."""
  name = "retrieval"
  head = "dual_encoder"
  num_classes = NUM_CLASSES
  num_documents = 2  # documents an example: inputs (N, 2, L), lengths (N, 2)
  input_dim = 1

  def __init__(self, data_cfg):
    cfg = data_cfg.retrieval
    data.check_choice("retrieval.source", cfg.source, ("raw", "fixture"))
    imdb.check_text_fields("retrieval", data_cfg, ("fixture_num_train", "fixture_num_val", "fixture_num_test"))
    self.data_cfg = data_cfg
    self.max_length = int(data_cfg.max_length)
    self._documents: dict[str, tuple] = {}
    self._vocab: imdb.CharVocab | None = None

  def folder(self) -> tuple[str, str]:
    """(folder holding the three TSVs, where the data came from, for Split.info)."""
    cfg = self.data_cfg.retrieval
    if data.resolve_source("Retrieval (AAN)", "retrieval", cfg, RAW_WHAT) == "fixture":
      root = ensure_fixture(data.cache_dir(self.data_cfg), num_train=cfg.fixture_num_train,
                            num_val=cfg.fixture_num_val, num_test=cfg.fixture_num_test,
                            min_words=cfg.fixture_min_words, max_words=cfg.fixture_max_words,
                            seed=cfg.fixture_seed)
      return root, f"fixture {root}"
    if not os.path.isdir(cfg.raw_dir):
      raise data.DataNotFoundError(f"Retrieval (AAN): config.data.retrieval.raw_dir={cfg.raw_dir} is not a folder; "
                                   f"expected {RAW_WHAT}")
    return cfg.raw_dir, cfg.raw_dir

  def documents(self, split: str) -> tuple:
    """(labels, first documents, second documents, where) of a split, held until `load` encodes it.

    Documents are bytes cut to max_length + 1 (byte tokenizer) or str cut to max_length characters (char
    tokenizer): one more than is kept, so that truncation can be counted.
    """
    if split not in self._documents:
      root, where = self.folder()
      path = os.path.join(root, SPLIT_FILES[split])
      if self.data_cfg.retrieval.tokenizer == "byte":
        labels, first, second = read_pairs(path, max_bytes=self.max_length + 1)
      else:
        labels, first, second = read_pairs(path, max_bytes=MAX_UTF8_BYTES * self.max_length)
        first, second = ([d.decode("utf-8", errors="replace")[:self.max_length] for d in docs]
                         for docs in (first, second))
      self._documents[split] = (labels, first, second, where)
    return self._documents[split]

  def char_vocab(self) -> imdb.CharVocab:
    """The character vocabulary of the training documents' first max_length - 1 characters (never val / test)."""
    if self._vocab is None:
      _, first, second, _ = self.documents("train")
      keep = self.max_length - 1
      self._vocab = imdb.CharVocab((d[:keep] for d in first + second), int(self.data_cfg.retrieval.char_min_freq))
    return self._vocab

  @property
  def vocab_size(self) -> int:
    """257 for bytes; for characters, the vocabulary size (reads the training file)."""
    return imdb.BYTE_VOCAB_SIZE if self.data_cfg.retrieval.tokenizer == "byte" else len(self.char_vocab())

  def encode(self, document) -> np.ndarray:
    """uint16 ids of one document (bytes or str, per the tokenizer), at most max_length of them."""
    if self.data_cfg.retrieval.tokenizer == "byte":
      return imdb.byte_ids(document[:self.max_length])
    return self.char_vocab().encode(document, self.max_length)

  def load(self, split: str) -> data.Split:
    """The split: inputs (N, 2, max_length) uint16, zero-padded; lengths (N, 2) int32; labels (N,) int32."""
    data.check_choice("split", split, tuple(SPLIT_FILES))
    labels, first, second, where = self.documents(split)
    columns, truncated = [], 0
    for docs in (first, second):
      inputs, lengths, _ = data.pad_rows([self.encode(d) for d in docs], self.max_length, np.uint16)
      columns.append((inputs, lengths))
      # The char tokenizer keeps max_length - 1 characters (then <eos>); pad_rows never cuts its rows.
      cut_at = self.max_length if self.data_cfg.retrieval.tokenizer == "byte" else self.max_length - 1
      truncated += sum(len(d) > cut_at for d in docs)
    inputs = np.stack([columns[0][0], columns[1][0]], axis=1)
    lengths = np.stack([columns[0][1], columns[1][1]], axis=1)
    info = {"source": where, "file": SPLIT_FILES[split], "tokenizer": self.data_cfg.retrieval.tokenizer,
            "truncated_documents": int(truncated)}
    del self._documents[split]  # about 1 GB of text for the official train split; the ids are what stays
    return data.Split(inputs, lengths, labels, info, data.as_int32_tokens)
