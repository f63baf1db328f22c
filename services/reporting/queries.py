"""Read queries for the HTTP side: a month's, a range's or a year's figures with their rates
and the median, month-by-month trends, the registry's counts (docs/statistics.md).

The figures are read as the projections keep them: one row per breakdown key of a month
(``monthly_rollups``), or summed by the database over several months (``monthly_figures``).
"""

from __future__ import annotations

import statistics

import orjson
from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from services.reporting.event_store import unknown_events
from services.reporting.models import (
    CaseFact,
    LeaderDim,
    MemberDim,
    MonthlyFigure,
    MonthlyRollup,
    SectorDim,
    StationDim,
    StudioDim,
)

RATES = {  # rate: (numerator, denominator), both cohort figures of the month's issues
    "response_rate": ("cohort_responded", "matters_received"),
    "resolution_rate": ("cohort_resolved", "matters_received"),
    "on_time_rate": ("cohort_resolved_on_time", "cohort_resolved"),
    "satisfaction_rate": ("cohort_satisfied", "cohort_rated"),
}


def with_rates(figures: dict) -> dict:
    out = dict(figures)
    _add_rates(out)
    return out


def _add_rates(figures: dict) -> dict:
    get = figures.get
    received = get("issues_received")
    if received:
        # reports merged into another case are answered and resolved as that one matter
        figures["matters_received"] = received - get("cohort_merged", 0)
    for rate, num, den in _RATE_PAIRS:
        of = get(den)
        if of:
            figures[rate] = round(get(num, 0) / of, 4)
    return figures


_RATE_PAIRS = tuple((rate, num, den) for rate, (num, den) in RATES.items())


_ROLLUPS = {
    dialect: f'SELECT dimension, "key", figures FROM monthly_rollups WHERE month = {mark}'
    for dialect, mark in (("sqlite", "?"), ("postgresql", "%s"))
}


def _per_key(session: Session, months: list[str]):
    """``(dimension, key, {metric: value})`` of the months, summed, one row per key: a month's
    are read as kept (``monthly_rollups``); for several, the database sums the figures and
    builds each key's as one JSON object. Either way Python handles a few thousand rows rather
    than one per figure."""
    if len(months) == 1:  # one month: each key's figures are kept as one object already
        cursor = session.connection().connection.driver_connection.cursor()
        try:
            cursor.execute(_ROLLUPS[session.bind.dialect.name], (months[0],))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        loads = orjson.loads
        for dimension, key, values in rows:
            yield dimension, key, loads(values)
        return
    pg = session.bind.dialect.name == "postgresql"
    agg = func.json_object_agg if pg else func.json_group_object
    inner = (
        select(
            MonthlyFigure.dimension,
            MonthlyFigure.key,
            MonthlyFigure.metric,
            func.sum(MonthlyFigure.value).label("value"),
        )
        .where(MonthlyFigure.month.in_(months))
        .group_by(MonthlyFigure.dimension, MonthlyFigure.key, MonthlyFigure.metric)
    ).subquery()
    figures = cast(agg(inner.c.metric, inner.c.value), Text)  # text: parsed by orjson, fast
    query = select(inner.c.dimension, inner.c.key, figures).group_by(inner.c.dimension, inner.c.key)
    for dimension, key, values in session.connection().execute(query):
        yield dimension, key, orjson.loads(values)


