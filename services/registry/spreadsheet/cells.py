"""A cell's text and a record's value, both ways: how the office writes a level, a sector, a
list of stations, a date, a status in a spreadsheet, and how an export writes them back."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.registry.models import Sector
from services.registry.schemas import LEVEL_NAMES, ROLE_NAMES, SLOT_NAMES, STATION_KIND_NAMES

LIST_SEP = re.compile(r"\s*[、,，;；]\s*")
PLACE = re.compile(r"^([a-z0-9][a-z0-9-]*)\s*(?:[（(]\s*(\S+?)\s*[)）])?$")
STATUS = {"在职": True, "有效": True, "停用": False, "取消": False}


class CellError(ValueError):
    """A cell that cannot be read; its message is 'Chinese / English'."""


def _invert(names: dict) -> dict:
    return {v: k for k, v in names.items()}


# -- reading: text → value ----------------------------------------------------------------------


def _places(text: str, key: str) -> list[dict]:
    roles = _invert(ROLE_NAMES) | {r: r for r in ROLE_NAMES}
    places = []
    for item in LIST_SEP.split(text):
        if not item:
            continue
        match = PLACE.match(item)
        if not match or (match.group(2) and match.group(2) not in roles):
            raise CellError(f"格式不正确：{item}（应为 编号 或 编号（负责人））/ invalid: {item}")
        places.append({key: match.group(1), "role": roles.get(match.group(2) or "", "member")})
    return places


def _split(text: str) -> list[str]:
    return [x for x in LIST_SEP.split(text) if x]


def _choice(names: dict):
    lookup = _invert(names) | {k: k for k in names}

    def parse(text: str) -> str:
        if text not in lookup:
            raise CellError(
                f"必须是以下之一：{'、'.join(names.values())} / must be one of: {', '.join(names)}"
            )
        return lookup[text]

    return parse


def _status(text: str) -> bool:
    if text not in STATUS:
        raise CellError("应为 在职/有效 或 停用/取消 / must be active or deactivated")
    return STATUS[text]


def _date(text: str) -> str:
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日"):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise CellError("日期无效，应为 YYYY-MM-DD / not a date")


def _degrees(text: str) -> float | None:
    """A coordinate in decimal degrees (WGS-84); an empty cell is 'not placed'. Its range is
    the schema's rule (named on the row like any other)."""
    if not text:
        return None
    try:
        value = float(text.replace("°", ""))
    except ValueError:
        value = float("nan")
    if value != value or value in (float("inf"), float("-inf")):
        raise CellError("应为十进制度数，如 36.0611 / must be decimal degrees, e.g. 36.0611")
    return value


def _same(text: str) -> str:
    return text


class Readers:
    """Per kind and field: text → value. Sectors are written by name and read by name or code."""

    def __init__(self, session: Session):
        sectors = dict(session.execute(select(Sector.name, Sector.code)).all())
        self.sector_codes = sectors | {c: c for c in sectors.values()}
        self.table = {
            ("stations", "kind"): _choice(STATION_KIND_NAMES),
            ("stations", "lat"): _degrees,
            ("stations", "lng"): _degrees,
            ("studios", "lat"): _degrees,
            ("studios", "lng"): _degrees,
            ("studios", "sectors"): lambda t: [self.sector(s) for s in _split(t)],
            ("members", "level"): _choice(LEVEL_NAMES),
            ("members", "sector"): self.sector,
            ("members", "expertise"): _split,
            ("members", "stations"): lambda t: _places(t, "station"),
            ("members", "studios"): lambda t: _places(t, "studio"),
            ("rosters", "date"): _date,
            ("rosters", "slot"): _choice(SLOT_NAMES),
            ("rosters", "members"): _split,
            ("rosters", "station"): lambda t: t or None,
            ("rosters", "studio"): lambda t: t or None,
        }

    def sector(self, text: str) -> str:
        if text not in self.sector_codes:
            raise CellError(f"未知界别：{text} / unknown sector: {text}")
        return self.sector_codes[text]

    def for_field(self, kind: str, field: str):
        if field == "active":
            return _status
        return self.table.get((kind, field), _same)


# -- writing: value → text (what the readers read back) ------------------------------------------


def _joined(values) -> str:
    return "、".join(values)


def _places_text(items, key: str) -> str:
    return _joined(p[key] + ("（负责人）" if p["role"] == "lead" else "") for p in items)


class Writers:
    """Per kind and field: value → text. Sectors are written by name."""

    def __init__(self, session: Session):
        self.sector_names = dict(session.execute(select(Sector.code, Sector.name)).all())
        self.table = {
            ("stations", "kind"): STATION_KIND_NAMES.__getitem__,
            ("studios", "sectors"): lambda v: _joined(self.sector(s) for s in v),
            ("members", "level"): LEVEL_NAMES.__getitem__,
            ("members", "sector"): self.sector,
            ("members", "expertise"): _joined,
            ("members", "stations"): lambda v: _places_text(v, "station"),
            ("members", "studios"): lambda v: _places_text(v, "studio"),
            ("rosters", "slot"): SLOT_NAMES.__getitem__,
            ("rosters", "members"): _joined,
        }

    def sector(self, code: str) -> str:
        return self.sector_names.get(code, code)

    def text(self, kind: str, field: str, value) -> str:
        if field == "active":
            if kind == "rosters":
                return "有效" if value else "取消"
            return "在职" if value else "停用"
        write = self.table.get((kind, field))
        if write is not None:
            return write(value)
        return "" if value is None else str(value)
