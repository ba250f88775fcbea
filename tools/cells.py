"""Cell text shared by Table 1 (tools/table.py) and Table 2 (tools/table2.py); no JAX, so either table loads fast."""

from collections.abc import Iterable

DASH = "–"


def diverged_cell(n_diverged: int, n: int, steps: Iterable[int | None] = ()) -> str:
  """"– (k/n div.)", with ", step s" (or ", steps s1, s2") for the training steps the diverged seeds diverged
  at, where their results.json record one."""
  known = sorted({int(s) for s in steps if s is not None})
  at = ((", step " if len(known) == 1 else ", steps ") + ", ".join(map(str, known))) if known else ""
  return f"{DASH} ({n_diverged}/{n} div.{at})"
