"""Table 1 from run results: collects results.json files (or wandb runs), aggregates seeds, renders Markdown/LaTeX/CSV.

A cell is one (task, row) over seeds: `mean ± std` of the test accuracy (%) at the best validation evaluation
(as train.py stores it), std the population std over seeds (numpy's default, ddof=0); `– (k/n div.)` when k of
the n seeds diverged (with the steps they diverged at); `missing` when no seed has a result; `mean ± std (k/n)` when only k of n seeds finished.
Each run's `provenance` (lra.provenance, in its results.json or config.json) says its commit and devices; the
table names them and warns when its runs came from more than one.
"""

import collections
import csv
import dataclasses
import glob
import io
import json
import math
import os
from collections.abc import Iterable, Sequence

from lra import provenance as provenance_lib
from lra import wandb_auth
from tools import cells
from tools import sweep

TASKS = sweep.TABLE1_TASKS  # the columns


# Published test accuracies (%) to show beside ours, keyed by (task, row label), from /work/shared/paper.md §4.
# The other Table 1 cells of arXiv 2505.19827 are not public in the material we have.
PUBLISHED_SOURCES = {
    "R": "the authors' rebuttal on OpenReview (arXiv 2505.19827, NeurIPS 2025), IMDB",
    "O": "Orvieto et al. 2023, Resurrecting Recurrent Neural Networks for Long Sequences (the LRU paper)",
}
PUBLISHED = {
    ("imdb", "dense-glorot"): (("–", "R"),),
    ("imdb", "diag-glorot"): (("–", "R"),),
    ("imdb", "dense-rescaled_glorot"): (("87.55", "R"),),
    ("imdb", "diag-rescaled_glorot"): (("87.31", "R"),),
    ("imdb", "dense-glorot-ln"): (("86.82", "R"),),
    ("imdb", "dense-rescaled_glorot-ln"): (("86.59", "R"),),
    ("imdb", "diag-glorot-ln"): (("80.64", "R"),),
    ("imdb", "diag-rescaled_glorot-ln"): (("87.28", "R"),),
    ("imdb", "lru-lru_ring"): (("87.32", "R"), ("89.4", "O")),
    ("imdb", "lru-diag_uniform"): (("85.84", "R"),),
    ("imdb", "lru-rescaled_glorot"): (("85.67", "R"),),
    ("listops", "lru-lru_ring"): (("60.2", "O"),),
    ("scifar", "lru-lru_ring"): (("89.0", "O"),),
}

TASK_TITLES = {"listops": "ListOps", "scifar": "sCIFAR", "imdb": "IMDB"}
RECURRENCE_TITLES = {"dense": "Dense", "diag": "Diagonal", "lru": "LRU"}
INIT_TITLES = {"glorot": "Glorot", "glorot_half": "Glorot/2", "rescaled_glorot": "rescaled Glorot",
               "diag_uniform": "uniform", "lru_ring": "LRU ring", "truncated_glorot": "truncated Glorot",
               "calibrated_glorot": "calibrated Glorot", "spectral_glorot": "spectral Glorot"}
DASH = cells.DASH


@dataclasses.dataclass(frozen=True)
class Record:
  """One run's outcome. Accuracies are in percent; None when the run has not evaluated yet."""
  task: str
  label: str
  seed: int
  diverged: bool
  finished: bool
  test_accuracy: float | None
  best_val_accuracy: float | None = None
  wall_s: float | None = None
  source: str = ""
  commit: str | None = None       # lra.provenance.describe_commit of the run; None: it recorded no provenance
  devices: str | None = None      # lra.provenance.describe_devices of the run
  diverged_step: int | None = None  # the first non-finite training step of a diverged run


@dataclasses.dataclass(frozen=True)
class Cell:
  """One (task, row) over seeds."""
  task: str
  label: str
  expected_seeds: tuple[int, ...]
  trained: tuple[float, ...]      # test accuracies (%) of finished, non-diverged seeds
  diverged_seeds: tuple[int, ...]
  unfinished_seeds: tuple[int, ...]  # started, no final results yet
  diverged_steps: tuple[int | None, ...] = ()  # per diverged seed, the step it diverged at

  @property
  def n_expected(self) -> int:
    return len(self.expected_seeds)

  @property
  def mean(self) -> float | None:
    return sum(self.trained) / len(self.trained) if self.trained else None

  @property
  def std(self) -> float | None:
    if not self.trained:
      return None
    mean = self.mean
    return math.sqrt(sum((a - mean) ** 2 for a in self.trained) / len(self.trained))

  @property
  def status(self) -> str:
    """"diverged", "missing", "partial" (some seeds missing) or "complete"."""
    if self.diverged_seeds:
      return "diverged"
    if not self.trained:
      return "missing"
    return "partial" if len(self.trained) < self.n_expected else "complete"

  def text(self) -> str:
    n = max(self.n_expected, len(self.trained) + len(self.diverged_seeds))
    if self.status == "diverged":
      return cells.diverged_cell(len(self.diverged_seeds), n, self.diverged_steps)
    if self.status == "missing":
      return "missing"
    text = f"{self.mean:.2f} ± {self.std:.2f}"
    return text + (f" ({len(self.trained)}/{n})" if self.status == "partial" else "")


