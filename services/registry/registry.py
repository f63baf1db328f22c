"""The registry's kinds of record in one table, so reading one by code, creating, updating
and deactivating are written once for sectors, stations, studios and members.

Each kind saves through its own rules (``places.py``, ``members.py``), which all write through
``saving.save_row``: validate, save, bump the revision, announce the change.
"""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import ValidationError
from sqlalchemy.orm import Session

from services.kernel.http import ApiError
from services.registry import records as R
from services.registry.members import save_member
from services.registry.models import Member, Sector, Station, Studio
from services.registry.places import save_sector, save_station, save_studio
from services.registry.schemas import CODE


@dataclass(frozen=True)
class Kind:
    model: type
    save: object
    record: object
    payload: object
    name_zh: str
    name: str


KINDS = {
    "sectors": Kind(Sector, save_sector, R.sector_record, R.sector_payload, "界别", "sector"),
    "stations": Kind(
        Station, save_station, R.station_record, R.station_payload, "工作站", "station"
    ),
    "studios": Kind(Studio, save_studio, R.studio_record, R.studio_payload, "工作室", "studio"),
    "members": Kind(Member, save_member, R.member_record, R.member_payload, "委员", "member"),
}


def get(session: Session, kind: str, code: str):
    """The row of ``kind`` under ``code``, or a 404; a code that could not be one (a NUL, a
    thousand characters) is not looked up."""
    row = session.get(KINDS[kind].model, code) if could_be_code(code) else None
    if row is None:
        k = KINDS[kind]
        raise ApiError(
            "not_found", f"未找到{k.name_zh}: {code}", f"{k.name} not found: {code}", status=404
        )
    return row


def could_be_code(code) -> bool:
    return isinstance(code, str) and CODE.regex.fullmatch(code) is not None


def find(session: Session, kind: str, code: str) -> dict | None:
    """The record as its announcement carries it (no phone), or None."""
    row = session.get(KINDS[kind].model, code) if could_be_code(code) else None
    return None if row is None else KINDS[kind].payload(row)


def create(session: Session, kind: str, data: dict):
    """Save a new record. The same data again is harmless; other data under a used code is not."""
    k = KINDS[kind]
    code = data.get("code") if isinstance(data, dict) else None
    existing = session.get(k.model, code) if could_be_code(code) else None
    if existing is not None:
        # validates field by field first; a change is refused (the caller's transaction rolls
        # back), the same data again answers "unchanged"
        checked = k.save(session, data)
        if checked[1]:
            raise ApiError(
                "duplicate_code",
                f"编号已存在: {code}（修改请用 PATCH /{kind}/{code}）",
                f"code already exists: {code} (use PATCH /{kind}/{code} to change it)",
                fields={"code": [f"编号已存在 / code already exists: {code}"]},
                status=409,
            )
        return checked
    return k.save(session, data)


def update(session: Session, kind: str, code: str, changes: dict):
    """Apply some fields to an existing record; the code itself cannot change."""
    k = KINDS[kind]
    row = get(session, kind, code)
    if "code" in changes and changes["code"] != code:
        raise ValidationError({"code": ["编号不能修改 / the code cannot change"]})
    return k.save(session, {**k.record(row), **changes, "code": code})


def deactivate(session: Session, kind: str, code: str):
    return update(session, kind, code, {"active": False})
