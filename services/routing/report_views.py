"""What routing shows of its 社情民意 reports (the rules: :mod:`services.routing.opinion_reports`):
one report as the caller may read it, the list with its filters, and the list's pickers.

Read scope (one rule, :func:`may_read`): the member, its own (drafts too); the office, every
submitted report; a station or studio admin, the submitted reports with a case in its reach (the
office console's, :func:`services.routing.office.reach_of`), showing only those of its cases.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.kernel import auth
from services.kernel.auth import Principal
from services.kernel.http import not_found
from services.routing import lifecycle, office
from services.routing.models import Case, MemberCopy, OpinionReport, OpinionReportCase, SectorCopy
from services.routing.opinion_reports import STATUS_NAMES, case_numbers, own_cases
from services.routing.workdays import CHINA


def _reach(session: Session, who: Principal) -> office.Reach | None:
    """The admins' case reach; None for the office and members (their rule is simpler)."""
    if who.role in ("station_admin", "studio_admin"):
        return office.reach_of(session, who)
    return None


def _visible_cases(session: Session, who: Principal, report: OpinionReport) -> list[Case]:
    numbers = case_numbers(session, report.id)
    cases = list(session.scalars(select(Case).where(Case.tracking_number.in_(numbers))))
    reach = _reach(session, who)
    return [c for c in cases if reach is None or reach.may_see(c)]


def may_read(session: Session, who: Principal, report: OpinionReport) -> bool:
    if who.role == "member":
        return report.member_code == who.member
    if report.status == "draft":
        return False
    if who.is_office:
        return True
    return _reach(session, who) is not None and bool(_visible_cases(session, who, report))


def one(session: Session, who: Principal, number: int) -> dict:
    """A report as the caller may read it: 404 if none, 403 if not the caller's to read."""
    report = session.get(OpinionReport, number)
    if report is None:
        raise not_found(str(number))
    if not may_read(session, who, report):
        raise auth.forbidden()
    return view(session, who, report)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _names(session: Session, model, codes) -> dict[str, str]:
    rows = session.execute(select(model.code, model.name).where(model.code.in_(set(codes))))
    return {code: name for code, name in rows if name}


def summary(report: OpinionReport, members: dict, sectors: dict) -> dict:
    zh, en = STATUS_NAMES[report.status]
    return {
        "report_id": report.id,
        "member": report.member_code,
        "member_name": members.get(report.member_code),
        "sector": report.sector,
        "sector_name": sectors.get(report.sector),
        "title": report.title,
        "status": report.status,
        "status_zh": zh,
        "status_en": en,
        "note": report.note,
        "reviewed_by": report.reviewed_by,
        "created_at": _iso(report.created_at),
        "updated_at": _iso(report.updated_at),
        "submitted_at": _iso(report.submitted_at),
        "reviewed_at": _iso(report.reviewed_at),
    }


def view(session: Session, who: Principal, report: OpinionReport) -> dict:
    """A whole report: its text, and the linked cases the caller may see (their words masked,
    as intake sent them); ``cases_hidden`` counts the others (an admin's reach is narrower)."""
    members = _names(session, MemberCopy, [report.member_code])
    sectors = _names(session, SectorCopy, [report.sector])
    cases = _visible_cases(session, who, report)
    total = len(case_numbers(session, report.id))
    return {
        **summary(report, members, sectors),
        "text": report.text,
        "cases": [
            {
                "tracking_number": c.tracking_number,
                "category": c.category,
                "station": c.station_code,
                "status": c.status,
                "status_name": lifecycle.STATUS_NAMES[c.status],
                "description": c.description,
                "received_at": _iso(c.received_at),
            }
            for c in sorted(cases, key=lambda c: c.tracking_number)
        ],
        "cases_hidden": total - len(cases),
    }


def listing(session: Session, who: Principal, f: dict) -> list[dict]:
    """The reports the caller may read, narrowed by :func:`read_filters`, newest first (≤500).
    A member's own (``member`` naming another is 403); the office's and admins' submitted
    ones; an admin naming a member outside its reach is 403."""
    query = select(OpinionReport)
    if who.role == "member":
        if f["member"] not in (None, who.member):
            raise auth.forbidden()
        query = query.where(OpinionReport.member_code == who.member)
    else:
        query = query.where(OpinionReport.status != "draft")
        reach = _reach(session, who)
        if reach is not None:
            named = {"station": None, "studio": None, "member": f["member"]}
            office.check_named(session, reach, named)
            linked = (
                select(OpinionReportCase.report_id)
                .join(Case, Case.tracking_number == OpinionReportCase.tracking_number)
                .where(reach.condition())
            )
            query = query.where(OpinionReport.id.in_(linked))
    if f["member"]:
        query = query.where(OpinionReport.member_code == f["member"])
    if f["sector"]:
        query = query.where(OpinionReport.sector == f["sector"])
    if f["status"]:
        query = query.where(OpinionReport.status == f["status"])
    if f["year"]:
        when = func.coalesce(OpinionReport.submitted_at, OpinionReport.created_at)
        start = datetime(f["year"], 1, 1, tzinfo=CHINA)
        end = datetime(f["year"] + 1, 1, 1, tzinfo=CHINA)
        query = query.where(when >= start, when < end)
    reports = list(session.scalars(query.order_by(OpinionReport.id.desc()).limit(500)))
    members = _names(session, MemberCopy, [r.member_code for r in reports])
    sectors = _names(session, SectorCopy, [r.sector for r in reports])
    counts = dict(
        session.execute(
            select(OpinionReportCase.report_id, func.count())
            .where(OpinionReportCase.report_id.in_([r.id for r in reports]))
            .group_by(OpinionReportCase.report_id)
        ).all()
    )
    return [{**summary(r, members, sectors), "case_count": counts.get(r.id, 0)} for r in reports]


def choices(session: Session, who: Principal) -> dict[str, list[tuple[str, str]]]:
    """The list's pickers: the members with a report the caller may read, and the sectors."""
    shown = listing(session, who, {"member": None, "sector": None, "status": None, "year": None})
    members = {r["member"]: r["member_name"] or r["member"] for r in shown}
    sectors = session.execute(select(SectorCopy.code, SectorCopy.name).order_by(SectorCopy.code))
    return {
        "member": sorted(members.items()),
        "sector": [(code, name) for code, name in sectors],
    }


def form_choices(session: Session, who: Principal) -> dict:
    """What a member's draft form offers: its cases (open or closed, :func:`own_cases`), the
    sectors (its own first) and its name."""
    member = session.get(MemberCopy, who.member or "")
    sectors = dict(session.execute(select(SectorCopy.code, SectorCopy.name)).all())
    own = member.sector if member is not None else None
    order = ([own] if own else []) + sorted(c for c in sectors if c != own)
    return {
        "member": who.member,
        "name": member.name if member is not None else None,
        "sector": own,
        "sectors": [(code, sectors.get(code) or code) for code in order],
        "cases": [
            {
                "tracking_number": c.tracking_number,
                "category": c.category,
                "status": c.status,
                "status_name": lifecycle.STATUS_NAMES[c.status],
                "description": c.description,
                "received_at": _iso(c.received_at),
            }
            for c in own_cases(session, who.member or "")
        ],
    }
