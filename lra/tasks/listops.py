"""ListOps: a seeded generator with the LRA generator's law, its evaluator, the TSV reader and the tokenizer.

An expression is a tree of operators MIN, MAX, MED (integer median, as int(np.median)) and SM (sum mod 10)
over digits 0-9. Files use the LRA release format (`lra_release/listops-1000/basic_{train,val,test}.tsv`): a
header `Source<TAB>Target`, then one `expression<TAB>label` a line, the expression written with parentheses,
e.g. `( ( ( [MAX 2 ) 9 ) ] )` -> 9. The tokenizer drops the parentheses: `[MAX 2 9 ]`, one token per digit and
two per operator (the operator and its `]`), which is the length the generator bounds.
"""

import dataclasses
import hashlib
import json
import os
import random

import numpy as np
from tqdm import tqdm

from lra.errors import ConfigError
from lra.tasks import data

OPERATORS = ("[MIN", "[MAX", "[MED", "[SM")
CLOSE = "]"
VALUE_PROBABILITY = 0.75   # LRA: a node above max depth is a digit unless random() <= 0.25
VOCAB = ("<pad>",) + tuple(str(d) for d in range(10)) + OPERATORS + (CLOSE,)  # id 0 = padding
TOKEN_IDS = {token: i for i, token in enumerate(VOCAB)}
NUM_CLASSES = 10
HEADER = "Source\tTarget"
SPLIT_FILES = {"train": "basic_train.tsv", "val": "basic_val.tsv", "test": "basic_test.tsv"}
GENERATOR_VERSION = 1      # bump when the generator's output for given parameters changes
# Single-character stand-ins for the operators, so that a line tokenizes with C-level string operations.
_OPERATOR_CHARS = {"[MIN": "a", "[MAX": "b", "[MED": "c", "[SM": "d"}
_CHAR_TO_ID = np.full(256, -1, np.int16)
for _token, _char in [(str(d), str(d)) for d in range(10)] + list(_OPERATOR_CHARS.items()) + [(CLOSE, CLOSE)]:
  _CHAR_TO_ID[ord(_char)] = TOKEN_IDS[_token]
del _token, _char


@dataclasses.dataclass(frozen=True)
class GeneratorParams:
  """Parameters of the generator (the LRA defaults); expressions keep min_tokens < tokens < max_tokens."""
  num_train: int = 96_000
  num_val: int = 2_000
  num_test: int = 2_000
  min_tokens: int = 500
  max_tokens: int = 2000
  max_depth: int = 10
  max_args: int = 10
  seed: int = 0

  def __post_init__(self):
    for name in ("num_train", "num_val", "num_test"):
      if getattr(self, name) < 1:
        raise ConfigError(f"config.data.listops.{name}={getattr(self, name)} must be >= 1")
    if not 0 <= self.min_tokens < self.max_tokens - 1:
      raise ConfigError(f"config.data.listops token bounds min_tokens={self.min_tokens}, "
                        f"max_tokens={self.max_tokens}: need 0 <= min_tokens < max_tokens - 1 (lengths are strictly "
                        f"between them)")
    if self.max_depth < 2:
      raise ConfigError(f"config.data.listops.max_depth={self.max_depth} must be >= 2 (depth 1 is the root)")
    if self.max_args < 2:
      raise ConfigError(f"config.data.listops.max_args={self.max_args} must be >= 2")
    # Largest tree: every node above max_depth an operator with max_args children.
    largest = sum(2 * self.max_args ** d for d in range(self.max_depth - 1)) + self.max_args ** (self.max_depth - 1)
    if largest <= self.min_tokens + 1:
      raise ConfigError(f"config.data.listops: no tree with max_depth={self.max_depth}, max_args={self.max_args} "
                        f"has more than min_tokens={self.min_tokens} tokens (at most {largest}); lower min_tokens")

  @classmethod
  def from_config(cls, listops_cfg) -> "GeneratorParams":
    return cls(**{f.name: int(listops_cfg[f.name]) for f in dataclasses.fields(cls)})


