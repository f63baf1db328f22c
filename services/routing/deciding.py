"""Who may take a case: the candidates of each assignment rule, read from routing's own copy of
the registry, and the decision (``assignment.choose``) for a case.

The groups each rule reads (a station's members, a day's roster, a district's studios) are kept
in the process between transactions until the copy's revision moves (``copy_revisions``, bumped
by every ``registry.*`` event in its transaction: ``services/kernel/copies.py``).
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from services.kernel.copies import CopyMemo
from services.routing import catalogue, loads
from services.routing.assignment import Candidate, Decision, choose
from services.routing.models import (
    Case,
    CopyRevisions,
    MemberCopy,
    MembershipCopy,
    RosterCopy,
    StationCopy,
    StudioCopy,
    StudioMembershipCopy,
)
from services.routing.workdays import CHINA


class MemberView(NamedTuple):
    """What assignment needs of a member copy: plain values, kept between transactions."""

    code: str
    sector: str
    active: bool


Pairs = list[tuple[MemberView, str]]  # (member, role)

# The hot queries of assignment, built once: only their parameters change per case.
_STATION_MEMBERS = (
    select(MemberCopy, MembershipCopy.role)
    .join(MembershipCopy, MembershipCopy.member_code == MemberCopy.code)
    .where(MembershipCopy.station_code == bindparam("station"))
)
_ON_DUTY = select(RosterCopy.members).where(
    RosterCopy.station_code == bindparam("station"),
    RosterCopy.day == bindparam("day"),
    RosterCopy.active,
)
_REGISTRY = CopyMemo(CopyRevisions, "registry")


def _candidates(session: Session, pairs: Pairs) -> list[Candidate]:
    """Members as candidates, with their open-case counts and last assignment times."""
    codes = [m.code for m, _ in pairs]
    if not codes:
        return []
    load = loads.read(session, codes)
    out = []
    for m, role in pairs:
        open_cases, when = load.get(m.code, (0, None))
        out.append(Candidate(m.code, m.sector, role, m.active, open_cases, when))
    return out


def _remembered(session: Session, key: tuple, read) -> Pairs:
    """The ``(member, role)`` pairs ``read()`` gives for ``key``, read again only when the
    registry copy changed (every registry event bumps its revision)."""

    def views():
        return [(MemberView(m.code, m.sector, m.active), role) for m, role in read()]

    return _REGISTRY.get(session, key, views)


def _station_pairs(session: Session, station: str) -> Pairs:
    return _remembered(
        session,
        ("station", station),
        lambda: session.execute(_STATION_MEMBERS, {"station": station}).all(),
    )


def _duty_pairs(session: Session, station: str, day: date) -> Pairs:
    """Members on the station's roster that (Beijing) day, any slot."""
    return _remembered(session, ("duty", station, day), lambda: _read_duty(session, station, day))


def _read_duty(session: Session, station: str, day: date) -> list[tuple[MemberCopy, str]]:
    codes = {
        c
        for row in session.scalars(_ON_DUTY, {"station": station, "day": day})
        for c in row.split(",")
        if c
    }
    if not codes:
        return []
    return [
        (m, "member") for m in session.scalars(select(MemberCopy).where(MemberCopy.code.in_(codes)))
    ]


def _studio_pairs(session: Session, station: str, sectors: list[str]) -> Pairs:
    """Members of the active studios of ``sectors`` in the station's district."""
    return _remembered(
        session,
        ("studio", station, tuple(sectors)),
        lambda: _read_studio_pairs(session, station, sectors),
    )


def _read_studio_pairs(session: Session, station: str, sectors: list[str]):
    st = session.get(StationCopy, station)
    if st is None or not sectors:
        return []
    studios = [
        s.code
        for s in session.scalars(
            select(StudioCopy).where(StudioCopy.district == st.district, StudioCopy.active)
        )
        if set(s.sectors.split(",")) & set(sectors)
    ]
    if not studios:
        return []
    return (
        session.execute(
            select(MemberCopy, StudioMembershipCopy.role)
            .join(StudioMembershipCopy, StudioMembershipCopy.member_code == MemberCopy.code)
            .where(StudioMembershipCopy.studio_code.in_(studios))
        )
        .unique()
        .all()
    )


def candidates(session: Session, station: str) -> list[Candidate]:
    """The station's members, with their open cases and last assignment."""
    return _candidates(session, _station_pairs(session, station))


def decide(session: Session, case: Case) -> Decision:
    """The assignment decision for a case, from routing's own copy of the registry.

    The rules (``assignment.choose``) take the first group that has anyone: so the groups are
    fetched in the rules' order and stop at the first that can decide, and the open-case
    figures that break ties are counted for that group only.
    """
    sectors = catalogue.sectors_for(case.category)
    if case.member_hint:
        m = session.get(MemberCopy, case.member_hint)
        if m is not None and m.active:
            return choose([], sectors, Candidate(m.code, m.sector, "member", m.active))

    def usable(pairs, by_sector=True):
        return [(m, r) for m, r in pairs if m.active and (not by_sector or m.sector in sectors)]

    day = case.received_at.astimezone(CHINA).date()
    duty = usable(_duty_pairs(session, case.station_code, day))
    if duty:
        return choose([], sectors, on_duty=_candidates(session, duty))
    station = _station_pairs(session, case.station_code)
    matching = usable(station)
    if matching:
        return choose(_candidates(session, matching), sectors)
    studio = usable(_studio_pairs(session, case.station_code, sectors), by_sector=False)
    if studio:
        return choose([], sectors, studio_members=_candidates(session, studio))
    leads = [(m, r) for m, r in usable(station, by_sector=False) if r == "lead"]
    return choose(_candidates(session, leads), sectors)
