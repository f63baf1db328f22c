"""Every figure's name and definition, read from docs/statistics.md: written once, shown beside
each figure on the dashboard and used as the workbook's column headers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from services.kernel.config import ROOT

DOC = ROOT / "docs" / "statistics.md"
ROW = re.compile(
    r"^\|\s*(?P<zh>\S+)\s+(?P<en>[^|]+?)\s*\|\s*`(?P<key>[a-z_]+)`\s*\|"
    r"\s*(?P<definition>[^|]+?)\s*\|\s*(?P<kind>[a-z]+)\s*\|$"
)


@dataclass(frozen=True)
class Figure:
    key: str
    name_zh: str
    name_en: str
    definition: str
    kind: str  # count | cohort | rate | median


@lru_cache(maxsize=1)
def figures() -> tuple[Figure, ...]:
    found = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line.strip())
        if m:
            found.append(Figure(m["key"], m["zh"], m["en"], m["definition"], m["kind"]))
    return tuple(found)


def by_key() -> dict[str, Figure]:
    return {f.key: f for f in figures()}


COLUMNS = figures()