def _median(values: list[int]) -> int:
  ordered = sorted(values)
  mid = len(ordered) // 2
  return ordered[mid] if len(ordered) % 2 else int((ordered[mid - 1] + ordered[mid]) / 2)


def apply_operator(operator: str, values: list[int]) -> int:
  """The value of `operator` ("[MIN", "[MAX", "[MED", "[SM") on its digit arguments."""
  if operator == "[MIN":
    return min(values)
  if operator == "[MAX":
    return max(values)
  if operator == "[MED":
    return _median(values)
  if operator == "[SM":
    return sum(values) % 10
  raise ValueError(f"unknown ListOps operator {operator!r}; valid: {list(OPERATORS)}")


def _generate_tree(rnd, depth: int, params: GeneratorParams, parts: list[str], budget: list[int]):
  """Appends one subtree's text to `parts`; returns (value, tokens), or None once `budget` tokens are exceeded.

  The law of the LRA generator (`lra/data/listops.py`): above max_depth a node is an operator with probability
  0.25, with 2..max_args children drawn independently, and a digit otherwise.
  """
  if depth < params.max_depth and rnd() <= 1.0 - VALUE_PROBABILITY:
    num_args = 2 + int(rnd() * (params.max_args - 1))
    open_at = len(parts)
    parts.append("")  # the opening parentheses and the operator, filled in once the operator is drawn
    values, tokens = [], 2
    budget[0] -= 2
    for _ in range(num_args):
      child = _generate_tree(rnd, depth + 1, params, parts, budget)
      if child is None:
        return None
      values.append(child[0])
      tokens += child[1]
      parts.append(" )")
    operator = OPERATORS[int(rnd() * len(OPERATORS))]
    parts[open_at] = " " + "( " * (num_args + 1) + operator
    parts.append(" ] )")
    return apply_operator(operator, values), tokens
  budget[0] -= 1
  if budget[0] < 0:
    return None
  digit = int(rnd() * 10)
  parts.append(" " + str(digit))
  return digit, 1


def generate_expression(rnd, params: GeneratorParams) -> tuple[str, int, int] | None:
  """One tree from `rnd` (a `random.Random().random`): (expression, label, tokens), or None if out of bounds."""
  parts: list[str] = []
  budget = [params.max_tokens - 1]
  result = _generate_tree(rnd, 1, params, parts, budget)
  if result is None or not params.min_tokens < result[1] < params.max_tokens:
    return None
  return "".join(parts)[1:], result[0], result[1]  # every piece starts with a space


def generate(params: GeneratorParams, out_dir: str, *, progress: bool = True) -> dict:
  """Writes basic_{train,val,test}.tsv with distinct expressions to `out_dir`; returns per-split label counts.

  Order-stable: one `random.Random(seed)` stream, trees accepted in draw order, duplicates (of any earlier
  split) skipped; the first num_train go to train, the next num_val to val, the rest to test.
  """
  os.makedirs(out_dir, exist_ok=True)
  rnd = random.Random(params.seed).random
  seen: set[bytes] = set()
  counts = {}
  total = params.num_train + params.num_val + params.num_test
  with tqdm(total=total, desc="ListOps", unit="expr", disable=not progress, mininterval=1.0) as bar:
    for split, num in (("train", params.num_train), ("val", params.num_val), ("test", params.num_test)):
      label_counts = [0] * NUM_CLASSES
      path = os.path.join(out_dir, SPLIT_FILES[split])
      with open(path + ".tmp", "w", encoding="utf-8", newline="\n") as f:
        f.write(HEADER + "\n")
        written = 0
        while written < num:
          result = generate_expression(rnd, params)
          if result is None:
            continue
          expression, label, _ = result
          digest = hashlib.blake2b(expression.encode(), digest_size=16).digest()
          if digest in seen:
            continue
          seen.add(digest)
          f.write(f"{expression}\t{label}\n")
          label_counts[label] += 1
          written += 1
          bar.update(1)
      os.replace(path + ".tmp", path)
      counts[split] = label_counts
  return counts


