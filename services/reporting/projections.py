"""The projections: one handler per event type, and their table (:data:`PROJECTIONS`).

Two kinds of figure (docs/statistics.md): *counts of what happened in a month* (issues
received, responses given, reception days held …) keyed by the month of the event, and
*cohort figures* of the issues that arrived in a month (how many of them were answered,
resolved, on time, rated satisfied …) keyed by the month the issue arrived, from which the
rates are computed.

A handler reads and changes the projections' state through one interface: the database on the
live path (:class:`~services.reporting.session_facts.SessionFacts`), memory during a rebuild
(:class:`~services.reporting.facts.MemoryFacts`), so both give the same figures.
"""

from __future__ import annotations

from datetime import datetime

from services.reporting.breakdowns import UNKNOWN_DISTRICT, month_of
from services.reporting.merges import served_group
from services.reporting.models import MemberDim, StationDim, StudioDim
from services.reporting.practice import HANDLERS as PRACTICE_HANDLERS


class FactMissing(Exception):
    """A routing event arrived before the issue it is about: retried shortly (by the inbox)."""


def _fact(facts, payload: dict):
    fact = facts.case(payload["tracking_number"])
    if fact is None:
        raise FactMissing(payload["tracking_number"])
    return fact


def _place(facts, fact, station: str | None) -> None:
    if station and station != fact.station:
        dim = facts.station(station)
        fact.station, fact.district = station, dim.district if dim else UNKNOWN_DISTRICT


def project(facts, event_type: str, payload: dict, occurred_at) -> None:
    """Add one event to the figures. ``facts`` is the projections' state: the database on the
    live path (:class:`SessionFacts`), memory during a rebuild (:class:`MemoryFacts`)."""
    handler = PROJECTIONS.get(event_type)
    if handler is not None:  # other events are kept in the store (see unknown_events)
        handler(facts, payload, month_of(occurred_at), occurred_at)


def coordinates(p: dict) -> dict:
    """``lat``/``lng`` of a station or studio event (WGS-84 decimal degrees). Absent (an event
    from before the registry sent them), null, or not a possible coordinate: unknown (None), and
    the place is left off the dashboard's map."""
    try:
        lat, lng = float(p.get("lat")), float(p.get("lng"))
    except (TypeError, ValueError):
        return {"lat": None, "lng": None}
    if not (-90 <= lat <= 90 and -180 <= lng <= 180) or lat != lat or lng != lng:
        return {"lat": None, "lng": None}
    return {"lat": lat, "lng": lng}


def _station_saved(facts, p, month, at):
    facts.save_dim(
        StationDim,
        p["code"],
        name=p["name"],
        district=p.get("district", UNKNOWN_DISTRICT),
        active=p["active"],
        **coordinates(p),
    )


def _member_saved(facts, p, month, at):
    facts.save_dim(
        MemberDim,
        p["code"],
        name=p["name"],
        level=p["level"],
        sector=p["sector"],
        active=p["active"],
    )


def _studio_saved(facts, p, month, at):
    facts.save_dim(
        StudioDim,
        p["code"],
        name=p.get("name", ""),
        district=p.get("district", UNKNOWN_DISTRICT),
        active=p["active"],
        **coordinates(p),
    )


def _activity(facts, p, month, at):
    """An activity counts in the month it was held (its date, a Beijing calendar day)."""
    if facts.activity_seen(p["activity_id"]):
        return
    held = p["date"][:7]
    place = facts.station(p["station"]) if p.get("station") else None
    studio = facts.studio(p["studio"]) if p.get("studio") else None
    district = (place or studio).district if (place or studio) else UNKNOWN_DISTRICT
    keys = [("city", "-"), ("district", district), ("kind", p["kind"])]
    keys.append(("station", p["station"]) if p.get("station") else ("studio", p["studio"]))
    facts.add_activity(
        activity_id=p["activity_id"],
        month=held,
        kind=p["kind"],
        people_served=int(p.get("people_served") or 0),
    )
    facts.bump(held, "activities_held", keys)
    if p["kind"] == "reception_day":
        facts.bump(held, "reception_days", keys)
    if p.get("people_served"):
        facts.bump(held, "people_served", keys, int(p["people_served"]))
    members = sorted(set(p.get("members") or ()))
    if members:  # who took part: members_active counts the members with any (queries.py)
        facts.bump(held, "activities_joined", [("member", code) for code in members])
        if p["kind"] == "reception_day":  # members_served counts those who attended one
            facts.bump(held, "reception_days_joined", [("member", code) for code in members])


def _issue_received(facts, p, month, at):
    if facts.case(p["tracking_number"]) is not None:
        return  # the same issue announced twice (a replay from intake's outbox)
    station = facts.station(p["station"])
    received = datetime.fromisoformat(p["received_at"]) if p.get("received_at") else at
    fact = facts.add_case(
        tracking_number=p["tracking_number"],
        received_month=month_of(received),
        received_at=received,
        station=p["station"],
        district=station.district if station else UNKNOWN_DISTRICT,
        channel=p["channel"],
        category=p["category"],
    )
    facts.bump(fact.received_month, "issues_received", facts.breakdowns(fact))


