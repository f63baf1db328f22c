"""Reporting rules: store each event once, project it, read and rebuild the figures.

Two kinds of figure (docs/statistics.md): *counts of what happened in a month* (issues
received, responses given, reception days held …) keyed by the month of the event, and
*cohort figures* of the issues that arrived in a month (how many of them were answered,
resolved, on time, rated satisfied …) keyed by the month the issue arrived, from which the
rates are computed. Both are kept incrementally; :func:`rebuild` replays the store into the same.
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.kernel import logs
from services.reporting.models import (
    ActivityFact,
    CaseFact,
    MemberDim,
    MonthlyFigure,
    StationDim,
    StoredEvent,
    StudioDim,
)
from services.reporting.projections import issue_breakdowns, month_of

UNKNOWN_DISTRICT = "未知区县"


class FactMissing(Exception):
    """A routing event arrived before the issue it is about: retried shortly (by the inbox)."""


def record(session: Session, event: dict) -> bool:
    """Append ``event`` to the store and project it; False if it was already there."""
    event_id = str(event["event_id"])
    logs.bind(event_id=event_id, tracking_number=event["payload"].get("tracking_number"))
    if session.scalar(select(StoredEvent.seq).where(StoredEvent.event_id == event_id)):
        return False
    session.add(
        StoredEvent(
            event_id=event_id,
            type=event["type"],
            source=event["source"],
            version=event["version"],
            occurred_at=event["occurred_at"],
            payload=json.dumps(event["payload"], ensure_ascii=False),
        )
    )
    project(session, event["type"], event["payload"], event["occurred_at"])
    return True


def _upsert(dialect: str):
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(MonthlyFigure)
    return stmt.on_conflict_do_update(
        index_elements=["month", "metric", "dimension", "key"],
        set_={"value": MonthlyFigure.value + stmt.excluded.value},
    )


_UPSERTS = {name: _upsert(name) for name in ("sqlite", "postgresql")}  # built, compiled once


def bump(session: Session, month: str, metric: str, keys, delta: int = 1) -> None:
    """Add ``delta`` to one figure under each of ``keys``, by atomic upserts: concurrent
    workers never lose each other's increments."""
    rows = [
        {"month": month, "metric": metric, "dimension": d, "key": str(k), "value": delta}
        for d, k in keys
    ]
    if rows:
        session.execute(_UPSERTS[session.bind.dialect.name], rows)


def _fact(session: Session, payload: dict) -> CaseFact:
    fact = session.get(CaseFact, payload["tracking_number"])
    if fact is None:
        raise FactMissing(payload["tracking_number"])
    return fact


def _place(session: Session, fact: CaseFact, station: str | None) -> None:
    if station and station != fact.station:
        dim = session.get(StationDim, station)
        fact.station, fact.district = station, dim.district if dim else UNKNOWN_DISTRICT


def project(session: Session, event_type: str, payload: dict, occurred_at) -> None:
    handler = PROJECTIONS.get(event_type)
    if handler is not None:  # other events are kept in the store, counted nowhere
        handler(session, payload, month_of(occurred_at), occurred_at)


def _station_saved(session, p, month, at):
    dim = session.get(StationDim, p["code"]) or StationDim(code=p["code"])
    dim.name, dim.district, dim.active = p["name"], p.get("district", UNKNOWN_DISTRICT), p["active"]
    session.add(dim)


def _member_saved(session, p, month, at):
    dim = session.get(MemberDim, p["code"]) or MemberDim(code=p["code"])
    dim.name, dim.level, dim.sector, dim.active = p["name"], p["level"], p["sector"], p["active"]
    session.add(dim)


def _studio_saved(session, p, month, at):
    dim = session.get(StudioDim, p["code"]) or StudioDim(code=p["code"])
    dim.name, dim.district = p.get("name", ""), p.get("district", UNKNOWN_DISTRICT)
    dim.active = p["active"]
    session.add(dim)


def _activity(session, p, month, at):
    """An activity counts in the month it was held (its date, a Beijing calendar day)."""
    if session.get(ActivityFact, p["activity_id"]) is not None:
        return
    held = p["date"][:7]
    place = session.get(StationDim, p["station"]) if p.get("station") else None
    studio = session.get(StudioDim, p["studio"]) if p.get("studio") else None
    district = (place or studio).district if (place or studio) else UNKNOWN_DISTRICT
    keys = [("city", "-"), ("district", district), ("kind", p["kind"])]
    keys.append(("station", p["station"]) if p.get("station") else ("studio", p["studio"]))
    session.add(
        ActivityFact(
            activity_id=p["activity_id"],
            month=held,
            kind=p["kind"],
            people_served=int(p.get("people_served") or 0),
        )
    )
    bump(session, held, "activities_held", keys)
    if p["kind"] == "reception_day":
        bump(session, held, "reception_days", keys)
    if p.get("people_served"):
        bump(session, held, "people_served", keys, int(p["people_served"]))