def generated_dir(params: GeneratorParams, cache_root: str) -> str:
  """The cache folder of a parameter set: <cache_root>/listops/<hash of params and generator version>."""
  key = {**dataclasses.asdict(params), "generator_version": GENERATOR_VERSION}
  return os.path.join(cache_root, "listops", data.params_hash(key))


def ensure_generated(params: GeneratorParams, cache_root: str, *, progress: bool = True) -> str:
  """The folder of the generated files, generating them unless a folder with matching checksums exists."""
  out_dir = generated_dir(params, cache_root)
  manifest_path = os.path.join(out_dir, "checksums.json")
  if os.path.exists(manifest_path):
    with open(manifest_path) as f:
      manifest = json.load(f)
    if all(os.path.exists(os.path.join(out_dir, name)) and
           data.file_sha256(os.path.join(out_dir, name)) == manifest["sha256"].get(name)
           for name in SPLIT_FILES.values()):
      return out_dir
    print(f"ListOps cache {out_dir}: checksum mismatch, regenerating")
  label_counts = generate(params, out_dir, progress=progress)
  manifest = {"params": dataclasses.asdict(params), "generator_version": GENERATOR_VERSION,
              "label_counts": label_counts,
              "sha256": {name: data.file_sha256(os.path.join(out_dir, name)) for name in SPLIT_FILES.values()}}
  with open(manifest_path + ".tmp", "w") as f:
    json.dump(manifest, f, indent=2)
  os.replace(manifest_path + ".tmp", manifest_path)
  return out_dir


def tokenize(expression: str) -> np.ndarray:
  """Token ids (uint8) of one expression; parentheses dropped. Raises ValueError on an unknown token."""
  text = expression.replace("(", " ").replace(")", " ")
  num_tokens = len(text.split())
  for operator, char in _OPERATOR_CHARS.items():
    text = text.replace(operator, char)
  compact = "".join(text.split())
  codes = np.frombuffer(compact.encode("utf-8", errors="replace"), np.uint8)
  ids = _CHAR_TO_ID[codes]
  if len(compact) != num_tokens or len(codes) != num_tokens or (ids < 0).any():
    bad = [t for t in expression.replace("(", " ").replace(")", " ").split() if t not in TOKEN_IDS]
    raise ValueError(f"unknown ListOps token(s) {bad[:5]}; valid tokens: {list(VOCAB[1:])} and parentheses")
  return ids.astype(np.uint8)


def evaluate(expression: str) -> int:
  """The value of an expression (with or without parentheses), by recursive descent on its tokens."""
  tokens = expression.replace("(", " ").replace(")", " ").split()
  position = 0

  def node() -> int:
    nonlocal position
    if position >= len(tokens):
      raise ValueError(f"ListOps expression ends early: {expression[:80]!r}")
    token = tokens[position]
    position += 1
    if token in OPERATORS:
      values = []
      while position < len(tokens) and tokens[position] != CLOSE:
        values.append(node())
      if position >= len(tokens) or not values:
        raise ValueError(f"ListOps operator {token} without arguments or closing ']': {expression[:80]!r}")
      position += 1
      return apply_operator(token, values)
    if len(token) == 1 and token.isdigit():
      return int(token)
    raise ValueError(f"unknown ListOps token {token!r}; valid tokens: {list(VOCAB[1:])}")

  value = node()
  if position != len(tokens):
    raise ValueError(f"ListOps expression has trailing tokens after position {position}: {expression[:80]!r}")
  return value


