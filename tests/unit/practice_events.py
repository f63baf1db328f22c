"""Events of the practice as their producers send them (issue #21's contracts): leaders and
their visits (registry), consultations and 社情民意 reports (routing). Shared by the reporting
tests that count them."""

from datetime import UTC, datetime

from services.kernel.events import new_event, parse_event

T0 = datetime(2026, 3, 5, 2, tzinfo=UTC)


def event(kind, payload, when=T0):
    return parse_event(new_event(kind, payload, kind.split(".")[0], occurred_at=when))


def leader(code, name="王副主席", stations=("gwm",), revision=1, active=True):
    return event(
        "registry.leader_saved",
        {"code": code, "name": name, "title": "副主席", "stations": list(stations),
         "active": active, "revision": revision},
    )  # fmt: skip


def visit(visit_id, leader_code, station, day, members=(), active=True, revision=1, when=T0):
    return event(
        "registry.leader_visit_saved",
        {"visit_id": visit_id, "leader": leader_code, "station": station, "date": day,
         "purpose": "推动接待日常态化", "members": list(members), "others": "街道办主任",
         "active": active, "revision": revision, "recorded_at": when.isoformat()},
        when,
    )  # fmt: skip


def consultation(cid, day, station=None, studio=None, district="城关区", members=(), cases=(),
                 settled=(), when=T0):  # fmt: skip
    return event(
        "routing.consultation_recorded",
        {"consultation_id": cid, "topic": "建宁路雨水井隐患", "station": station, "studio": studio,
         "district": district, "date": day, "units_invited": ["市政", "街道", "社区", "物业", "供水"],
         "units_present": ["市政", "街道", "社区"], "members": list(members),
         "agreement": "市政三日内加固井盖", "follow_up_owner": "街道办", "cases": list(cases),
         "settled": list(settled), "actor": "office", "recorded_at": when.isoformat()},
        when,
    )  # fmt: skip


def report_submitted(rid, member, sector, submitted_at, cases=()):
    return event(
        "routing.report_submitted",
        {"report_id": rid, "member": member, "sector": sector, "title": "关于老旧小区雨污分流的建议",
         "cases": list(cases), "submitted_at": submitted_at.isoformat()},
        submitted_at,
    )  # fmt: skip


def report_reviewed(rid, member, sector, outcome, at):
    return event(
        "routing.report_reviewed",
        {"report_id": rid, "member": member, "sector": sector, "title": "关于老旧小区雨污分流的建议",
         "cases": [], "outcome": outcome, "note": "已阅", "actor": "office", "at": at.isoformat()},
        at,
    )  # fmt: skip


def activity(aid, kind, station, day, members=(), people=0):
    return event(
        "intake.activity_recorded",
        {"activity_id": aid, "kind": kind, "station": station, "studio": None, "date": day,
         "members": list(members), "people_served": people},
    )  # fmt: skip
