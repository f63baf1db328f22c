"""The shapes of a record: what its ``registry.<kind>_saved`` announcement carries, and the
whole record as the office writes it.

An announcement carries the whole record and its revision, so routing and intake keep copies
that converge whatever order events arrive in. A member's phone is personal data: it is in the
record the office reads, never in an announcement.
"""

from __future__ import annotations

from services.registry.models import Member, Sector, Station, Studio

# -- what events carry (no personal data) ------------------------------------------------------


def sector_payload(s: Sector) -> dict:
    return {"code": s.code, "name": s.name, "revision": s.revision}


def station_payload(s: Station) -> dict:
    return {
        "code": s.code,
        "name": s.name,
        "district": s.district,
        "kind": s.kind,
        "street": s.street,
        "lat": s.lat,  # WGS-84; null until placed
        "lng": s.lng,
        "active": s.active,
        "revision": s.revision,
    }


def studio_payload(s: Studio) -> dict:
    return {
        "code": s.code,
        "name": s.name,
        "district": s.district,
        "location": s.location,
        "sectors": [x.sector_code for x in s.sectors],
        "lat": s.lat,
        "lng": s.lng,
        "active": s.active,
        "revision": s.revision,
    }


def member_payload(m: Member) -> dict:
    return {
        "code": m.code,
        "name": m.name,
        "level": m.level,
        "sector": m.sector_code,
        "district": m.district,
        "expertise": list(m.expertise or []),
        "term": m.term,
        "active": m.active,
        "revision": m.revision,
        "stations": [{"station": ms.station_code, "role": ms.role} for ms in m.memberships],
        "studios": [{"studio": ms.studio_code, "role": ms.role} for ms in m.studio_memberships],
    }


# -- the whole record as the office writes it (the input form; phone included) -----------------


def without(payload: dict, *keys: str) -> dict:
    return {k: v for k, v in payload.items() if k not in keys}


def sector_record(s: Sector) -> dict:
    return {"code": s.code, "name": s.name}


def station_record(s: Station) -> dict:
    return without(station_payload(s), "revision")


def studio_record(s: Studio) -> dict:
    return without(studio_payload(s), "revision")


def member_record(m: Member) -> dict:
    return without(member_payload(m), "revision") | {"phone": m.phone}
