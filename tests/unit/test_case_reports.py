"""Intake's copy of the 社情民意 reports a case went into (case_reports.py) and what the citizen's
status page says of them: the title once submitted, the office's outcome once reviewed, on the
merged reporters' pages too, nothing of the office's note or the member."""

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.intake import case_reports, known, progress, status_page
from services.intake.models import Issue
from tests.unit.test_intake_channels_rules import deliver, event, good, s  # noqa: F401

T = datetime(2026, 11, 28, 2, tzinfo=UTC)


def report_event(kind, number, **extra):
    payload = {"report_id": 7, "member": "m003", "sector": "yiyao", "title": "社区卫生站周末不开门",
               "cases": [number], **extra}  # fmt: skip
    return event(kind, payload, occurred_at=T.isoformat())


def status_of(s, number):  # noqa: F811
    with s.begin():
        issue = s.scalar(select(Issue).where(Issue.tracking_number == number))
        return progress.public_status(s, number, issue.lookup_code)


def test_the_status_page_says_the_case_went_into_a_report_and_its_outcome(s):  # noqa: F811
    number = deliver(s, json.dumps(good()).encode())["tracking_number"]
    assert status_of(s, number)["reports"] == []
    with s.begin():
        known.apply_event(s, report_event("routing.report_submitted", number, submitted_at=T.isoformat()))  # fmt: skip
    [shown] = status_of(s, number)["reports"]
    assert shown["text_zh"] == "您反映的问题已被委员写入社情民意信息《社区卫生站周末不开门》"
    assert shown["outcome"] is None and shown["outcome_zh"] is None
    review = {"outcome": "adopted", "note": "转市卫健委", "actor": "office", "at": T.isoformat()}
    later = {**review, "outcome": "forwarded", "at": (T + timedelta(hours=1)).isoformat()}
    with s.begin():
        known.apply_event(s, report_event("routing.report_reviewed", number, **later))
        known.apply_event(s, report_event("routing.report_reviewed", number, **review))  # older
        known.apply_event(s, report_event("routing.report_reviewed", number, **later))  # again
    status = status_of(s, number)
    [shown] = status["reports"]
    assert shown["outcome"] == "forwarded"
    assert shown["outcome_zh"] == "政协办公室审阅结果：已转送有关部门"
    assert "转市卫健委" not in json.dumps(status, ensure_ascii=False)  # the office's note stays
    assert "m003" not in json.dumps(status)
    assert [x["step"] for x in status["steps"]] == ["received"]  # not a step of the case


def test_a_reporter_merged_into_the_case_reads_it_too(s):  # noqa: F811
    main = deliver(s, json.dumps(good()).encode())["tracking_number"]
    other = deliver(s, json.dumps(good(submission_id="abc-99999999")).encode())["tracking_number"]
    with s.begin():
        known.apply_event(
            s, event("routing.issue_merged", {"tracking_number": other, "into": main})
        )
        known.apply_event(s, report_event("routing.report_reviewed", main, outcome="received", note=None, actor="office", at=T.isoformat()))  # fmt: skip
    [shown] = status_of(s, other)["reports"]
    assert shown["outcome_en"] == "the CPPCC office's review: received"


def test_the_page_shows_it_in_the_chosen_language():
    from services.intake.pages import render

    row = type("Row", (), {"title": "<b>路灯</b>", "outcome": "adopted", "submitted_at": T, "reviewed_at": T})  # fmt: skip
    status = {"tracking_number": "LX1", "status": "resolved", "status_zh": "已办结",
              "status_en": "resolved", "steps": [], "actions": [], "reports": [case_reports._view(row())]}  # fmt: skip
    pages = {
        lang: render("status.html", lang, number="LX1", code="1", asked=True,
                     status=status_page.status_view(status), csrf_token="t", switch_url="?")
        for lang in ("zh", "en")
    }  # fmt: skip
    assert "您反映的问题已被委员写入社情民意信息《&lt;b&gt;路灯&lt;/b&gt;》" in pages["zh"]
    assert "政协办公室审阅结果：已采用" in pages["zh"] and "<b>路灯" not in pages["zh"]
    assert "social-opinion report" in pages["en"] and "review: adopted" in pages["en"]


def test_the_outcomes_copy_routings():
    """Intake cannot import routing: its copy of the office's outcomes is held to routing's."""
    from services.routing.opinion_reports import OUTCOMES

    assert case_reports.OUTCOMES == OUTCOMES
