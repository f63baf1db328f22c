"""The practice's figures on the whole stack, from the producers' own APIs (issue #21): the office
records a leader and two visits at the registry and withdraws one, a consultation at routing
settles two of three cases, m003 writes a 社情民意 report the office adopts and then forwards.
Reporting's figures move by exactly that, and each of the year's figures equals the count of the
records its dashboard link opens (registry's visit list, routing's consultation and report lists).
"""

import uuid
from datetime import UTC, datetime
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from services.reporting import periods
from tests.conftest import auth_headers, delete_vhost
from tests.e2e.conftest import make_stack, wait_case, wait_submission
from tools.client import SubmissionClient

MEMBER = "m003"  # gwm's 医药卫生 member: health cases at gwm are his
TODAY = periods.today_in_china(datetime.now(UTC))
MONTH, YEAR = TODAY.strftime("%Y-%m"), TODAY.year


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_databases):
    stack, vhost, stack.amqp_uri = make_stack(
        tmp_path_factory.mktemp("practice"), "sqlite", pg_databases
    )
    yield stack
    stack.stop()
    delete_vhost(vhost)


def call(stack, method, service, path, headers=None, **kwargs):
    r = requests.request(
        method, stack.url(service, path), headers=headers or stack.headers, timeout=30, **kwargs
    )
    assert r.ok, f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.headers.get("content-type", "").startswith("application/json") else r


def figures(stack, **query):
    path = "/stats/monthly" if "month" in query else "/stats/yearly"
    return call(stack, "GET", "reporting", path, params=query)


def submit(stack, words):
    with SubmissionClient(stack.amqp_uri) as client:
        sid = client.submit("gwm", category="health", description=words)
    [s] = wait_submission(stack, sid)
    return s["tracking_number"]


def city(report, key):
    return report["city"].get(key) or 0


def test_the_practice_counted_from_the_producers_and_equal_to_their_records(stack):
    member = auth_headers(stack.config(), "member", member=MEMBER)
    before = figures(stack, month=MONTH)

    leader = f"ld{uuid.uuid4().hex[:6]}"
    body = {"code": leader, "name": "王副主席", "title": "副主席", "stations": ["gwm"]}
    call(stack, "POST", "registry", "/leaders", json=body)
    visits = [
        call(
            stack,
            "POST",
            "registry",
            f"/leaders/{leader}/visits",
            json={
                "station": "gwm",
                "date": TODAY.isoformat(),
                "purpose": purpose,
                "members": [MEMBER],
            },
        )  # fmt: skip
        for purpose in ("推动接待日常态化", "误录的走访")
    ]
    call(stack, "POST", "registry", f"/visits/{visits[1]['saved']['visit_id']}/withdraw")

    numbers = [submit(stack, f"雨水井盖缺失 {uuid.uuid4().hex[:6]}") for _ in range(3)]
    for number in numbers:
        assert wait_case(stack, number)["member"] == MEMBER
    consultation = {
        "topic": "建宁路雨水井隐患", "station": "gwm", "date": TODAY.isoformat(),
        "units_invited": ["市政", "街道", "社区", "物业", "供水"], "units_present": ["市政", "街道"],
        "members": [MEMBER], "agreement": "市政三日内加固井盖", "follow_up_owner": "街道办",
        "cases": numbers, "settled": numbers[:2],
    }  # fmt: skip
    call(stack, "POST", "routing", "/consultations", json=consultation)

    draft = {"title": "关于雨水井盖管护的建议", "text": "多处井盖缺失，建议明确管护责任。",
             "cases": numbers[2:]}  # fmt: skip
    report = call(stack, "POST", "routing", "/reports", headers=member, json=draft)
    rid = report["report_id"] if "report_id" in report else report["id"]
    call(stack, "POST", "routing", f"/reports/{rid}/submit", headers=member)
    call(stack, "POST", "routing", f"/reports/{rid}/review", json={"outcome": "adopted"})
    call(stack, "POST", "routing", f"/reports/{rid}/review",
         json={"outcome": "forwarded", "note": "转市住建局"})  # fmt: skip

    want = {  # what these records add to the month, and no more
        "leader_visits": 1,
        "consultations_held": 1,
        "cases_settled_by_consultation": 2,
        "reports_submitted": 1,
        "reports_adopted": 0,
        "reports_forwarded": 1,
        "issues_resolved": 2,
    }

    def moved():
        now = figures(stack, month=MONTH)
        got = {k: city(now, k) - city(before, k) for k in want}
        return now if got == want else None

    after = stack.wait_for(moved, timeout=60, what=f"the month's practice figures to move {want}")
    assert after["leader"][leader]["leader_visits"] == 1
    mine = after["member"][MEMBER]
    assert mine["leader_visits_joined"] >= 1 and mine["consultations_joined"] >= 1
    assert city(after, "members_served") >= 1  # m003, at least

    # the year's figures equal the records their dashboard links open
    page = call(stack, "GET", "reporting", "/dashboard", params={"year": YEAR}).text
    year = figures(stack, year=YEAR)
    for key, service, path, listed in (
        ("leader_visits", "registry", "/visits", lambda b: [v for v in b["visits"] if v["active"]]),
        ("consultations_held", "routing", "/consultations", lambda b: b["consultations"]),
        ("reports_submitted", "routing", "/reports", lambda b: b["reports"]),
        ("reports_forwarded", "routing", "/reports", lambda b: b["reports"]),
    ):
        href = _tile_link(page, key)
        query = {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}
        assert query["year"] == str(YEAR), href
        records = listed(call(stack, "GET", service, path, params=query))
        assert city(year, key) == len(records), (key, href, len(records))
    leader_link = _row_link(page, "leader", leader, "leader_visits")
    assert parse_qs(urlsplit(leader_link).query) == {"leader": [leader], "year": [str(YEAR)]}


def _tile_link(page: str, key: str) -> str:
    start = page.index(f'<div class=tile data-key="{key}">', page.index("id=practice"))
    href = page[page.index('<a href="', start) + 9 :]
    return unescape(href[: href.index('"')])


def _row_link(page: str, table: str, code: str, key: str) -> str:
    start = page.index(f'<tr data-code="{code}">', page.index(f'data-practice="{table}"'))
    cell = page.index(f'data-key="{key}"', start)
    href = page[page.index('<a href="', cell) + 9 :]
    return unescape(href[: href.index('"')])
