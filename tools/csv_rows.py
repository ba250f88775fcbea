"""Rows of dicts to and from CSV files, as the figure tools write their data beside their PNGs."""

import csv


def write(path, rows: list[dict]) -> None:
  """Writes `rows` (dicts with the same keys, in the first row's order) with a header line."""
  with open(path, "w", newline="") as file:
    writer = csv.DictWriter(file, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)


def read(path) -> list[dict]:
  """The rows of a CSV file with a header line, every value a string."""
  with open(path) as file:
    return list(csv.DictReader(file))