def read_tsv(path: str, max_length: int) -> data.Split:
  """Reads one LRA `basic_*.tsv` into a Split (uint8 tokens padded/truncated to max_length).

  Raises:
    DataNotFoundError: no such file.
    DataFormatError: unreadable file, missing header or malformed line (the message names file and line).
  """
  if not os.path.isfile(path):
    raise data.DataNotFoundError(f"ListOps file not found: {path}")
  rows, labels = [], []
  try:
    with open(path, "rb") as f:
      for line_number, raw_line in enumerate(f, start=1):
        try:
          line = raw_line.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as e:
          raise data.DataFormatError(f"{path}:{line_number}: not UTF-8 text ({e})") from None
        if line_number == 1:
          if line.split("\t") != HEADER.split("\t"):
            raise data.DataFormatError(f"{path}:1: expected the header {HEADER!r}, got {line[:80]!r}")
          continue
        if not line.strip():
          continue
        fields = line.split("\t")
        if len(fields) != 2:
          raise data.DataFormatError(f"{path}:{line_number}: expected 'expression<TAB>label', got "
                                     f"{len(fields)} tab-separated fields: {line[:80]!r}")
        source, target = fields
        if target.strip() not in {str(d) for d in range(NUM_CLASSES)}:
          raise data.DataFormatError(f"{path}:{line_number}: label {target!r} is not a digit 0-9")
        try:
          rows.append(tokenize(source))
        except ValueError as e:
          raise data.DataFormatError(f"{path}:{line_number}: {e}") from None
        labels.append(int(target))
  except OSError as e:
    raise data.DataFormatError(f"{path}: cannot read ({e})") from None
  if not rows:
    raise data.DataFormatError(f"{path}: no examples after the header")
  inputs, lengths, truncated = data.pad_rows(rows, max_length, np.uint8)
  return data.Split(inputs, lengths, np.asarray(labels, np.int32),
                    {"source": path, "truncated": int(truncated)}, data.as_int32_tokens)


def write_tsv(path: str, expressions: list[str], labels: list[int]) -> None:
  """Writes expressions and labels in the LRA TSV format (used by tests and fixtures)."""
  with open(path, "w", encoding="utf-8", newline="\n") as f:
    f.write(HEADER + "\n")
    for expression, label in zip(expressions, labels):
      f.write(f"{expression}\t{label}\n")


class ListOps(data.Classification):
  """The ListOps task: 10 classes, vocabulary of 16 (padding, 10 digits, 4 operators, `]`)."""
  name = "listops"
  vocab_size = len(VOCAB)
  input_dim = 1
  num_classes = NUM_CLASSES

  def __init__(self, data_cfg):
    self.data_cfg = data_cfg
    self.max_length = int(data_cfg.max_length)
    cfg = data_cfg.listops
    data.check_choice("listops.source", cfg.source, ("generated", "raw"))
    for field in ("num_train", "num_val", "num_test", "min_tokens", "max_depth"):
      data.check_at_least(f"listops.{field}", cfg[field], 1)
    data.check_at_least("listops.max_args", cfg.max_args, 2, "an operator has 2..max_args arguments")
    data.check_at_least("listops.max_tokens", cfg.max_tokens, cfg.min_tokens + 2,
                             "expressions have min_tokens < tokens < max_tokens")

  def files_dir(self) -> str:
    """The folder with basic_{train,val,test}.tsv (generating them first when source=generated)."""
    cfg = self.data_cfg.listops
    if cfg.source == "raw":
      if not cfg.raw_dir:
        raise data.DataNotFoundError(
            "ListOps: config.data.listops.source='raw' needs --config.data.listops.raw_dir=DIR, the folder with "
            "basic_{train,val,test}.tsv (lra_release/listops-1000/ of the LRA release), or use "
            "--config.data.listops.source=generated")
      missing = [n for n in SPLIT_FILES.values() if not os.path.isfile(os.path.join(cfg.raw_dir, n))]
      if missing:
        raise data.DataNotFoundError(
            f"ListOps: {missing} not found in config.data.listops.raw_dir={cfg.raw_dir!r}; it should be the "
            f"lra_release/listops-1000/ folder of the LRA release, or use --config.data.listops.source=generated")
      return cfg.raw_dir
    return ensure_generated(GeneratorParams.from_config(cfg), data.cache_dir(self.data_cfg))

  def load(self, split: str) -> data.Split:
    data.check_choice("split", split, tuple(SPLIT_FILES))
    result = read_tsv(os.path.join(self.files_dir(), SPLIT_FILES[split]), self.max_length)
    result.info["val_from_test"] = False
    return result
