"""The dispatch catalogue (派单目录): which sectors take a category, and its time limits.

Routing owns it and announces it as ``routing.catalogue_published`` (whole, with a digest)
whenever its content changes, so intake's forms and lists offer exactly these categories.
A category the catalogue does not know (it was removed after the issue was sent) is routed to
the station lead with the ``help`` limits, and the reason says so.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from services.kernel import outbox
from services.routing.models import PublishedCatalogue
from services.routing.records import SOURCE
from services.routing.workdays import Calendar

CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")
HOLIDAYS_PATH = Path(__file__).with_name("holidays.yaml")
FALLBACK_KIND = "help"


@lru_cache(maxsize=1)
def load(path: str | None = None) -> dict:
    with open(path or CATALOGUE_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def _days(entry) -> list[date]:
    if isinstance(entry, dict):
        first, last = entry["from"], entry["to"]
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return [entry]


@lru_cache(maxsize=1)
def calendar(path: str | None = None) -> Calendar:
    with open(path or HOLIDAYS_PATH, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    return Calendar(
        holidays=frozenset(d for e in data.get("holidays") or [] for d in _days(e)),
        workdays=frozenset(d for e in data.get("workdays") or [] for d in _days(e)),
    )


def sectors_for(category: str) -> list[str]:
    entry = load()["categories"].get(category)
    return list(entry["sectors"]) if entry else []


def limits_for(category: str) -> tuple[int, int]:
    """(first response, resolution) limits in working days."""
    entry = load()["categories"].get(category)
    kind = load()["kinds"][entry["kind"] if entry else FALLBACK_KIND]
    return kind["first_response"], kind["resolution"]


def published_form() -> dict:
    """The catalogue as announced: version, digest of the content, categories in file order."""
    data = load()
    categories = []
    for code, c in data["categories"].items():
        kind = data["kinds"][c["kind"]]
        categories.append(
            {
                "code": code,
                "name": c["name"],
                "name_en": c["name_en"],
                "kind": c["kind"],
                "sectors": list(c["sectors"]),
                "first_response_workdays": kind["first_response"],
                "resolution_workdays": kind["resolution"],
            }
        )
    digest = hashlib.sha256(
        json.dumps(categories, ensure_ascii=False, sort_keys=True).encode("utf-8")
    ).hexdigest()
    return {"version": data["version"], "digest": digest, "categories": categories}


def publish(session: Session) -> bool:
    """Announce the catalogue if this content was never announced; True if it was now."""
    form = published_form()
    if session.get(PublishedCatalogue, form["digest"]) is not None:
        return False
    session.add(PublishedCatalogue(digest=form["digest"], version=form["version"]))
    outbox.record(session, "routing.catalogue_published", form, SOURCE)
    return True
