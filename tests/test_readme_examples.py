"""Every command a user can paste from README.md and docs/*.md parses its flags and resolves its config, without
training.

The commands are found, not listed: every line of a shell code block (fenced, or indented by four spaces) and every
inline `code` span that runs `python train.py`, `python -m MODULE`, `python scripts/NAME.py` or `scripts/NAME.sh`
(after any `VAR=value` or launcher prefix such as `srun ...`, and each part of an `a && b` line). A new line in the
docs is checked with no change here. How each is checked:

- a Python entry point runs in this process as `__main__` until it has parsed its arguments, then stops: argparse's
  `parse_args` and absl's flag parsing are wrapped to stop right after they succeed (absl flags are defined into a
  fresh `FlagValues`, so the scripts' flags never meet). A config flag (`--config FILE[:preset] --config.a.b=v`)
  must load its file and apply every override; a project config then goes through the training loop's validation.
- `python -m pytest ARGS`: every path it names exists (pytest's own parsing is pytest's business).
- a shell script runs for real with `python` on its PATH replaced by a recorder, so the script's own argument
  handling runs and every `python ...` command it builds is checked as above.

A command that is a template (a `...`, `<placeholder>` or `$variable` token, a line of a shell loop) is not
pasteable and is left out. A failure names
the doc file, its line and the command. Python code blocks are compiled, not run (the README's calibrates an
initializer for minutes; docs/data.md's reads IMDB).
"""

import argparse
import contextlib
import dataclasses
import functools
import glob
import inspect
import io
import json
import os
import re
import runpy
import shlex
import stat
import subprocess
import sys

import ml_collections
import pytest
from absl import app, flags
from ml_collections import config_flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = ["README.md", *sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "docs", "*.md")))]
SHELL_LANGUAGES = ("", "bash", "sh", "shell", "console")
COMMAND_START = re.compile(r"^(python3?|(\./)?scripts/[\w/.-]+\.sh)$")
PYTHON = ("python", "python3")


@dataclasses.dataclass(frozen=True)
class DocCommand:
  """One pasteable command: where it is written, and its words after any environment or launcher prefix."""
  doc: str
  line: int
  text: str
  argv: tuple[str, ...]
  via: str = ""  # the documented shell command that built this one, if any
  also: tuple[str, ...] = ()  # the other places (doc:line) that give the same command

  def __str__(self):
    where = f"{self.doc}:{self.line}" + "".join(f", {place}" for place in self.also) + ": "
    return where + (f"{self.via}\n  which runs: {' '.join(self.argv)}" if self.via else " ".join(self.argv))


# ---------------------------------------------------------------------------------------------------- extraction