def _issue_received(session, p, month, at):
    station = session.get(StationDim, p["station"])
    received = datetime.fromisoformat(p["received_at"]) if p.get("received_at") else at
    fact = session.get(CaseFact, p["tracking_number"])
    if fact is not None:
        return  # the same issue announced twice (a replay from intake's outbox)
    fact = CaseFact(
        tracking_number=p["tracking_number"],
        received_month=month_of(received),
        received_at=received,
        station=p["station"],
        district=station.district if station else UNKNOWN_DISTRICT,
        channel=p["channel"],
        category=p["category"],
        rated=False,
    )
    session.add(fact)
    session.flush()
    bump(session, fact.received_month, "issues_received", issue_breakdowns(fact))


def _rejected(session, p, month, at):
    station = session.get(StationDim, p.get("station") or "")
    district = station.district if station else UNKNOWN_DISTRICT
    bump(
        session,
        month,
        "submissions_rejected",
        [("city", "-"), ("district", district), ("station", p.get("station") or "?")],
    )


def _assigned(session, p, month, at):
    fact = _fact(session, p)
    first = fact.member is None
    member = session.get(MemberDim, p["member"])
    fact.member = p["member"]
    fact.member_level = member.level if member else "?"
    fact.member_sector = member.sector if member else "?"
    _place(session, fact, p.get("station"))
    if first:
        bump(session, month, "issues_assigned", issue_breakdowns(fact))


def _counted(metric: str, cohort: str | None = None, on_time: str | None = None):
    """A routing milestone: counted in its own month, and (if ``cohort``) in the issue's."""

    def handler(session, p, month, at):
        fact = _fact(session, p)
        _place(session, fact, p.get("station"))
        keys = issue_breakdowns(fact)
        bump(session, month, metric, keys)
        if cohort:
            bump(session, fact.received_month, cohort, keys)
            if on_time and p.get("on_time"):
                bump(session, fact.received_month, on_time, keys)
        if metric == "issues_resolved" and not fact.handled:
            fact.handled = True
            bump(session, month, "matters_handled", keys)
        if metric == "issues_resolved":
            _serve_reporters(session, fact, month, keys)
        if metric == "issues_responded" and fact.first_response_minutes is None:
            fact.first_response_minutes = int(
                (datetime.fromisoformat(p["at"]) - fact.received_at).total_seconds() // 60
            )

    return handler


def _serve_reporters(session, main: CaseFact, month: str, keys) -> None:
    """A resolved matter serves everyone who reported it: the main case and every report merged
    into it (directly or through another), each counted once, in the month of the resolution
    that first covered it (a report merged in after a reopening counts when it is resolved)."""
    group, frontier = [main], [main.tracking_number]
    while frontier:
        merged = session.scalars(select(CaseFact).where(CaseFact.merged_into.in_(frontier))).all()
        merged = [f for f in merged if f not in group]
        group += merged
        frontier = [f.tracking_number for f in merged]
    new = [f for f in group if not f.served]
    for f in new:
        f.served = True
    if new:
        bump(session, month, "reporters_served", keys, len(new))


def _merged(session, p, month, at):
    """A report merged into another case: still an issue received, no longer a matter itself."""
    fact = _fact(session, p)
    if fact.merged_into is not None:
        return
    fact.merged_into = p["into"]
    keys = issue_breakdowns(fact)
    bump(session, month, "issues_merged", keys)
    bump(session, fact.received_month, "cohort_merged", keys)


def _rated(session, p, month, at):
    fact = _fact(session, p)
    keys = issue_breakdowns(fact)
    bump(session, month, f"rated_{p['rating']}", keys)
    if not fact.rated:
        fact.rated = True
        bump(session, fact.received_month, "cohort_rated", keys)
        if p["rating"] in ("satisfied", "basically_satisfied"):
            bump(session, fact.received_month, "cohort_satisfied", keys)
    if p.get("reopened"):
        bump(session, month, "issues_reopened", keys)


def _transferred(session, p, month, at):
    fact = _fact(session, p)
    bump(session, month, "cases_transferred", issue_breakdowns(fact))  # where it was
    fact.member = p["member"]
    member = session.get(MemberDim, p["member"])
    fact.member_level = member.level if member else "?"
    fact.member_sector = member.sector if member else "?"
    _place(session, fact, p.get("station"))


def _waiting(session, p, month, at):
    fact = _fact(session, p)
    bump(session, month, "issues_waiting", issue_breakdowns(fact))


PROJECTIONS = {
    "registry.station_saved": _station_saved,
    "registry.member_saved": _member_saved,
    "registry.studio_saved": _studio_saved,
    "intake.activity_recorded": _activity,
    "intake.issue_received": _issue_received,
    "intake.submission_rejected": _rejected,
    "routing.issue_assigned": _assigned,
    "routing.issue_waiting": _waiting,
    "routing.issue_transferred": _transferred,
    "routing.issue_responded": _counted(
        "issues_responded", "cohort_responded", "cohort_responded_on_time"
    ),
    "routing.issue_resolved": _counted(
        "issues_resolved", "cohort_resolved", "cohort_resolved_on_time"
    ),
    "routing.issue_closed_unresolved": _counted(
        "issues_closed_unresolved", "cohort_closed_unresolved"
    ),
    "routing.issue_reopened": _counted("issues_reopened"),
    "routing.issue_rated": _rated,
    "routing.issue_merged": _merged,
    "routing.issue_overdue": _counted("issues_overdue"),
    "routing.issue_escalated": _counted("issues_escalated"),
}