def row_label(recurrence: str, init: str, layer_norm: bool = False) -> str:
  return sweep.Row(recurrence, init, bool(layer_norm)).name


def _split_label(label: str) -> tuple[str, str, bool, str]:
  """`diag-rescaled_glorot-ln-lr_factor0.01` -> ("diag", "rescaled_glorot", True, "lr_factor0.01")."""
  rec, _, rest = label.partition("-")
  init, _, rest = rest.partition("-")
  layer_norm = rest == "ln" or rest.startswith("ln-")
  return rec, init, layer_norm, rest[3:] if layer_norm else rest


def row_title(label: str) -> str:
  """`diag-rescaled_glorot-ln` -> `Diagonal, rescaled Glorot, LN`; unknown parts are kept as they are."""
  rec, init, layer_norm, axes = _split_label(label)
  parts = [RECURRENCE_TITLES.get(rec, rec), INIT_TITLES.get(init, init)] + (["LN"] if layer_norm else [])
  return ", ".join(parts + ([axes] if axes else []))


def _percent(value) -> float | None:
  """Accuracies are stored as fractions in [0, 1]; the table shows percent."""
  if value is None or isinstance(value, str):
    return None
  value = float(value)
  return value * 100.0 if value <= 1.0 else value


def _accuracy(results: dict, split: str):
  """The test accuracy ("test") or the best validation one ("best_val") of a results dict: its metric where the
  metric is accuracy; runs written before results.json had one name per quantity kept `<split>_accuracy`."""
  if results.get("metric", "accuracy") == "accuracy" and f"{split}_metric" in results:
    return results[f"{split}_metric"]
  return results.get(f"{split}_accuracy")


def _record_from(results: dict, *, label: str, source: str, prov: dict | None = None) -> Record:
  """A Record from a results dict (results.json, or a wandb summary that may lack the keys of an unfinished run)."""
  return Record(task=results["task"], label=label, seed=int(results["seed"]),
                diverged=bool(results.get("diverged")), finished=bool(results.get("finished")),
                test_accuracy=_percent(_accuracy(results, "test")),
                best_val_accuracy=_percent(_accuracy(results, "best_val")), wall_s=results.get("wall_s"),
                source=source, commit=provenance_lib.describe_commit(prov) if prov else None,
                devices=provenance_lib.describe_devices(prov) if prov else None,
                diverged_step=results.get("diverged_step"))


def _read_json(path: str) -> dict | None:
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def load_manifests(root: str) -> list[sweep.Run]:
  """The runs of every `sweep_*.json` manifest in `root` (written by scripts/sweep.py), de-duplicated by workdir."""
  runs: dict[str, sweep.Run] = {}
  for path in sorted(glob.glob(os.path.join(root, "sweep_*.json"))):
    for run in sweep.load_manifest(path)[0]:
      runs.setdefault(os.path.normpath(run.workdir), run)
  return list(runs.values())


def _label_from_layout(workdir: str, results: dict, row: str) -> str:
  """The label of a run in a sweep's layout `<task>/<label>/seed<k>` where that path agrees with its results (task,
  seed, and a label that is its row `row` or `row` with axes); `row` for a workdir laid out otherwise."""
  parent = os.path.dirname(workdir)
  label, task = os.path.basename(parent), os.path.basename(os.path.dirname(parent))
  if (os.path.basename(workdir) == f"seed{results.get('seed')}" and task == results.get("task")
      and (label == row or label.startswith(row + "-"))):
    return label
  return row