def _logical_lines(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
  """Joins lines that end in a backslash with the next; each result keeps its first line's number."""
  joined, start, parts = [], None, []
  for number, line in lines:
    if start is None:
      start = number
    if line.rstrip().endswith("\\"):
      parts.append(line.rstrip()[:-1])
      continue
    joined.append((start, " ".join([*parts, line]).strip()))
    start, parts = None, []
  if parts:
    joined.append((start, " ".join(parts).strip()))
  return joined


def python_blocks(markdown: str) -> list[tuple[int, str]]:
  """(first line number, code) of every ```python block."""
  blocks, start, lines = [], None, []
  for number, line in enumerate(markdown.splitlines(), 1):
    if start is None and re.match(r"^\s*```python\s*$", line):
      start, lines = number + 1, []
    elif start is not None and re.match(r"^\s*```\s*$", line):
      blocks.append((start, "\n".join(lines)))
      start = None
    elif start is not None:
      lines.append(line)
  return blocks


def code_texts(markdown: str) -> list[tuple[int, str]]:
  """(line number, text) of every shell code line and inline code span of a Markdown document."""
  texts, fence, block, paragraph = [], None, [], []

  def flush_paragraph():
    text = "\n".join(line for _, line in paragraph)
    for match in re.finditer(r"`([^`]+)`", text):
      line = paragraph[0][0] + text.count("\n", 0, match.start())
      texts.append((line, " ".join(match.group(1).split())))
    paragraph.clear()

  for number, line in enumerate(markdown.splitlines(), 1):
    opener = re.match(r"^\s*(```+)\s*([\w+-]*)", line)
    if fence is not None:
      if opener and opener.group(1) == fence[0] and not opener.group(2):
        if fence[1] in SHELL_LANGUAGES:
          texts += _logical_lines(block)
        fence, block = None, []
      else:
        block.append((number, line))
      continue
    if opener:
      flush_paragraph()
      fence = (opener.group(1), opener.group(2).lower())
      continue
    if line.startswith("    ") and not line.lstrip().startswith(("`", "-", "*", "|")) and not paragraph:
      block.append((number, line))  # an indented code block
      continue
    if block:
      texts += _logical_lines(block)
      block = []
    if line.strip():
      paragraph.append((number, line))
    else:
      flush_paragraph()
  flush_paragraph()
  texts += _logical_lines(block)
  return texts


def _words(text: str) -> list[str] | None:
  try:
    return shlex.split(text, comments=True)
  except ValueError:  # an unbalanced quote: prose, not a command
    return None


def commands_in(text: str) -> list[tuple[str, ...]]:
  """The commands of one code line: each `&&` / `||` / `;` / `|` part from its first `python` or script word."""
  words = _words(text.replace("&&", " && ").replace(";", " ; "))
  if not words:
    return []
  commands, part = [], []
  for word in [*words, "&&"]:
    if word not in ("&&", "||", ";", "|"):
      part.append(word)
      continue
    start = next((i for i, w in enumerate(part) if COMMAND_START.match(w)), None)
    if start is not None:
      argv = tuple(part[start:])
      is_python = argv[0] in PYTHON
      runs_ours = not is_python or (len(argv) > 1 and (argv[1] in ("train.py", "-m") or
                                                      argv[1].startswith("scripts/")))
      if runs_ours:
        commands.append(argv)
    part = []
  return commands


def is_template(argv) -> bool:
  """A command with `...`, a `<placeholder>` or a `$variable` is a pattern to fill in, not one to paste."""
  return any(word == "..." or re.search(r"<[^>]*>|\$\w", word) for word in argv)


def doc_commands() -> list[DocCommand]:
  """Every pasteable command once: a command written in several places is checked at its first, and its failure
  names the others too."""
  found = {}
  for doc in DOCS:
    with open(os.path.join(REPO, doc)) as f:
      markdown = f.read()
    for line, text in code_texts(markdown):
      for argv in commands_in(text):
        if is_template(argv):
          continue
        if argv in found:
          first = found[argv]
          found[argv] = dataclasses.replace(first, also=(*first.also, f"{doc}:{line}"))
        else:
          found[argv] = DocCommand(doc, line, text, argv)
  return list(found.values())


# ------------------------------------------------------------------------------------------------- parsing only

class Parsed(BaseException):
  """Raised once an entry point has parsed its arguments: what it parsed (a Namespace or a FlagValues)."""

  def __init__(self, value):
    super().__init__("parsed")
    self.value = value


class _StopAfterParsing(flags.FlagValues):
  """absl flags that stop the program once they have parsed its command line."""

  def __call__(self, argv, known_only=False):
    super().__call__(argv, known_only)
    raise Parsed(self)


def _redirect_flag_definitions(patch, target, fresh):
  """Every function of `target` that takes `flag_values` now defines into `fresh` unless told otherwise."""
  for name in dir(target):
    function = getattr(target, name)
    if not callable(function) or isinstance(function, type):
      continue
    try:
      parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
      continue
    if "flag_values" in parameters:
      @functools.wraps(function)
      def into_fresh(*args, __function=function, __signature=inspect.signature(function), **kwargs):
        if "flag_values" not in __signature.bind_partial(*args, **kwargs).arguments:
          kwargs["flag_values"] = fresh
        return __function(*args, **kwargs)
      patch.setattr(target, name, into_fresh)


@contextlib.contextmanager
def stop_after_parsing(argv: list[str]):
  """Runs the code inside with `sys.argv = argv`, stopping it with `Parsed` once argparse or absl has parsed."""
  fresh = _StopAfterParsing()
  depth = [0]

  def stopping(method):
    @functools.wraps(method)
    def parse(self, *args, **kwargs):
      depth[0] += 1
      try:
        result = method(self, *args, **kwargs)
      finally:
        depth[0] -= 1
      if depth[0] == 0:  # the entry point's own call, not argparse's inner ones (sub-commands)
        raise Parsed(result)
      return result
    return parse

  def run(main, argv=None, flags_parser=None, **_):
    del main
    line = sys.argv if argv is None else argv
    if flags_parser is not None:
      flags_parser(line)
    fresh(line)

  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(sys, "argv", list(argv))
    patch.setattr(sys, "path", list(sys.path))  # an entry point that edits sys.path edits a copy
    patch.setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=0")  # set: train.py and bench_step.py do not re-execute
    patch.setenv("WANDB_MODE", "disabled")
    for method in ("parse_args", "parse_known_args", "parse_intermixed_args"):
      patch.setattr(argparse.ArgumentParser, method, stopping(getattr(argparse.ArgumentParser, method)))
    _redirect_flag_definitions(patch, flags, fresh)
    _redirect_flag_definitions(patch, config_flags, fresh)
    patch.setattr(flags, "FLAGS", fresh)
    patch.setattr(app, "run", run)
    yield


def parse_python(argv, where) -> object:
  """What `python ARGS` parses (argparse Namespace or absl FlagValues); fails the test, naming `where`, if it
  does not."""
  module = argv[2] if argv[1] == "-m" else None
  args = list(argv[3:] if module else argv[2:])
  if module is None and not os.path.isfile(os.path.join(REPO, argv[1])):
    pytest.fail(f"{where}\n  {argv[1]} does not exist")
  stderr = io.StringIO()
  try:
    with stop_after_parsing([module or argv[1], *args]), contextlib.redirect_stderr(stderr), \
        contextlib.redirect_stdout(io.StringIO()):
      if module:
        runpy.run_module(module, run_name="__main__", alter_sys=False)
      else:
        runpy.run_path(os.path.join(REPO, argv[1]), run_name="__main__")
  except Parsed as parsed:
    return parsed.value
  except SystemExit as e:
    if e.code in (0, None):
      return None  # --help
    pytest.fail(f"{where}\n  exits {e.code!r} while parsing its arguments: {stderr.getvalue().strip()[-800:]}")
  except Exception as e:  # e.g. absl's UnrecognizedFlagError where the entry point does not catch it
    pytest.fail(f"{where}\n  {type(e).__name__} while parsing its arguments: {e}")
  pytest.fail(f"{where}\n  ran to the end without parsing any arguments (nothing for this test to check)")


def check_configs(parsed, where):
  """Every config flag's config is loaded, its overrides applied, and a project config passes validation."""
  if not isinstance(parsed, flags.FlagValues):
    return
  from lra.errors import ConfigError
  from lra.train.loop import validate_config
  for name in list(parsed):
    config = parsed[name].value
    if isinstance(config, ml_collections.ConfigDict) and "model" in config and "task" in config:
      try:
        validate_config(config)
      except ConfigError as e:
        pytest.fail(f"{where}\n  config does not validate: {e}")


def check_pytest(argv, where):
  for word in argv[3:]:
    if not word.startswith("-") and re.match(r"^[\w./-]+(::[\w\[\]-]+)*$", word) and "/" in word:
      path = word.split("::")[0]
      if not (os.path.exists(os.path.join(REPO, path))):
        pytest.fail(f"{where}\n  {path} does not exist")


def recorded_python_commands(argv, tmp_path, where) -> list[list[str]]:
  """Runs the shell script `argv` with `python` recording its arguments instead of running; returns them."""
  script = os.path.join(REPO, argv[0].removeprefix("./"))
  if not (os.path.isfile(script)):
    pytest.fail(f"{where}\n  {argv[0]} does not exist")
  if not (os.stat(script).st_mode & stat.S_IXUSR):
    pytest.fail(f"{where}\n  {argv[0]} is not executable")
  shim_dir, log = tmp_path / "bin", tmp_path / "python_calls.jsonl"
  shim_dir.mkdir(exist_ok=True)
  log.write_text("")
  for name in PYTHON:
    shim = shim_dir / name
    shim.write_text(f"#!{sys.executable}\nimport json, sys\nwith open({str(log)!r}, 'a') as f:\n"
                    "  f.write(json.dumps(sys.argv[1:]) + '\\n')\n")
    shim.chmod(0o755)
  env = dict(os.environ, PATH=f"{shim_dir}{os.pathsep}{os.environ['PATH']}", TMPDIR=str(tmp_path))
  proc = subprocess.run([script, *argv[1:]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
  if not (proc.returncode == 0):
    pytest.fail(f"{where}\n  exits {proc.returncode}: {proc.stderr.strip()[-800:]}")
  calls = [json.loads(line) for line in log.read_text().splitlines()]
  return [["python", *call] for call in calls if call and call[0] not in ("-", "-c")]


def check(command: DocCommand, tmp_path):
  argv = list(command.argv)
  if argv[0] not in PYTHON:
    built = recorded_python_commands(argv, tmp_path, command)
    if not built:
      pytest.fail(f"{command}\n  the script runs no python command")
    for inner in built:
      check(dataclasses.replace(command, argv=tuple(inner), via=" ".join(argv)), tmp_path)
    return
  if argv[1:3] == ["-m", "pytest"]:
    check_pytest(argv, command)
    return
  check_configs(parse_python(argv, command), command)


COMMANDS = doc_commands()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: f"{c.doc}:{c.line}")
def test_doc_command_parses(command, tmp_path, monkeypatch):
  monkeypatch.chdir(REPO)  # the docs' paths (configs/..., scripts/...) are relative to the checkout
  check(command, tmp_path)


def test_python_blocks_compile():
  blocks = 0
  for doc in DOCS:
    with open(os.path.join(REPO, doc)) as f:
      for line, code in python_blocks(f.read()):
        blocks += 1
        try:
          compile(code, f"{doc}:{line}", "exec")
        except SyntaxError as e:
          pytest.fail(f"{doc}:{line + (e.lineno or 1) - 1}: the python block does not compile: {e.msg}")
  assert blocks >= 1  # the README's initializer example


# --------------------------------------------------------------------------------------- the test's own parts

def test_commands_are_found_in_every_form_the_docs_use():
  markdown = "\n".join([
      "Run `python scripts/a.py --x 1` or", "`python -m pkg.mod",
      "--y 2` (wrapped), not `python -c 'print(1)'`.", "",
      "```bash", "pip install -e . && python train.py --config c.py \\", "  --workdir w   # a comment",
      "srun --nodes=2 python train.py --config c.py --config.distributed=True", "sbatch job.slurm", "```", "",
      "```python", "python scripts/not_shell.py", "```", "",
      "    GLOROT_LRA_CACHE=/tmp/c python scripts/b.py --out docs", "",
      "```", "scripts/run.sh R --dry-run; python train.py ... --config.x=1", "```"])
  found = [(line, argv) for line, text in code_texts(markdown) for argv in commands_in(text)]
  assert found == [
      (1, ("python", "scripts/a.py", "--x", "1")),
      (2, ("python", "-m", "pkg.mod", "--y", "2")),
      (6, ("python", "train.py", "--config", "c.py", "--workdir", "w")),
      (8, ("python", "train.py", "--config", "c.py", "--config.distributed=True")),
      (16, ("python", "scripts/b.py", "--out", "docs")),
      (19, ("scripts/run.sh", "R", "--dry-run")),
      (19, ("python", "train.py", "...", "--config.x=1")),
  ]
  assert [is_template(argv) for _, argv in found] == [False] * 6 + [True]


def test_the_docs_give_commands_of_every_kind():
  """The search finds the README's own examples (so an empty search cannot pass the test above)."""
  by_doc = {}
  for command in COMMANDS:
    by_doc.setdefault(command.doc, []).append(command.argv)
  readme = by_doc["README.md"]
  assert ("python", "train.py", "--config", "configs/listops.py:cpu", "--workdir", "runs/listops_cpu") in readme
  assert ("python", "-m", "inits.stability", "--init", "glorot", "--n", "192", "--length", "2048") in readme
  assert any(argv[0] == "scripts/reproduce_cpu_tasks.sh" for argv in readme)
  assert any(argv[:2] == ("python", "scripts/fig1.py") for argv in readme)


def test_a_wrong_flag_or_config_field_fails_naming_the_doc_line(tmp_path, monkeypatch):
  monkeypatch.chdir(REPO)
  wrong = [("python", "scripts/fig1.py", "--outdir", "docs"),
           ("python", "train.py", "--config", "configs/listops.py", "--workdir", "w", "--config.model.depth=2"),
           ("python", "train.py", "--config", "configs/listops.py", "--workdir", "w",
            "--config.model.recurrence=gru"),
           ("python", "-m", "inits.stability", "--init", "glorot", "--n", "a"),
           ("python", "scripts/bench_scan.py", "--kind", "diag"),
           ("python", "scripts/nothing.py", "--out", "docs"),
           ("scripts/reproduce_cpu.sh", "runs/x", "--bogus-flag"),  # passed on to sweep.py, which refuses it
           ("scripts/device_check.sh", "--gpu")]  # the script's own argument loop refuses it
  for argv in wrong:
    command = DocCommand("docs/x.md", 7, " ".join(argv), argv)
    with pytest.raises(pytest.fail.Exception, match=re.escape(f"docs/x.md:7: {' '.join(argv)}")):
      check(command, tmp_path)


def test_a_config_flag_applies_its_overrides(monkeypatch):
  monkeypatch.chdir(REPO)
  argv = ("python", "train.py", "--config", "configs/listops.py:cpu", "--workdir", "w",
          "--config.model.recurrence=dense", "--config.seed=3")
  config = parse_python(argv, "here").config
  from configs import listops
  expected = listops.get_config("cpu")
  assert (config.model.recurrence, config.seed) == ("dense", 3) != (expected.model.recurrence, expected.seed)
  assert config.train.epochs == expected.train.epochs
