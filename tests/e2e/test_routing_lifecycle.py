"""A case's whole life through the real services: member actions over HTTP, the citizen's
rating over RPC (as intake's status page sends it), figures in reporting, and routing that
keeps assigning while the registry is down."""

import signal
import uuid
from datetime import UTC, datetime

import requests
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy.orm import Session

from services.kernel.db import make_engine
from services.registry import registry
from services.reporting.projections import month_of
from services.routing.workdays import CHINA
from tests.conftest import auth_headers
from tests.e2e.conftest import get, wait_case, wait_figure, wait_submission
from tools.client import SubmissionClient

MONTH = month_of(datetime.now(UTC))


def submit(stack, station, category, text):
    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit(station, category=category, description=text)
    [s] = wait_submission(stack, sid)
    return s["tracking_number"]


def act(stack, number, action, actor=None, **body):
    """The action as the member ``actor`` (signed in as that member), else as the office."""
    headers = auth_headers(stack.config(), "member", member=actor) if actor else stack.headers
    return requests.post(
        stack.url("routing", f"/cases/{number}/actions/{action}"),
        json=body,
        headers=headers,
        timeout=10,
    )


def test_a_case_is_answered_resolved_and_rated(stack):
    number = submit(stack, "gwm", "childcare", "暑假孩子无人看护")
    case = wait_case(stack, number)
    member = case["member"]
    assert case["response_due"] and case["resolution_due"]

    duty = requests.get(
        stack.url("routing", f"/members/{member}/cases"), headers=stack.headers, timeout=10
    ).json()
    assert number in [c["tracking_number"] for c in duty["cases"]]

    refused = act(stack, number, "resolve", actor=member, note="太早了")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "illegal_transition"
    assert "不能办结" in refused.json()["error"]["message_zh"]

    assert act(stack, number, "accept", actor=member, version=case["version"]).ok
    stale = act(stack, number, "respond", actor=member, note="答复", version=case["version"])
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale"
    missing = act(stack, number, "respond", actor=member)
    assert missing.status_code == 400 and "note" in missing.json()["error"]["fields"]

    assert act(stack, number, "respond", actor=member, note="已联系社区假期课堂").ok
    resolved = act(stack, number, "resolve", actor=member, note="孩子已入托假期课堂")
    assert resolved.ok and resolved.json()["status"] == "resolved"
    assert [h["action"] for h in resolved.json()["history"]] == [
        "assign",
        "accept",
        "respond",
        "resolve",
    ]

    with ClusterRpcProxy({"AMQP_URI": stack.amqp_uri}) as rpc:
        status = rpc.routing.citizen_action(number, "rate", rating="satisfied", comment="很满意")
        assert status["status"] == "resolved" and status["rating"] == "satisfied"
        assert "member" not in status  # the citizen sees the case, not the people
        again = rpc.routing.citizen_action(number, "rate", rating="satisfied")
        assert again["error"]["code"] == "already_rated"

    figures = wait_figure(stack, MONTH, "rated_satisfied", 1, dimension="member", key=member)
    assert figures["issues_resolved"] >= 1 and figures["issues_responded"] >= 1
    assert figures["cohort_resolved_on_time"] >= 1 and figures["satisfaction_rate"] == 1.0


def test_a_transfer_to_another_station_is_a_handoff(stack):
    number = submit(stack, "gwm", "health", "需要中医义诊")
    case = wait_case(stack, number)
    inactive = act(stack, number, "transfer", actor=case["member"], note="转", to_member="m999")
    assert inactive.status_code == 400 and "to_member" in inactive.json()["error"]["fields"]
    moved = act(
        stack, number, "transfer", actor=case["member"], note="居民住在银滩路", to_station="ytl"
    )
    assert moved.ok, moved.text
    body = moved.json()
    assert (body["station"], body["member"], body["handoffs"]) == ("ytl", "m011", 1)
    wait_figure(stack, MONTH, "cases_transferred", 1, dimension="station", key="gwm")