def collect_local(root: str) -> tuple[list[Record], list[sweep.Run]]:
  """Records from every `results.json` under `root`, plus the runs the sweep manifests there expect.

  A run's row label comes from its manifest entry when there is one (it names extra axes), else from the sweep's
  folder layout `<task>/<label>/seed<k>` (a root that several sweeps wrote keeps only the last one's manifest),
  else from results.json and config.json (recurrence, init, recurrent_layer_norm). Workdirs with no results.json
  yet but with a checkpoint or metrics count as unfinished.
  """
  runs = load_manifests(root)
  label_of = {os.path.normpath(run.workdir): run.label for run in runs}
  records = []
  for path in sorted(glob.glob(os.path.join(root, "**", "results.json"), recursive=True)):
    workdir = os.path.normpath(os.path.dirname(path))
    results = _read_json(path)
    config = _read_json(os.path.join(workdir, "config.json"))
    label = label_of.get(workdir)
    if label is None:
      layer_norm = results["recurrent_layer_norm"] if "recurrent_layer_norm" in results else (
          config is not None and config["model"]["recurrent_layer_norm"])
      label = _label_from_layout(workdir, results, row_label(results["recurrence"], results["init"], bool(layer_norm)))
    prov = results.get("provenance") or (config or {}).get("provenance")  # absent in runs that predate it
    records.append(_record_from(results, label=label, source=workdir, prov=prov))
  have = {os.path.normpath(r.source) for r in records}
  for run in runs:  # started but without results: unfinished
    workdir = os.path.normpath(run.workdir)
    if workdir not in have and sweep.run_status(workdir) == "partial":
      records.append(Record(task=run.task, label=run.label, seed=run.seed, diverged=False, finished=False,
                            test_accuracy=None, source=workdir))
  return records, runs


class WandbUnavailable(RuntimeError):
  """wandb cannot be reached (disabled/offline mode, no API key, or a network error)."""


def collect_wandb(project: str, entity: str | None = None, timeout_s: int = 30) -> list[Record]:
  """Records from the runs of a wandb project (config and summary as train.py logs them).

  Raises:
    WandbUnavailable: with the reason, before any network call where the reason is known locally.
  """
  mode = os.environ.get("WANDB_MODE", "")
  if mode in ("disabled", "offline", "dryrun"):
    raise WandbUnavailable(f"WANDB_MODE={mode}: not querying wandb project {project!r}")
  api_key = wandb_auth.api_key()
  if not api_key:
    raise WandbUnavailable("no wandb API key (set WANDB_API_KEY or run `wandb login`)")
  try:
    import wandb  # slow to import: only here
    api = wandb.Api(api_key=api_key, timeout=timeout_s)
    path = f"{entity}/{project}" if entity else project
    records = []
    for run in api.runs(path):
      summary, config = dict(run.summary), dict(run.config)
      if "task" not in config or "model" not in config:  # not a train.py run
        continue
      model = config["model"]
      results = dict(summary, task=config["task"], seed=config["seed"])
      label = row_label(model["recurrence"], model["init"], bool(model["recurrent_layer_norm"]))
      records.append(_record_from(results, label=label, source=f"wandb:{path}/{run.id}",
                                  prov=summary.get("provenance") or config.get("provenance")))
    return records
  except Exception as e:  # network, auth, or a missing project: all mean "not reachable" to the caller
    raise WandbUnavailable(f"wandb project {project!r} not reachable: {type(e).__name__}: {e}") from e


def aggregate(records: Iterable[Record], *, expected_runs: Sequence[sweep.Run] = (),
              seeds: Sequence[int] | None = None, tasks: Sequence[str] | None = None,
              labels: Sequence[str] | None = None) -> tuple[list[str], list[str], dict[tuple[str, str], Cell]]:
  """Groups records into cells.

  Args:
    records: run outcomes; for a (task, label, seed) seen twice, a finished record wins over an unfinished one.
    expected_runs: runs a sweep planned (their cells and seeds are expected even with no results).
    seeds: the expected seeds of every cell (default: those of `expected_runs` for that cell, else every seed
      seen anywhere).
    tasks, labels: columns and rows to show (default: the tasks seen; the rows planned by `expected_runs`, or
      Table 1's rows when there are none; plus any row seen).

  Returns:
    (tasks, labels, {(task, label): Cell}).
  """
  best: dict[tuple[str, str, int], Record] = {}
  for r in records:
    key = (r.task, r.label, r.seed)
    if key not in best or (r.finished and not best[key].finished):
      best[key] = r
  planned: dict[tuple[str, str], set[int]] = {}
  for run in expected_runs:
    planned.setdefault((run.task, run.label), set()).add(run.seed)
  all_seeds = {k[2] for k in best} | {s for v in planned.values() for s in v}
  seen_tasks = {k[0] for k in best} | {k[0] for k in planned}
  seen_labels = {k[1] for k in best} | {k[1] for k in planned}
  if tasks is None:  # the tasks seen, in Table 1's order; all three when nothing is seen
    tasks = [t for t in TASKS if t in seen_tasks or not seen_tasks] + sorted(seen_tasks - set(TASKS))
  if labels is None:  # a sweep's planned rows, else Table 1's rows; plus any row seen
    base = set() if planned else {row.name for row in sweep.TABLE1_ROWS}
    labels = sorted(base | seen_labels, key=_label_order)
  cells = {}
  for task in tasks:
    for label in labels:
      found = {seed: r for (t, l, seed), r in best.items() if (t, l) == (task, label)}
      expected = sorted(seeds if seeds is not None else planned.get((task, label), all_seeds) or found)
      trained = tuple(found[s].test_accuracy for s in sorted(found)
                      if found[s].finished and not found[s].diverged and found[s].test_accuracy is not None)
      cells[(task, label)] = Cell(
          task=task, label=label, expected_seeds=tuple(expected), trained=trained,
          diverged_seeds=tuple(s for s in sorted(found) if found[s].diverged),
          diverged_steps=tuple(found[s].diverged_step for s in sorted(found) if found[s].diverged),
          unfinished_seeds=tuple(s for s in sorted(found) if not found[s].finished and not found[s].diverged))
  return list(tasks), list(labels), cells


