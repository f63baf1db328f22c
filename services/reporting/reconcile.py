"""Reconciliation (对账): do the services agree on how many issues there are, right now?

Each service is asked for its own counts (RPC ``status``); the figures must agree up to what is
still in flight (events committed but not yet published, messages waiting in a queue) and what
is parked. When everything has settled the equalities are exact:

    submissions received = accepted + duplicates + rejected            (intake)
    accepted issues      = cases in routing + in flight to routing     (intake → routing)
    cases in routing     = assigned or further + waiting               (routing)
    accepted issues      = issues reporting counted + in flight to it  (intake → reporting)

An answer with ``holds: false`` means a difference that nothing in flight or parked explains.
Beside it, ``unknown_events`` counts the stored events of a type reporting does not know (kept,
counted in no figure): not a break in the equalities, but a warning that something is not counted.
"""

from __future__ import annotations

from services.kernel import topology


def unknown(by_type: dict[str, int]) -> dict:
    return {"total": sum(by_type.values()), "by_type": dict(sorted(by_type.items()))}


def _unavailable(missing: list[str], unknown_events: dict) -> dict:
    return {
        "holds": None,
        "unavailable": missing,
        "message_zh": f"无法对账：{'、'.join(missing)} 未响应",
        "message": f"cannot reconcile: {', '.join(missing)} did not answer",
        "unknown_events": unknown_events,
    }


def _in_flight(intake: dict, routing: dict, reporting: dict) -> dict:
    """Issues on their way: to routing (intake's outbox, routing's queue), to reporting."""
    return {
        "to_routing": intake["outbox_backlog"] + routing.get("queues", {}).get("routing.events", 0),
        "to_reporting": intake["outbox_backlog"]
        + routing["outbox_backlog"]
        + sum(  # every partition of reporting.events (partitions.py), or the one queue
            n
            for q, n in reporting["queues"].items()
            if topology.queue_family(q) == topology.REPORTING_QUEUE
        ),
    }


# long because the answer is written out field by field, as the dashboard and the API show it
def reconcile(intake: dict | None, routing: dict | None, reporting: dict) -> dict:
    unknown_events = unknown(reporting.get("unknown_events", {}))
    if intake is None or routing is None:
        missing = [n for n, s in (("intake", intake), ("routing", routing)) if s is None]
        return _unavailable(missing, unknown_events)
    subs = intake.get("submissions", {})
    accepted, rejected = subs.get("accepted", 0), subs.get("rejected", 0)
    duplicates = subs.get("duplicate", 0)
    cases = routing.get("cases", {})
    total_cases, waiting = sum(cases.values()), cases.get("waiting", 0)
    in_flight = _in_flight(intake, routing, reporting)
    parked = {
        "intake": intake["parked"],
        "routing": routing["parked"],
        "reporting": reporting["parked"],
    }
    checks = [
        _check(
            "accepted = cases + in flight to routing",
            "受理 = 派单案件 + 在途",
            accepted,
            total_cases,
            in_flight["to_routing"] + parked["routing"],
        ),
        _check(
            "accepted = counted by reporting + in flight",
            "受理 = 统计已计 + 在途",
            accepted,
            reporting["issues"],
            in_flight["to_reporting"] + parked["reporting"],
        ),
    ]
    return {
        "holds": all(c["holds"] for c in checks),
        "submissions": {
            "received": accepted + duplicates + rejected,
            "accepted": accepted,
            "duplicates": duplicates,
            "rejected": rejected,
        },
        "cases": {
            "total": total_cases,
            "waiting": waiting,
            "assigned_or_further": total_cases - waiting,
        },
        "reporting": {"issues": reporting["issues"]},
        "in_flight": in_flight,
        "parked": parked,
        "unknown_events": unknown_events,
        "checks": checks,
    }


def _check(name: str, name_zh: str, expected: int, seen: int, explained: int) -> dict:
    gap = expected - seen
    return {
        "check": name,
        "check_zh": name_zh,
        "expected": expected,
        "seen": seen,
        "gap": gap,
        "explained_by_in_flight_or_parked": explained,
        "holds": 0 <= gap <= explained,
    }