def test_routing_keeps_assigning_while_the_registry_is_down(stack):
    proc = stack.procs["registry"]
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    try:
        number = submit(stack, "jql", "ethnic", "民族特色小吃街摊位管理")
        assert wait_case(stack, number)["member"] == "m008"  # from routing's own copy

        # A change made meanwhile (an import straight into the registry's database) ...
        newcomer = f"m7{uuid.uuid4().hex[:4]}"
        engine = make_engine(stack.db_urls["registry"])
        with Session(engine) as session, session.begin():
            registry.save_member(
                session,
                {
                    "code": newcomer,
                    "name": "新委员",
                    "level": "municipal",
                    "sector": "yiyao",
                    "district": "城关区",
                    "stations": [{"station": "jql", "role": "member"}],
                },
            )
        engine.dispose()
    finally:
        stack.start_service("registry")
        stack.wait_healthy("registry")

    # ... arrives when the registry is back: the next matching issue can go to the newcomer.
    def newcomer_known():
        number = submit(stack, "jql", "health", "社区卫生服务站药品不足")
        return wait_case(stack, number)["member"] == newcomer

    stack.wait_for(newcomer_known, timeout=30, interval=0.5, what="the newcomer in routing")
    code, _ = get(stack, "registry", "/health")
    assert code == 200


def test_closed_unresolved_then_reopened_by_the_citizen(stack):
    number = submit(stack, "sp", "business", "园区企业用电报装迟迟不办")
    case = wait_case(stack, number)
    missing = act(stack, number, "close_unresolved", actor=case["member"])
    assert missing.status_code == 400 and "note" in missing.json()["error"]["fields"]
    closed = act(
        stack,
        number,
        "close_unresolved",
        actor=case["member"],
        note="属供电企业职责，已转告并建议走12345",
    )
    assert closed.ok and closed.json()["status"] == "closed_unresolved"
    with ClusterRpcProxy({"AMQP_URI": stack.amqp_uri}) as rpc:
        refused = rpc.routing.citizen_action(number, "rate", rating="unsatisfied")
        assert refused["error"]["code"] == "illegal_transition"  # only a resolved case is rated
        status = rpc.routing.citizen_action(number, "reopen", comment="还是没有解决")
        assert status["status"] == "assigned"
    reopened = requests.get(
        stack.url("routing", f"/cases/{number}"), headers=stack.headers, timeout=10
    ).json()
    assert [h["action"] for h in reopened["history"]][-2:] == ["close_unresolved", "reopen"]
    assert reopened["reopens"] == 1
    figures = wait_figure(stack, MONTH, "issues_reopened", 1, dimension="station", key="sp")
    assert figures["issues_closed_unresolved"] >= 1


def test_the_duty_roster_and_a_district_studio_take_part_in_assignment(stack):
    today = datetime.now(UTC).astimezone(CHINA).date().isoformat()
    # 安全隐患 (hazard) goes to 科协/民建 members. At ytl both m007 (科协) and nobody else match;
    # put m007 on duty there today: the rule that decides is then "on duty", not "sector".
    roster = {"date": today, "slot": "am", "station": "ytl", "members": ["m007"]}
    r = requests.post(
        stack.url("registry", "/rosters"), json=roster, headers=stack.headers, timeout=10
    )
    assert r.status_code in (200, 201), r.text
    number = submit(stack, "ytl", "hazard", "小区消防通道被占用")
    case = stack.wait_for(
        lambda: _case_if(stack, number, "m007"), timeout=30, what="the on-duty member"
    )
    assert case["assignments"][0]["rule"] == "on_duty"

    # 树屏 (sp) has no 教育 or 共青团 member: a studio of those sectors in 永登县 comes first.
    studio = {
        "code": "st-jiaoyu-yd",
        "name": "永登教育界别委员工作室",
        "district": "永登县",
        "sectors": ["jiaoyu"],
    }
    assert requests.post(
        stack.url("registry", "/studios"), json=studio, headers=stack.headers, timeout=10
    ).ok
    teacher = {
        "code": "m8jy",
        "name": "教师委员",
        "level": "county",
        "sector": "jiaoyu",
        "district": "永登县",
        "studios": [{"studio": "st-jiaoyu-yd", "role": "lead"}],
    }
    r = requests.post(
        stack.url("registry", "/members"), json=teacher, headers=stack.headers, timeout=10
    )
    assert r.status_code in (200, 201), r.text

    def via_studio():
        case = _case_if(stack, submit(stack, "sp", "school_safety", "放学路口无人疏导"), "m8jy")
        return case if case and case["assignments"][0]["rule"] == "studio" else None

    stack.wait_for(via_studio, timeout=30, interval=0.5, what="the studio member")


def _case_if(stack, number, member):
    case = wait_case(stack, number)
    return case if case["member"] == member else None