def _label_order(label: str):
  """Table 1's row order; LayerNorm rows after the others; extra axes within their row."""
  rec, init, layer_norm, axes = _split_label(label)
  table1 = [row.name for row in sweep.TABLE1_ROWS]
  base = f"{rec}-{init}"
  return (layer_norm, table1.index(base) if base in table1 else len(table1), base, axes)


def published_text(task: str, label: str) -> str:
  return "; ".join(f"{value} ({src})" for value, src in PUBLISHED.get((task, label), ()))


UNRECORDED = "not recorded"


def runs_provenance(records: Iterable[Record]) -> tuple[list[str], list[str]]:
  """Which commits and devices the records with results came from, and warnings when there is more than one.

  Returns:
    (lines, warnings): lines like `runs from commit abc123def456 (12 runs)` and `runs on 1 x NVIDIA H100 (gpu)
    (12 runs)`; one warning per kind (commit, devices) that takes more than one value (a run with no provenance
    counts as its own value, "not recorded").
  """
  done = [r for r in records if r.finished or r.diverged]
  lines, warnings = [], []
  for kind, values in (("commit", [r.commit for r in done]), ("devices", [r.devices for r in done])):
    counts = collections.Counter(value or UNRECORDED for value in values)
    if not counts:
      continue
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0] == UNRECORDED, item[0]))
    listed = ", ".join(f"{value} ({n} run{'s' if n > 1 else ''})" for value, n in ordered)
    lines.append(f"runs {'from commit' if kind == 'commit' else 'on'} {listed}")
    if len(counts) > 1:
      warnings.append(f"warning: the table's runs come from {len(counts)} different {kind}"
                      f"{'s' if kind == 'commit' else ''}: {listed}")
  return lines, warnings


def _provenance_lines(prov: dict | None) -> list[str]:
  if not prov:
    return []
  return [f"generated by: {prov['command']}", f"commit: {prov['commit']}, {prov['created']}"]


def _body_rows(tasks, labels, cells, published):
  """The table's cells as text, one list per label: title, then each task's cell (and its paper value)."""
  for label in labels:
    row = [row_title(label)]
    for task in tasks:
      row.append(cells[(task, label)].text())
      if published:
        row.append(published_text(task, label))
    yield row


def to_markdown(tasks, labels, cells, *, published: bool = True, prov: dict | None = None,
                runs_from: Sequence[str] = ()) -> str:
  """A Markdown table: one row per label, one column per task (plus a `paper` column beside each).

  `runs_from`: lines shown under the table, e.g. `runs_provenance(records)`'s lines and warnings.
  """
  header = ["Model"]
  for task in tasks:
    header += [TASK_TITLES.get(task, task)] + (["paper"] if published else [])
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(row) + " |" for row in _body_rows(tasks, labels, cells, published)]
  notes = ["", "Test accuracy (%) at the best validation evaluation, mean ± std (ddof=0) over seeds; "
           f"{DASH} (k/n div., step s): k of n seeds diverged, at training step s (a non-finite step); (k/n): only k of n seeds finished."]
  if published:
    notes.append("paper: " + "; ".join(f"({k}) {v}" for k, v in PUBLISHED_SOURCES.items()) + ".")
  notes += [f"{line[:1].upper()}{line[1:]}." for line in runs_from]
  notes += [f"<!-- {line} -->" for line in _provenance_lines(prov)]
  return "\n".join(lines + notes) + "\n"