def rebuild(session: Session, progress=None) -> int:
    """Drop every projection and replay the whole store into them, in arrival order."""
    for model in (MonthlyFigure, CaseFact, ActivityFact, StationDim, MemberDim, StudioDim):
        session.execute(delete(model))
    total = session.scalar(select(func.count()).select_from(StoredEvent))
    done = 0
    for ev in session.scalars(
        select(StoredEvent).order_by(StoredEvent.seq).execution_options(yield_per=1000)
    ):
        project(session, ev.type, json.loads(ev.payload), ev.occurred_at)
        done += 1
        if progress:
            progress(done, total)
    return done


# -- reading ------------------------------------------------------------------------------------

RATES = {  # rate: (numerator, denominator), both cohort figures of the month's issues
    "response_rate": ("cohort_responded", "matters_received"),
    "resolution_rate": ("cohort_resolved", "matters_received"),
    "on_time_rate": ("cohort_resolved_on_time", "cohort_resolved"),
    "satisfaction_rate": ("cohort_satisfied", "cohort_rated"),
}


def with_rates(figures: dict) -> dict:
    out = dict(figures)
    if figures.get("issues_received"):
        # reports merged into another case are answered and resolved as that one matter
        out["matters_received"] = figures["issues_received"] - figures.get("cohort_merged", 0)
    for rate, (num, den) in RATES.items():
        if out.get(den):
            out[rate] = round(out.get(num, 0) / out[den], 4)
    return out


def figures(session: Session, months: list[str]) -> dict:
    """Summed figures of ``months``: ``{"city": {metric: n}, "station": {code: {...}}, …}``."""
    out: dict = {"city": {}}
    rows = session.execute(
        select(
            MonthlyFigure.dimension,
            MonthlyFigure.key,
            MonthlyFigure.metric,
            func.sum(MonthlyFigure.value),
        )
        .where(MonthlyFigure.month.in_(months))
        .group_by(MonthlyFigure.dimension, MonthlyFigure.key, MonthlyFigure.metric)
    )
    for dimension, key, metric, value in rows:
        if dimension == "city":
            out["city"][metric] = int(value)
        else:
            out.setdefault(dimension, {}).setdefault(key, {})[metric] = int(value)
    out["city"] = with_rates(out["city"])
    for dimension, keys in out.items():
        if dimension != "city":
            for key in keys:
                keys[key] = with_rates(keys[key])
    minutes = sorted(
        m
        for (m,) in session.execute(
            select(CaseFact.first_response_minutes).where(
                CaseFact.received_month.in_(months), CaseFact.first_response_minutes.isnot(None)
            )
        )
    )
    if minutes:
        out["city"]["median_minutes_to_first_response"] = statistics.median(minutes)
    return out


def registry_counts(session: Session) -> dict:
    """Stations, studios and members of each level, as the registry last announced them."""
    levels = dict(
        session.execute(
            select(MemberDim.level, func.count()).where(MemberDim.active).group_by(MemberDim.level)
        ).all()
    )
    return {
        "stations": session.scalar(
            select(func.count()).select_from(StationDim).where(StationDim.active)
        ),
        "studios": session.scalar(
            select(func.count()).select_from(StudioDim).where(StudioDim.active)
        ),
        "members_by_level": levels,
        "members": sum(levels.values()),
    }


def monthly(session: Session, month: str) -> dict:
    return {"month": month, **figures(session, [month]), "registry": registry_counts(session)}


def yearly(session: Session, year: int) -> dict:
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    return {"year": year, **figures(session, months), "registry": registry_counts(session)}


def trend(session: Session, months: list[str], metrics: list[str]) -> dict:
    """City figures month by month: ``{metric: [n per month]}``."""
    values = {
        (m, k): int(v)
        for m, k, v in session.execute(
            select(MonthlyFigure.month, MonthlyFigure.metric, MonthlyFigure.value).where(
                MonthlyFigure.dimension == "city",
                MonthlyFigure.month.in_(months),
                MonthlyFigure.metric.in_(metrics),
            )
        )
    }
    return {metric: [values.get((m, metric), 0) for m in months] for metric in metrics}


def all_figures(session: Session) -> list[tuple]:
    return [
        tuple(r)
        for r in session.execute(
            select(
                MonthlyFigure.month,
                MonthlyFigure.metric,
                MonthlyFigure.dimension,
                MonthlyFigure.key,
                MonthlyFigure.value,
            ).order_by(
                MonthlyFigure.month,
                MonthlyFigure.metric,
                MonthlyFigure.dimension,
                MonthlyFigure.key,
            )
        )
    ]


def issue_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CaseFact))


def event_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(StoredEvent))