def median_minutes(session: Session, months: list[str]):
    """The median of the months' minutes to first response, read in index order
    (``ix_case_facts_month_minutes``): a count and one seek, however many issues."""
    where = (
        CaseFact.received_month.in_(months)
        if len(months) > 1
        else CaseFact.received_month == months[0],
        CaseFact.first_response_minutes.isnot(None),
    )
    conn = session.connection()
    n = conn.scalar(select(func.count()).select_from(CaseFact).where(*where))
    if not n:
        return None
    middle = conn.scalars(
        select(CaseFact.first_response_minutes)
        .where(*where)
        .order_by(CaseFact.first_response_minutes)
        .offset((n - 1) // 2)
        .limit(1 if n % 2 else 2)
    ).all()
    return statistics.median(middle)


def figures(session: Session, months: list[str]) -> dict:
    """Summed figures of ``months``: ``{"city": {metric: n}, "station": {code: {...}}, …}``."""
    session.flush()  # the queries below run on the connection, past the ORM's autoflush
    out: dict = {"city": {}}
    for dimension, key, values in _per_key(session, months):  # values: fresh dicts of ints
        if dimension == "city":
            out["city"] = _add_rates(values)
        else:
            out.setdefault(dimension, {})[key] = _add_rates(values)
    out["city"]["median_minutes_to_first_response"] = median_minutes(session, months)
    out["city"]["members_active"] = members_active(out.get("member", {}))
    out["city"]["members_served"] = members_served(out.get("member", {}))
    return blanks(out)


# What a member does that makes them active in a month (members_active, figures.yaml).
ACTIVE_METRICS = ("activities_joined", "issues_responded", "issues_resolved")
# Figures kept for the whole city only: per row they are undefined, not 0.
CITY_ONLY = ("median_minutes_to_first_response", "members_active", "members_served")
# What a member does that makes them one who served (members_served, figures.yaml): acted on a
# case as its holder, attended a reception day, made a report, joined a consultation or a visit.
SERVED_METRICS = (
    "issues_responded",
    "issues_resolved",
    "issues_closed_unresolved",
    "reception_days_joined",
    "reports_submitted",
    "consultations_joined",
    "leader_visits_joined",
)


def members_active(members: dict[str, dict]) -> int:
    """The members with an activity, a first response or a resolution in the months: each
    member's row is already summed over the months, so each member counts once."""
    return sum(1 for f in members.values() if any(f.get(m) for m in ACTIVE_METRICS))


def members_served(members: dict[str, dict]) -> int:
    """The members who served in the months (:data:`SERVED_METRICS`), each once: their rows are
    summed over the months already, so a year counts a member once, not once a month."""
    return sum(1 for f in members.values() if any(f.get(m) for m in SERVED_METRICS))


def blanks(report: dict) -> dict:
    """Every undefined figure said as such: a rate with nothing to divide by (nobody rated) and
    a city-only figure on a breakdown's row are ``None`` (JSON null, a blank cell, "—" on the
    dashboard), never absent and never 0. Counts not recorded stay absent (read as 0)."""
    for dimension, rows in report.items():
        if dimension == "city":
            for rate in RATES:
                rows.setdefault(rate, None)
            continue
        if not isinstance(rows, dict):
            continue
        for figures in rows.values():
            for rate in RATES:
                figures.setdefault(rate, None)
            for key in CITY_ONLY:
                figures[key] = None
    return report


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


def over_months(session: Session, months: list[str]) -> dict:
    """The figures of several whole months summed (counts and cohorts; rates and the median
    computed over them all)."""
    return {"months": months, **figures(session, months), "registry": registry_counts(session)}


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


def only(report: dict, breakdown: str | None, *head: str) -> dict:
    """The report, or only its head fields and one breakdown."""
    if not breakdown:
        return report
    return {**{k: report[k] for k in head}, breakdown: report.get(breakdown, {})}


def own_counts(session: Session) -> dict:
    """What reconciliation asks of reporting's own store: the issues counted, and the events of a
    type no projection knows."""
    return {"issues": issue_count(session), "unknown_events": unknown_events(session)}


def names(session: Session) -> dict[str, dict[str, str]]:
    """What the dashboard's tables call each row: ``{"station": {code: name}, "studio": …,
    "member": …}``; stations and studios the active ones (a table lists them even without
    figures), members every one the registry announced (only those with figures are listed)."""
    out = {}
    for dimension, model, only_active in (
        ("station", StationDim, True),
        ("studio", StudioDim, True),
        ("member", MemberDim, False),
        ("leader", LeaderDim, False),
        ("sector", SectorDim, False),
    ):
        query = select(model.code, model.name)
        if only_active:
            query = query.where(model.active)
        out[dimension] = {code: name or code for code, name in session.execute(query)}
    return out


def places(session: Session) -> dict[str, tuple[float, float]]:
    """The active stations with coordinates: ``{code: (lat, lng)}`` (the dashboard's map)."""
    query = select(StationDim.code, StationDim.lat, StationDim.lng).where(
        StationDim.active, StationDim.lat.is_not(None), StationDim.lng.is_not(None)
    )
    return {code: (lat, lng) for code, lat, lng in session.execute(query)}


def years(session: Session) -> list[int]:
    """The years that have figures, for the dashboard's year picker."""
    found = session.scalars(select(func.substr(MonthlyRollup.month, 1, 4)).distinct()).all()
    return sorted(int(y) for y in found if y and y.isdigit())
