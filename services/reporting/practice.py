"""The rest of the practice counted: leaders' visits (领导对口联系), consultations (协商议事) and
社情民意 reports, one handler per event type (registered in projections.PROJECTIONS).

Unlike a case's milestones, these records change after they are counted: a visit is saved again
(corrected, or withdrawn with ``active`` false), a report reviewed again. So each record keeps
what it is counted in (a :class:`~services.reporting.models.PracticeFact`'s ``counted``) and
:func:`recount` replaces it: the old entries taken back, the new ones added. Each record counts
once, as it last stands, on the live path and in a rebuild alike (docs/statistics.md).

- A visit counts in the month of its ``date`` (the day of the visit), for the city, the
  station's district, the station and the leader; each member who came joins it.
- A consultation counts in the month of its ``date``, for the city, its district and the
  convening station or studio, with the cases it settled; each member present joins it.
- A report counts in the month it was first *submitted*, for the city, its member and sector; its
  outcome (adopted, forwarded) counts in that same month, the latest review only, so a month's
  reports and their outcomes are one cohort and a report reviewed twice counts once.
"""

from __future__ import annotations

import orjson

from services.reporting.breakdowns import CITY, UNKNOWN_DISTRICT, month_of
from services.reporting.models import LeaderDim, SectorDim

OUTCOME_METRICS = {"adopted": "reports_adopted", "forwarded": "reports_forwarded"}


class ReportMissing(Exception):
    """A review arrived before the report's submission: retried shortly (by the inbox)."""


def recount(facts, kind: str, record_id: str, counted: list, state: dict, revision=None) -> bool:
    """Count record ``record_id`` of ``kind`` in ``counted`` (``[month, metric, dimension, key,
    n]`` entries) instead of what it was counted in before. An older ``revision`` than the one
    counted (a late delivery) changes nothing: False. Ids are kept as text (routing's report and
    consultation ids are numbers, the registry's visit ids text)."""
    record_id = str(record_id)
    old = facts.practice(kind, record_id)
    if old is not None:
        if revision is not None and old.revision is not None and revision < old.revision:
            return False
        for month, metric, dimension, key, n in old.counted:
            facts.bump(month, metric, [(dimension, key)], -n)
    for month, metric, dimension, key, n in counted:
        facts.bump(month, metric, [(dimension, key)], n)
    facts.save_practice(kind, record_id, revision=revision, state=state, counted=counted)
    return True


def _district(facts, station: str | None, studio: str | None = None) -> str:
    place = facts.station(station) if station else None
    if place is None and studio:
        place = facts.studio(studio)
    return place.district if place is not None else UNKNOWN_DISTRICT


def _entries(month: str, metric: str, keys, n: int = 1) -> list:
    return [[month, metric, dimension, str(key), n] for dimension, key in keys if n]


def _joined(month: str, metric: str, members) -> list:
    return _entries(month, metric, [("member", m) for m in sorted(set(members or ())) if m])


def leader_saved(facts, p, month, at):
    facts.save_dim(
        LeaderDim,
        p["code"],
        name=p.get("name") or p["code"],
        title=p.get("title") or "",
        stations=_json_list(p.get("stations")),
        active=bool(p.get("active", True)),
    )


def sector_saved(facts, p, month, at):
    """A sector's name: what the dashboard calls its row of reports."""
    facts.save_dim(SectorDim, p["code"], name=p.get("name") or p["code"])


def _json_list(values) -> str:
    return orjson.dumps(sorted(set(values or ()))).decode()


def visit_saved(facts, p, month, at):
    """A leader's field visit saved (again): counted as it now stands; withdrawn, not at all."""
    counted = []
    if p.get("active", True):
        held = p["date"][:7]
        keys = [CITY, ("district", _district(facts, p["station"]))]
        keys += [("station", p["station"]), ("leader", p["leader"])]
        counted = _entries(held, "leader_visits", keys)
        counted += _joined(held, "leader_visits_joined", p.get("members"))
    state = {"leader": p["leader"], "station": p["station"], "date": p["date"]}
    recount(facts, "visit", p["visit_id"], counted, state, p.get("revision"))


def consultation_recorded(facts, p, month, at):
    """A consultation held on its ``date`` by a station or a studio, and the cases it settled."""
    held = p["date"][:7]
    district = p.get("district") or _district(facts, p.get("station"), p.get("studio"))
    keys = [CITY, ("district", district)]
    keys.append(("station", p["station"]) if p.get("station") else ("studio", p.get("studio")))
    keys = [(d, k) for d, k in keys if k]
    settled = len(set(p.get("settled") or ()))
    counted = _entries(held, "consultations_held", keys)
    counted += _entries(held, "cases_settled_by_consultation", keys, settled)
    counted += _joined(held, "consultations_joined", p.get("members"))
    state = {"date": p["date"], "settled": sorted(set(p.get("settled") or ()))}
    recount(facts, "consultation", p["consultation_id"], counted, state)


def report_submitted(facts, p, month, at):
    old = facts.practice("report", str(p["report_id"]))
    submitted = month_of(p["submitted_at"]) if p.get("submitted_at") else month
    state = {
        "month": old.state["month"] if old is not None else submitted,  # its first submission
        "member": p["member"],
        "sector": p.get("sector") or "?",
        "outcome": old.state.get("outcome") if old is not None else None,
    }
    recount(facts, "report", p["report_id"], _report_counted(state), state)


def report_reviewed(facts, p, month, at):
    """The office's review: the report counts in its latest outcome (received: neither)."""
    old = facts.practice("report", str(p["report_id"]))
    if old is None:
        raise ReportMissing(p["report_id"])
    state = {**old.state, "outcome": p["outcome"]}
    recount(facts, "report", p["report_id"], _report_counted(state), state)


def _report_counted(state: dict) -> list:
    keys = [CITY, ("member", state["member"]), ("sector", state["sector"])]
    counted = _entries(state["month"], "reports_submitted", keys)
    metric = OUTCOME_METRICS.get(state["outcome"])
    if metric:
        counted += _entries(state["month"], metric, keys)
    return counted


HANDLERS = {
    "registry.sector_saved": sector_saved,
    "registry.leader_saved": leader_saved,
    "registry.leader_visit_saved": visit_saved,
    "routing.consultation_recorded": consultation_recorded,
    "routing.report_submitted": report_submitted,
    "routing.report_reviewed": report_reviewed,
}
