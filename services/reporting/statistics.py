"""Every figure's name and definition, read from ``figures.yaml`` beside this module (package
data, so the installed service needs no checkout): written once, shown beside each figure on the
dashboard and used as the workbook's column headers. The table in docs/statistics.md is generated
from the same file: ``python -m services.reporting.statistics`` prints it, and
tests/unit/test_reporting_figures_doc.py fails when the page and the file disagree."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

KINDS = ("count", "cohort", "rate", "median", "distinct")


@dataclass(frozen=True)
class Figure:
    key: str
    name_zh: str
    name_en: str
    definition: str  # the precise rule (English), one click away on the dashboard
    kind: str  # count | cohort | rate | median | distinct
    explain: str = ""  # what it means, in Chinese, in a clerk's words: shown first


def source_text() -> str:
    return resources.files(__package__).joinpath("figures.yaml").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def figures() -> tuple[Figure, ...]:
    found = []
    for row in yaml.safe_load(source_text()):
        if row["kind"] not in KINDS:
            raise ValueError(f"figures.yaml: {row['key']} has an unknown kind {row['kind']!r}")
        found.append(
            Figure(row["key"], row["zh"], row["en"], row["definition"], row["kind"], row["explain"])
        )
    return tuple(found)


def by_key() -> dict[str, Figure]:
    return {f.key: f for f in figures()}


def markdown_table() -> str:
    """The table docs/statistics.md shows, generated from figures.yaml."""
    lines = [
        "| figure | key | 说明 | definition | kind |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in figures():
        lines.append(
            f"| {f.name_zh} {f.name_en} | `{f.key}` | {f.explain} | {f.definition} | {f.kind} |"
        )
    return "\n".join(lines)


COLUMNS = figures()

if __name__ == "__main__":
    print(markdown_table())