def _rejected(facts, p, month, at):
    station = facts.station(p.get("station") or "")
    district = station.district if station else UNKNOWN_DISTRICT
    facts.bump(
        month,
        "submissions_rejected",
        [("city", "-"), ("district", district), ("station", p.get("station") or "?")],
    )


def _give_to(facts, fact, p) -> None:
    member = facts.member(p["member"])
    fact.member = p["member"]
    fact.member_level = member.level if member else "?"
    fact.member_sector = member.sector if member else "?"
    _place(facts, fact, p.get("station"))


def _assigned(facts, p, month, at):
    fact = _fact(facts, p)
    first = fact.member is None
    _give_to(facts, fact, p)
    if first:
        facts.bump(month, "issues_assigned", facts.breakdowns(fact))


def _counted(metric: str, cohort: str | None = None, on_time: str | None = None):
    """A routing milestone: counted in its own month, and (if ``cohort``) in the issue's."""

    def handler(facts, p, month, at):
        fact = _fact(facts, p)
        _place(facts, fact, p.get("station"))
        keys = facts.breakdowns(fact)
        facts.bump(month, metric, keys)
        if cohort and _first(fact, metric):
            # the cohort counts issues, each once: its first response, its first resolution (a
            # case reopened and answered again is counted in issues_* again, not here)
            facts.bump(fact.received_month, cohort, keys)
            if on_time and p.get("on_time"):
                facts.bump(fact.received_month, on_time, keys)
        if metric == "issues_closed_unresolved":
            fact.closed_unresolved = True
        if metric == "issues_resolved" and not fact.handled:
            fact.handled = True
            facts.bump(month, "matters_handled", keys)
        if metric == "issues_resolved":
            _serve_reporters(facts, fact, month, keys)
        if metric == "issues_responded" and fact.first_response_minutes is None:
            fact.first_response_minutes = int(
                (datetime.fromisoformat(p["at"]) - fact.received_at).total_seconds() // 60
            )

    return handler


def _first(fact, metric: str) -> bool:
    """Whether this milestone is the issue's first of its kind (read before the handler marks
    it: ``first_response_minutes`` is set at the first response, ``handled`` at the first
    resolution, ``closed_unresolved`` at the first closing unresolved: reopened and closed
    again, the issue is counted in ``issues_closed_unresolved`` again, in the cohort once)."""
    if metric == "issues_responded":
        return fact.first_response_minutes is None
    if metric == "issues_resolved":
        return not fact.handled
    if metric == "issues_closed_unresolved":
        return not fact.closed_unresolved
    return True


def _serve_reporters(facts, main, month: str, keys) -> None:
    """A resolved matter serves everyone who reported it: the main case and every report merged
    into it (directly or through another), each counted once, in the month of the resolution
    that first covered it (a report merged in after a reopening counts when it is resolved)."""
    new = [f for f in served_group(facts, main) if not f.served]
    for f in new:
        f.served = True
    if new:
        facts.bump(month, "reporters_served", keys, len(new))


def _merged(facts, p, month, at):
    """A report merged into another case: still an issue received, no longer a matter itself."""
    fact = _fact(facts, p)
    if fact.merged_into is not None:
        return
    facts.merge(fact, p["into"])
    keys = facts.breakdowns(fact)
    facts.bump(month, "issues_merged", keys)
    facts.bump(fact.received_month, "cohort_merged", keys)


def _rated(facts, p, month, at):
    fact = _fact(facts, p)
    keys = facts.breakdowns(fact)
    facts.bump(month, f"rated_{p['rating']}", keys)
    if not fact.rated:
        fact.rated = True
        facts.bump(fact.received_month, "cohort_rated", keys)
        if p["rating"] in ("satisfied", "basically_satisfied"):
            facts.bump(fact.received_month, "cohort_satisfied", keys)
    if p.get("reopened"):
        facts.bump(month, "issues_reopened", keys)


def _transferred(facts, p, month, at):
    fact = _fact(facts, p)
    facts.bump(month, "cases_transferred", facts.breakdowns(fact))  # where it was
    _give_to(facts, fact, p)


def _waiting(facts, p, month, at):
    fact = _fact(facts, p)
    facts.bump(month, "issues_waiting", facts.breakdowns(fact))


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
    **PRACTICE_HANDLERS,  # leaders' visits, consultations, 社情民意 reports (practice.py)
}

# Events reporting knows and counts nowhere on purpose. Any other type not in PROJECTIONS is
# *unknown* (a newer sender, a typo): kept in the store, shown by reconciliation and the
# dashboard, and counted by a rebuild once a projection for it exists.
KNOWN_UNCOUNTED = frozenset(
    {
        "registry.roster_saved",
        "registry.sessions_ended",  # an account's sessions ended (kernel/sessions.py)
        "routing.catalogue_published",
        "routing.issue_accepted",
        "routing.issue_due_soon",
    }
)
