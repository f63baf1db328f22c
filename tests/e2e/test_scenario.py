"""The Lanzhou 2024 scenario, scaled down, on a stack of its own: every 2024 yearly figure on the
dashboard, in the JSON and in the workbooks equals the replay's own count, before and after a
rebuild; even there, back-dating stays the office's alone and within its limits (an ordinary
stack refuses it: test_backdating.py)."""

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from tools import scenario


def refusals(replay, result) -> dict:
    """On the replay's own stack (back-dating on): who and what is still refused, over HTTP."""
    from services.kernel import auth

    open_case = result["numbers"][-1]  # the plan leaves the last issues open
    case = replay.get("routing", f"/cases/{open_case}").json()
    received = datetime.fromisoformat(case["received_at"])
    member = auth.issue_token(auth.Principal(case["member"], "member", member=case["member"]),
                              replay.config)  # fmt: skip

    def respond(at, token=None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return replay.http.post(
            replay.url("routing", f"/cases/{open_case}/actions/respond"),
            json={"note": "已联系", "at": at.isoformat()},
            headers=headers,
            timeout=30,
        )

    answers = {
        "member": respond(received + timedelta(hours=1), member),
        "before receipt": respond(received - timedelta(minutes=1)),
        "future": respond(datetime.now(UTC) + timedelta(hours=1)),
    }
    after = replay.get("routing", f"/cases/{open_case}").json()
    return {
        "received": received,
        "answers": {k: (r.status_code, r.json()) for k, r in answers.items()},
        "status": (case["status"], after["status"]),
    }


SHOTS = Path("/tmp/shots/scenario")


def dossier_2024(replay, member: str) -> dict:
    """``member``'s 2024 履职档案, and the same counts taken from the records themselves:
    intake's activities, routing's case list, its consultations and reports, the registry's
    visits. Its PDF is kept to be looked at."""
    year = {"from": "2024-01-01", "to": "2024-12-31"}
    consultations = replay.get("routing", "/consultations", year=2024).json()["consultations"]
    file = replay.get("reporting", f"/dossier/{member}.json", year=2024).json()
    cases = replay.get("routing", "/office/cases.json", member=member, **year).json()
    resolved = replay.get(
        "routing", "/office/cases.json", member=member, status="resolved", **year
    ).json()
    activities = replay.get("intake", "/activities", limit=1000).json()["activities"]
    attended = [a for a in activities if member in a["members"] and a["date"][:4] == "2024"]
    reports = replay.get("routing", "/reports", member=member, year=2024).json()["reports"]
    visits = replay.get("registry", "/visits", member=member, year=2024).json()["visits"]
    pdf = replay.get("reporting", f"/dossier/{member}.pdf", year=2024)
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / f"dossier-{member}-2024.pdf").write_bytes(pdf.content)
    from_records = {
        "reception_days": sum(1 for a in attended if a["kind"] == "reception_day"),
        "people_served": sum(a["people_served"] for a in attended),
        "cases": cases["total"],
        "cases_resolved": resolved["total"],
        "consultations": sum(1 for c in consultations if member in c["members"]),
        "reports": len(reports),
        "leader_visits": len(visits),
    }
    return {
        "member": member,
        "figures": {k: file["figures"][k] for k in from_records},
        "from_records": from_records,
        "pdf": pdf.headers["Content-Type"],
        "pdf_text": pdf.content[:5],
    }


def probes(replay, result) -> dict:
    """The refusals, and the 2024 files of two members: the one present at the first
    consultation (cases, a consultation) and one who attended a reception day."""
    consultations = replay.get("routing", "/consultations", year=2024).json()["consultations"]
    activities = replay.get("intake", "/activities", limit=1000).json()["activities"]
    attendee = next(a["members"][0] for a in activities if a["members"])
    members = [consultations[0]["members"][0], attendee]
    return {
        "refusals": refusals(replay, result),
        "dossiers": [dossier_2024(replay, m) for m in members],
    }


def test_the_scaled_down_2024_replay_is_exact_in_2024_before_and_after_a_rebuild():
    printed = io.StringIO()
    result = scenario.run(scale=0.05, seed=7, out=printed, probe=probes)
    text = printed.getvalue()
    assert result["expected"]["reception_days"] == 64 and result["expected"]["people_served"] == 380
    assert result["expected"]["matters_handled"] == 31
    for table in ("before", "after"):
        for name, want, got in result[table]:
            if want == scenario.NOT_YET:  # an API not there: said, never faked
                assert "not yet" in text
                continue
            assert got and all(value == want for value in got.values()), (table, name, got, text)
    by_name = {name: (want, got) for name, want, got in result["before"]}
    want, got = by_name["帮办实事 matters handled (2024)"]
    assert want == 31 and got == {"dashboard": 31, "JSON": 31, "xlsx": 31}
    assert by_name["委员工作站 stations"][0] == 126
    assert result["ok"] is (scenario.NOT_YET not in [w for _, w, _ in result["before"]])
    assert "≠" not in text and "2024 全年" in text and "重建后" in text
    # every issue was received in 2024 (its tracking number carries the Beijing date)
    assert all(n.startswith("LX2024") for n in result["numbers"])
    # even with back-dating on, a member may not, nor may the office date before the receipt
    # or in the future: 400 on at, and the open case is untouched
    # a member's 2024 履职档案 after the replay: every figure as the records count it
    first, second = result["probe"]["dossiers"]
    for dossier in (first, second):
        assert dossier["figures"] == dossier["from_records"], dossier
        assert dossier["pdf"] == "application/pdf" and dossier["pdf_text"] == b"%PDF-"
    assert first["from_records"]["cases"] >= 1 and first["from_records"]["consultations"] >= 1
    assert second["from_records"]["reception_days"] >= 1, second  # the replay names attendees
    probe = result["probe"]["refusals"]
    assert probe["received"].year == 2024
    for who, (status, body) in probe["answers"].items():
        assert status == 400 and "at" in body["error"]["fields"], (who, body)
    assert probe["status"] == ("assigned", "assigned")


def test_the_plan_is_deterministic_and_the_full_plan_is_the_seeds_year():
    a = scenario.plan(["gwm", "jnl"], scale=0.1, seed=3)
    b = scenario.plan(["gwm", "jnl"], scale=0.1, seed=3)
    assert a == b and a != scenario.plan(["gwm", "jnl"], scale=0.1, seed=4)
    full = scenario.plan([f"s{i}" for i in range(126)], scale=1.0)
    assert full.expected == {
        "reception_days": 1290,
        "people_served": 7600,
        "matters_handled": 613,
        "leader_visits": 46,
        "consultations_held": 3,
    }
    for issue in full.issues:  # every time of the year's matters falls in 2024 (Beijing)
        for key in ("submitted_at", "responded_at", "resolved_at"):
            assert issue[key].astimezone(scenario.CHINA).year == 2024
        assert issue["submitted_at"] < issue["responded_at"] < issue["resolved_at"]
    assert all(v["date"].startswith("2024-") for v in full.visits)
    assert all(a["date"].startswith("2024-") for a in full.activities)
