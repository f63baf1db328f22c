"""The dispatch catalogue (派单目录): which sectors take which category of issue."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")


@lru_cache(maxsize=1)
def load(path: str | None = None) -> dict:
    with open(path or CATALOGUE_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def sectors_for(category: str) -> list[str]:
    entry = load()["categories"].get(category)
    return list(entry["sectors"]) if entry else []