def _latex_escape(text: str) -> str:
  return (text.replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")
          .replace("#", r"\#").replace("±", r"$\pm$").replace(DASH, "--"))


def to_latex(tasks, labels, cells, *, published: bool = True, prov: dict | None = None,
             runs_from: Sequence[str] = ()) -> str:
  """A booktabs tabular with the same content as `to_markdown` (`runs_from` as `%` comments)."""
  cols_per_task = 2 if published else 1
  lines = [f"% {line}" for line in [*_provenance_lines(prov), *runs_from]]
  lines += [r"\begin{tabular}{l" + "c" * cols_per_task * len(tasks) + "}", r"\toprule"]
  head = ["Model"]
  for task in tasks:
    title = TASK_TITLES.get(task, task)
    head.append(rf"\multicolumn{{2}}{{c}}{{{title}}}" if published else title)
  lines.append(" & ".join(head) + r" \\")
  if published:
    lines.append(" & ".join([""] + ["ours & paper"] * len(tasks)) + r" \\")
  lines.append(r"\midrule")
  lines += [" & ".join(_latex_escape(x) for x in row) + r" \\" for row in _body_rows(tasks, labels, cells, published)]
  lines += [r"\bottomrule", r"\end{tabular}"]
  return "\n".join(lines) + "\n"


CSV_FIELDS = ("task", "label", "model", "cell", "status", "mean", "std", "n_trained", "n_diverged", "n_unfinished",
              "n_expected", "accuracies", "diverged_seeds", "published", "published_source")


def to_csv(tasks, labels, cells, *, prov: dict | None = None, runs_from: Sequence[str] = ()) -> str:
  """One line per cell, with its numbers; `#` comment lines first record the command, commit and `runs_from`."""
  out = io.StringIO()
  for line in [*_provenance_lines(prov), *runs_from]:
    out.write(f"# {line}\n")
  writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
  writer.writeheader()
  for label in labels:
    for task in tasks:
      cell = cells[(task, label)]
      pub = PUBLISHED.get((task, label), ())
      writer.writerow(dict(
          task=task, label=label, model=row_title(label), cell=cell.text(), status=cell.status,
          mean="" if cell.mean is None else f"{cell.mean:.4f}", std="" if cell.std is None else f"{cell.std:.4f}",
          n_trained=len(cell.trained), n_diverged=len(cell.diverged_seeds), n_unfinished=len(cell.unfinished_seeds),
          n_expected=cell.n_expected, accuracies=" ".join(f"{a:.4f}" for a in cell.trained),
          diverged_seeds=" ".join(map(str, cell.diverged_seeds)), published=" ".join(v for v, _ in pub),
          published_source=" ".join(s for _, s in pub)))
  return out.getvalue()


@dataclasses.dataclass
class Table1:
  """Table 1 rendered: the outputs by file extension, the records read, and the warnings about their provenance."""
  outputs: dict[str, str]
  records: list[Record]
  warnings: list[str]
  notes: list[str]  # what was left out and why (e.g. wandb unreachable)


def build_table1(roots: Sequence[str], prov: dict, *, wandb_project: str | None = None,
                 wandb_entity: str | None = None, seeds: Sequence[int] | None = None,
                 tasks: Sequence[str] | None = None, published: bool = True) -> Table1:
  """Collects the runs of every sweep root (and of a wandb project) and renders Markdown, LaTeX and CSV.

  Raises:
    WandbUnavailable: the wandb project cannot be read and there is no root to fall back on.
  """
  records, expected, notes = [], [], []
  for root in roots:
    found, planned = collect_local(root)
    records += found
    expected += planned
  if wandb_project:
    try:
      records += collect_wandb(wandb_project, wandb_entity)
    except WandbUnavailable as e:
      if not roots:
        raise
      notes.append(f"wandb skipped: {e}; using local results only")
  tasks, labels, cells = aggregate(records, expected_runs=expected, seeds=seeds, tasks=tasks)
  runs_lines, warnings = runs_provenance(records)
  runs_from = [*runs_lines, *warnings]
  outputs = {".md": to_markdown(tasks, labels, cells, published=published, prov=prov, runs_from=runs_from),
             ".tex": to_latex(tasks, labels, cells, published=published, prov=prov, runs_from=runs_from),
             ".csv": to_csv(tasks, labels, cells, prov=prov, runs_from=runs_from)}
  return Table1(outputs=outputs, records=records, warnings=warnings, notes=notes)
