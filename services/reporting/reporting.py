"""Reporting rules: store each event once, project it, read and rebuild the figures."""

from __future__ import annotations

import json

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from services.kernel import logs
from services.reporting.models import MonthlyFigure, StoredEvent
from services.reporting.projections import increments


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


def project(session: Session, event_type: str, payload: dict, occurred_at) -> None:
    for month, metric, dimension, key, delta in increments(event_type, payload, occurred_at):
        # One atomic UPDATE: concurrent workers never lose each other's increments.
        bumped = session.execute(
            update(MonthlyFigure)
            .where(
                MonthlyFigure.month == month,
                MonthlyFigure.metric == metric,
                MonthlyFigure.dimension == dimension,
                MonthlyFigure.key == key,
            )
            .values(value=MonthlyFigure.value + delta)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not bumped:  # a race on this insert fails the transaction, and the inbox retries
            session.add(
                MonthlyFigure(month=month, metric=metric, dimension=dimension, key=key, value=delta)
            )
            session.flush()


def rebuild(session: Session, progress=None) -> int:
    """Drop the figures and project the whole store again, in arrival order."""
    session.execute(delete(MonthlyFigure))
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


def monthly(session: Session, month: str) -> dict:
    """All figures of a month: ``{"city": {metric: n}, "station": {code: {metric: n}}, ...}``."""
    out: dict = {"month": month, "city": {}}
    for f in session.scalars(select(MonthlyFigure).where(MonthlyFigure.month == month)):
        if f.dimension == "city":
            out["city"][f.metric] = f.value
        else:
            out.setdefault(f.dimension, {}).setdefault(f.key, {})[f.metric] = f.value
    return out


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


def event_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(StoredEvent))
