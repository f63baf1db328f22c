"""The dispatch catalogue (派单目录): which sectors take which category of issue.

Routing owns it and announces it as ``routing.catalogue_published`` (whole, with a digest)
whenever its content changes, so intake's forms and lists offer exactly these categories.
"""

from __future__ import annotations

import hashlib
import json
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


def published_form() -> dict:
    """The catalogue as announced: version, digest of the content, categories in file order."""
    data = load()
    categories = [
        {"code": code, "name": c["name"], "name_en": c["name_en"], "sectors": list(c["sectors"])}
        for code, c in data["categories"].items()
    ]
    digest = hashlib.sha256(
        json.dumps(categories, ensure_ascii=False, sort_keys=True).encode("utf-8")
    ).hexdigest()
    return {"version": data["version"], "digest": digest, "categories": categories}
