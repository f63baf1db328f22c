"""One scope rule per resource, tried on every guarded route (issue 20; docs/security.md).

Every guarded route of the four services, found in the code, has an entry in :data:`SCOPE`:

- ``OFFICE``: only the office; every other role is refused whatever it asks for;
- ``SELF``: acts on the caller alone (its own password, who it is), nothing of anyone else;
- ``SHARED``: the same for every role the guard admits (the sector list, the published figures),
  with the reason;
- a function ``(world, role) -> [Try]``: for each role the guard admits, requests at the *other*
  station, studio, member or case (in the path, in the query, or smuggled in the body), each
  with the same request at the caller's *own* one.

Each other-scope request must be refused (403 or 404; an id smuggled in a body may be answered
400/409 on its field, as an unknown one would be) with nothing of the other's data in the body;
each own-scope request must succeed, so that a route that refuses everybody does not pass for
scoped. After all of it, nothing of the other's has changed. A new route without an entry
fails :func:`test_every_guarded_route_has_a_scope_entry`.
"""

from dataclasses import dataclass, field

import pytest
import requests

from tests.conftest import auth_headers, delete_vhost
from tests.e2e.conftest import make_stack, wait_case
from tests.e2e.routes import all_routes

OFFICE, SELF = "office", "self"
ROLES = ("station_admin", "studio_admin", "member")
REFUSED = (403, 404)
BODY_ID_REFUSED = (400, 403, 404, 409)


@dataclass
class Try:
    """One request at the other's scope (``other``) and the same at the caller's own (``own``,
    None when there is nothing of the caller's to ask for)."""

    other: dict
    own: dict | None = None
    in_body: bool = False  # the other's id is in the body: a field error is a refusal too
    path: dict = field(default_factory=dict)


def shared(reason: str) -> tuple[str, str]:
    return ("shared", reason)


# --- the world: two of everything -------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_databases):
    stack, vhost, stack.amqp_uri = make_stack(
        tmp_path_factory.mktemp("scope"), "sqlite", pg_databases
    )
    yield stack
    stack.stop()
    delete_vhost(vhost)


def office(stack, method, service, path, **kwargs):
    r = requests.request(
        method, stack.url(service, path), headers=stack.headers, timeout=30, **kwargs
    )
    assert r.ok, (method, path, r.status_code, r.text[:300])
    return r.json()


@pytest.fixture(scope="module")
def world(stack):
    """Cases at gwm (own) and jnl (other), their members a and b, a studio each (st-a, st-b),
    an activity at st-b and at jnl, a roster at jnl; the tokens of the three scoped roles."""
    w = {}
    for station, text, phone in (
        ("gwm", "楼道堆放杂物-本站", "13900002222"),
        ("jnl", "路灯不亮-他站机密", "13900001111"),
        # the same district as gwm: what gwm's "similar" would offer, were it not scoped
        ("jql", "3号楼前路灯坏了晚上很黑", "13900003333"),
    ):
        body = {"station": station, "category": "hazard", "description": text,
                "submission_id": f"scope-{station}-1", "contact": {"name": "王五", "phone": phone}}  # fmt: skip
        r = requests.post(stack.url("intake", "/staff/issues"), json=body, headers=stack.headers, timeout=30)  # fmt: skip
        assert r.status_code in (201, 202), r.text
        number = stack.wait_for(
            lambda sid=body["submission_id"]: office(
                stack, "GET", "intake", "/submissions", params={"submission_id": sid}
            )["submissions"][0].get("tracking_number"),  # fmt: skip
            timeout=30,
            what="the issue's number",
        )
        w[station] = wait_case(stack, number)
    w["a"], w["b"] = w["gwm"]["member"], w["jnl"]["member"]
    assert w["a"] != w["b"]
    for code, member in (("st-a", w["a"]), ("st-b", w["b"])):
        office(stack, "POST", "registry", "/studios",
               json={"code": code, "name": f"工作室{code}", "district": "城关区", "sectors": ["yiyao"]})  # fmt: skip
        office(
            stack, "PATCH", "registry", f"/members/{member}", json={"studios": [{"studio": code}]}
        )
    office(stack, "POST", "registry", "/rosters",
           json={"date": "2026-12-01", "slot": "am", "station": "jnl", "members": [w["b"]]})  # fmt: skip
    w["activity_b"] = {"activity_id": "scope-st-b-1", "kind": "lecture", "studio": "st-b",
                       "date": "2026-11-20", "members": [w["b"]], "people_served": 12,
                       "note": "st-b 的内部备注"}  # fmt: skip

    def recorded():
        r = requests.post(stack.url("intake", "/staff/activities"), json=w["activity_b"],
                          headers=stack.headers, timeout=30)  # fmt: skip
        return r.status_code == 201

    stack.wait_for(recorded, timeout=30, interval=0.5, what="intake to know st-b")
    office(stack, "PUT", "routing", f"/members/{w['b']}/notifications",
           json={"channel": "email", "address": "b-member@example.cn"})  # fmt: skip
    # leader liaison (issue 21): a leader linked to gwm, another to jnl, a visit at each
    for code, station in (("ldr-a", "gwm"), ("ldr-b", "jnl")):
        office(stack, "POST", "registry", "/leaders", json={"code": code, "name": f"领导{code}",
               "title": "副主席", "stations": [station]})  # fmt: skip
        w[f"visit_{station}"] = office(stack, "POST", "registry", f"/leaders/{code}/visits",
                                       json={"station": station, "date": "2026-11-02",
                                             "purpose": "走访"})["saved"]["visit_id"]  # fmt: skip
    # 社情民意 reports (issue 21): a's from the gwm case and b's from the jnl case, submitted;
    # two drafts of a's (one edited, one submitted by the scope tries)
    for who, station, title, submit in (("a", "gwm", "社情民意-本站", True), ("b", "jnl", "社情民意-他站机密", True),
                                        ("a", "gwm", "草稿-改", False), ("a", "gwm", "草稿-报", False)):  # fmt: skip
        as_member = {
            "headers": auth_headers(stack.config(), "member", member=w[who]),
            "timeout": 30,
        }
        body = {"title": title, "text": "建议", "cases": [w[station]["tracking_number"]]}
        made = requests.post(stack.url("routing", "/reports"), json=body, **as_member)
        assert made.status_code == 201, made.text
        w[f"report_{title}"] = made.json()["report_id"]
        if submit:
            sent = requests.post(stack.url("routing", f"/reports/{made.json()['report_id']}/submit"), json={}, **as_member)  # fmt: skip
            assert sent.ok, sent.text
    # consultations (issue 21): one convened by gwm, by st-a (a's case) and by jnl, each linking
    # (not settling) its own case; the cases are read again after, as the others' "before"
    for key, place, case in (("station", "gwm", "gwm"), ("studio", "st-a", "gwm"),
                             ("station", "jnl", "jnl")):  # fmt: skip
        body = {key: place, "topic": f"协商-{place}", "date": "2026-11-03", "agreement": "议定",
                "follow_up_owner": "街道办", "cases": [w[case]["tracking_number"]]}  # fmt: skip
        w[f"consultation_{place}"] = office(stack, "POST", "routing", "/consultations", json=body)[
            "consultation_id"
        ]
    for station in ("gwm", "jnl"):
        w[station] = office(stack, "GET", "routing", f"/cases/{w[station]['tracking_number']}")
    config = stack.config()
    w["headers"] = {
        "station_admin": auth_headers(config, "station_admin", stations=["gwm"]),
        "studio_admin": auth_headers(config, "studio_admin", studios=["st-a"]),
        "member": auth_headers(config, "member", member=w["a"]),
    }
    w["secrets"] = [w["jnl"]["tracking_number"], "路灯不亮-他站机密", "st-b 的内部备注",
                    "b-member", "13900001111"]  # fmt: skip
    # another station's, in the own district (a member may serve both gwm and jql: admins only)
    w["admin_secrets"] = [w["jql"]["tracking_number"], "3号楼前路灯坏了晚上很黑", "13900003333"]
    w["secrets"].append("社情民意-他站机密")  # b's 社情民意 report (issue 21)
    return w


# --- the table: every guarded route --------------------------------------------------------------


def own_and_other(role, w):
    """The caller's own and the other's station, studio, member, case for ``role``."""
    return {
        "station_admin": ("gwm", "jnl"),
        "studio_admin": ("st-a", "st-b"),
        "member": (w["a"], w["b"]),
    }[role]


def case_of(w, which):
    return w["gwm" if which == "own" else "jnl"]["tracking_number"]


def by_case(w, role):
    return [Try(other={}, own={}, path={"number": (case_of(w, "own"), case_of(w, "other"))})]


def case_photo(w, role):
    """A case's photos (issue 17): the other case's refused before any photo is looked up. The
    world's cases have no photo (staff issues): the own photo is tried in test_photos.py."""
    cases = (case_of(w, "own"), case_of(w, "other"))
    return [Try(other={}, own=None, path={"number": cases, "k": (1, 1)})]


def by_member(w, role):
    return [Try(other={}, own={}, path={"code": (w["a"], w["b"])})]


def by_station(w, role):
    return [Try(other={}, own={}, path={"code": ("gwm", "jnl")})]


def clerk_page(w, role):
    """The clerk's pages (issue 17): the other station's 403, the own station's form."""
    return [Try(other={}, own={}, path={"station": ("gwm", "jnl")})]


def activities_list(w, role):
    own, other = own_and_other(role, w)
    if role == "member":
        return [Try(other={"params": {"member": other}}, own={"params": {}})]
    key = "station" if role == "station_admin" else "studio"
    return [Try(other={"params": {key: other}}, own={"params": {key: own}})]


def staff_issue(w, role):
    base = {"category": "hazard", "description": "冒名录入的问题"}
    if role == "studio_admin":
        return [
            Try(other={"json": base | {"station": "jnl", "studio": "st-b"}}, in_body=True),
            Try(
                other={"json": base | {"station": "gwm", "submission_id": "scope-jnl-1"}},
                in_body=True,
            ),  # fmt: skip
        ]
    return [
        Try(
            other={"json": base | {"station": "jnl"}},
            own={"json": base | {"station": "gwm", "description": "3号楼路灯坏了，晚上很黑"}},
            in_body=True,
        ),  # fmt: skip
        # the other station's existing submission id, smuggled in a body for the own station
        Try(
            other={"json": base | {"station": "gwm", "submission_id": "scope-jnl-1"}}, in_body=True
        ),  # fmt: skip
    ]


def staff_activity(w, role):
    own, other = own_and_other(role, w)
    base = {"kind": "lecture", "date": "2026-11-21", "people_served": 3}
    smuggled = Try(other={"json": w["activity_b"] | {"note": "改写"}}, in_body=True)
    if role == "member":
        return [
            Try(
                other={"json": base | {"station": "jnl", "members": [other]}},
                own={"json": base | {"station": "gwm", "members": [own]}},
                in_body=True,
            ),  # fmt: skip
            Try(other={"json": base | {"station": "gwm", "members": [own, other]}}, in_body=True),
            smuggled,
        ]
    key = "station" if role == "station_admin" else "studio"
    member = w["a"]
    return [
        Try(
            other={"json": base | {key: other}},
            own={"json": base | {key: own, "members": [member]}},
            in_body=True,
        ),  # fmt: skip
        smuggled,
    ]


def contact(w, role):
    return [Try(other={"json": {"reason": "回访"}}, own={"json": {"reason": "回访"}},
                path={"number": (case_of(w, "own"), case_of(w, "other"))})]  # fmt: skip


def member_record(w, role):
    """A member's record: the member itself and the admins of the places it serves. (Station,
    studio and sector records are the directory: the QR pages show them to anybody.)"""
    return [Try(other={}, own={}, path={"kind": ("members", "members"), "code": (w["a"], w["b"])})]


def rosters_read(w, role):
    own, other = own_and_other(role, w)
    key = {"station_admin": "station", "studio_admin": "studio", "member": "member"}[role]
    return [Try(other={"params": {key: other}}, own={"params": {key: own}})]


def roster_write(w, role):
    own, other = own_and_other(role, w)
    key = "station" if role == "station_admin" else "studio"
    day = {"date": "2026-12-02", "slot": "pm"}
    return [
        Try(
            other={"json": day | {key: other, "members": [w["b"]]}},
            own={"json": day | {key: own, "members": [w["a"]]}},
            in_body=True,
        ),  # fmt: skip
        # the own place, but naming a member who serves elsewhere
        Try(other={"json": day | {key: own, "members": [w["b"]]}}, in_body=True),
    ]


def rotation(w, role):
    own, other = own_and_other(role, w)
    key = "station" if role == "station_admin" else "studio"
    return [Try(other={"json": {"month": "2027-01", key: other}},
                own={"json": {"month": "2027-01", key: own}}, in_body=True)]  # fmt: skip


def on_duty(w, role):
    return [Try(other={"params": {"station": "jnl", "date": "2026-12-01"}},
                own={"params": {"station": "gwm", "date": "2026-12-01"}})]  # fmt: skip


def notices(w, role):
    return [Try(other={"params": {"member": w["b"]}}, own={"params": {}})]


def notifications_write(w, role):
    body = {"json": {"channel": "none"}}
    return [Try(other=body, own=body, path={"code": (w["a"], w["b"])})]


def case_actions(w, role):
    own, other = case_of(w, "own"), case_of(w, "other")
    tries = [
        Try(
            other={"json": {"note": "冒名答复"}},
            path={"number": (own, other), "action": ("respond", "respond")},
        ),  # fmt: skip
        # the own case, merged into the other station's: the id smuggled in the body
        Try(
            other={"json": {"into": other, "note": "合并"}},
            in_body=True,
            path={"number": (own, own), "action": ("merge", "merge")},
        ),  # fmt: skip
    ]
    if role == "station_admin":  # a member of another station named as the new assignee
        tries.append(Try(other={"json": {"to_member": w["b"], "note": "转办"}}, in_body=True,
                         path={"number": (own, own), "action": ("transfer", "transfer")}))  # fmt: skip
    return tries


def office_cases(w, role):
    """The office's case list (routing office.py): naming another's station, studio or member
    is refused (403); the own ones list only the own cases."""
    own, other = own_and_other(role, w)
    key = "station" if role == "station_admin" else "studio"
    return [
        Try(other={"params": {key: other}}, own={"params": {key: own}}),
        Try(other={"params": {"member": w["b"]}}, own={"params": {"member": w["a"]}}),
        Try(other={"params": {key: other, "q": "路灯不亮"}}, own={"params": {"q": "楼道堆放"}}),
    ]


def leaders_list(w, role):
    """A station's admin: the leaders linked to its stations (issue 21), none of jnl's."""
    return [Try(other={}, own=None)]


def leader_read(w, role):
    return [Try(other={}, own={}, path={"code": ("ldr-a", "ldr-b")})]


def visits_list(w, role):
    """A station's admin: its own stations' visits; another station's by filter refused."""
    return [Try(other={"params": {"station": "jnl"}}, own={"params": {"station": "gwm"}})]


def visit_read(w, role):
    return [Try(other={}, own={}, path={"visit_id": (w["visit_gwm"], w["visit_jnl"])})]


def reports_read(w, role):
    """社情民意 reports (issue 21): a's report (its case at gwm, held by a, in st-a's reach) is the
    own, b's (jnl) the other's, by id."""
    ids = (w["report_社情民意-本站"], w["report_社情民意-他站机密"])
    return [Try(other={}, own={}, path={"number": ids})]


def reports_list(w, role):
    """The list: naming b is refused; the own list shows none of b's."""
    return [Try(other={"params": {"member": w["b"]}}, own={"params": {}})]


def report_new(w, role):
    """A member's form lists its own cases only, whatever the address asks to tick."""
    return [Try(other={"params": {"cases": case_of(w, "other")}}, own={})]


def report_create(w, role):
    body = {"title": "社情民意", "text": "建议"}
    return [Try(other={"json": body | {"cases": [case_of(w, "other")]}},
                own={"json": body | {"cases": [case_of(w, "own")]}}, in_body=True)]  # fmt: skip


def report_edit(w, role):
    draft, theirs = w["report_草稿-改"], w["report_社情民意-他站机密"]
    return [
        Try(
            other={"json": {"title": "冒名"}},
            own={"json": {"title": "改"}},
            path={"number": (draft, theirs)},
        ),  # fmt: skip
        Try(
            other={"json": {"cases": [case_of(w, "other")]}},
            in_body=True,
            path={"number": (draft, draft)},
        ),  # fmt: skip
    ]


def report_submit(w, role):
    ids = (w["report_草稿-报"], w["report_社情民意-他站机密"])
    return [Try(other={"json": {}}, own={"json": {}}, path={"number": ids})]


def _convened(w, role):
    """The caller's own convener (gwm or st-a) and the other station's consultation (jnl)."""
    key, own = ("station", "gwm") if role == "station_admin" else ("studio", "st-a")
    return key, own, w[f"consultation_{own}"], w["consultation_jnl"]


def consultations_list(w, role):
    """Consultations (issue 21): naming another station or studio is refused; the own list shows
    none of the others'."""
    key, own, _, _ = _convened(w, role)
    other = "jnl" if key == "station" else "st-b"
    return [Try(other={"params": {key: other}}, own={"params": {key: own}}),
            Try(other={"params": {"member": w["b"]}}, own={"params": {}})]  # fmt: skip


def consultation_read(w, role):
    _, _, mine, theirs = _convened(w, role)
    return [Try(other={}, own={}, path={"cid": (mine, theirs)})]


def consultation_create(w, role):
    """The convener and every linked case in the caller's scope (ids in the body)."""
    key, own, _, _ = _convened(w, role)
    other = "jnl" if key == "station" else "st-b"
    base = {"topic": "协商", "date": "2026-11-04", "agreement": "议定", "follow_up_owner": "社区"}
    mine = {"cases": [case_of(w, "own")]}
    return [
        Try(
            other={"json": base | mine | {key: other}},
            own={"json": base | mine | {key: own}},
            in_body=True,
        ),  # fmt: skip
        Try(other={"json": base | {key: own, "cases": [case_of(w, "other")]}}, in_body=True),
        Try(
            other={
                "json": base
                | {key: own, "settled": [case_of(w, "other")], "cases": [case_of(w, "other")]}
            },
            in_body=True,
        ),  # fmt: skip
    ]


FIGURES = shared(
    "全市统计数字对办公室与各管理员公开，只含汇总 / the programme's figures: aggregates"
)
REGISTRY_LISTS = shared(
    "名册目录（界别、工作站、工作室）所有登录者可读 / the directory, no contacts"
)
SCOPE = {
    ("intake", "GET", "/activities"): activities_list,
    ("intake", "GET", "/admin/audit"): OFFICE,
    ("intake", "GET", "/admin/notices"): OFFICE,
    ("intake", "GET", "/admin/parked"): OFFICE,
    ("intake", "GET", "/admin/unrouted"): OFFICE,
    ("intake", "GET", "/issues/<string:number>"): by_case,
    ("intake", "GET", "/issues/<string:number>/call"): by_case,
    ("intake", "GET", "/issues/<string:number>/photos/<int:k>"): case_photo,
    ("intake", "GET", "/issues/<string:number>/photos/<int:k>/thumb"): case_photo,
    ("intake", "GET", "/staff/issues/<string:number>/similar"): by_case,
    ("intake", "GET", "/staff/<string:station>/activity"): clerk_page,
    ("intake", "GET", "/staff/<string:station>/issue"): clerk_page,
    ("intake", "GET", "/submissions"): OFFICE,
    ("intake", "POST", "/admin/parked/<int:parked_id>/discard"): OFFICE,
    ("intake", "POST", "/admin/parked/<int:parked_id>/replay"): OFFICE,
    ("intake", "POST", "/admin/unrouted/replay"): OFFICE,
    ("intake", "POST", "/issues/<string:number>/contact"): contact,
    ("intake", "POST", "/staff/activities"): staff_activity,
    ("intake", "POST", "/staff/issues"): staff_issue,
    ("registry", "GET", "/<any(sectors, stations, studios, members):kind>/<code>"): member_record,
    ("registry", "GET", "/accounts"): OFFICE,
    ("registry", "GET", "/accounts/<login>"): OFFICE,
    ("registry", "GET", "/admin/parked"): OFFICE,
    ("registry", "GET", "/auth/me"): SELF,
    ("registry", "GET", "/counts"): shared("只有人数 / head counts only"),
    (
        "registry",
        "GET",
        "/export/<any(sectors, stations, studios, members, rosters):kind>.<fmt>",
    ): OFFICE,  # fmt: skip
    ("registry", "GET", "/members"): shared("名册检索，不含联系方式 / the roll, no contacts"),
    ("registry", "GET", "/office/accounts"): OFFICE,
    ("registry", "GET", "/office/import"): OFFICE,
    ("registry", "GET", "/on-duty"): on_duty,
    ("registry", "GET", "/rosters"): rosters_read,
    ("registry", "GET", "/sectors"): REGISTRY_LISTS,
    ("registry", "GET", "/stations"): REGISTRY_LISTS,
    ("registry", "GET", "/studios"): REGISTRY_LISTS,
    ("registry", "PATCH", "/<any(sectors, stations, studios, members):kind>/<code>"): OFFICE,
    ("registry", "PATCH", "/accounts/<login>"): OFFICE,
    ("registry", "POST", "/<any(sectors, stations, studios, members):kind>"): OFFICE,
    ("registry", "POST", "/<any(stations, studios, members):kind>/<code>/deactivate"): OFFICE,
    ("registry", "POST", "/accounts"): OFFICE,
    ("registry", "POST", "/accounts/<login>/deactivate"): OFFICE,
    ("registry", "POST", "/accounts/<login>/password"): OFFICE,
    ("registry", "POST", "/admin/parked/<int:parked_id>/discard"): OFFICE,
    ("registry", "POST", "/admin/parked/<int:parked_id>/replay"): OFFICE,
    ("registry", "POST", "/auth/password"): SELF,
    (
        "registry",
        "POST",
        "/import/<any(sectors, stations, studios, members, rosters):kind>",
    ): OFFICE,  # fmt: skip
    ("registry", "POST", "/office/account-active"): OFFICE,
    ("registry", "POST", "/office/account-password"): OFFICE,
    ("registry", "POST", "/office/accounts"): OFFICE,
    ("registry", "POST", "/office/import"): OFFICE,
    ("registry", "POST", "/rosters"): roster_write,
    ("registry", "GET", "/leaders"): leaders_list,
    ("registry", "GET", "/leaders/<code>"): leader_read,
    ("registry", "PUT", "/leaders/<code>"): OFFICE,
    ("registry", "POST", "/leaders"): OFFICE,
    ("registry", "POST", "/leaders/<code>/visits"): OFFICE,
    ("registry", "GET", "/visits"): visits_list,
    ("registry", "GET", "/visits/<visit_id>"): visit_read,
    ("registry", "POST", "/visits/<visit_id>/withdraw"): OFFICE,
    ("registry", "GET", "/office/leaders"): OFFICE,
    ("registry", "GET", "/office/leaders/<code>"): OFFICE,
    ("registry", "POST", "/office/leaders"): OFFICE,
    ("registry", "POST", "/office/leaders/<code>"): OFFICE,
    ("registry", "GET", "/office/visits"): visits_list,
    ("registry", "POST", "/office/visits"): OFFICE,
    ("registry", "POST", "/office/visit-withdraw"): OFFICE,
    ("registry", "POST", "/rosters/rotation"): rotation,
    ("reporting", "GET", "/admin/parked"): OFFICE,
    ("reporting", "GET", "/dashboard"): FIGURES,
    # a member's 履职档案 (issue 21): the member's own; an admin's, its stations' (studios')
    ("reporting", "GET", "/dossier/<string:code>"): by_member,
    ("reporting", "GET", "/dossier/<string:code>.json"): by_member,
    ("reporting", "GET", "/dossier/<string:code>.pdf"): by_member,
    ("reporting", "GET", "/dossier/<string:code>.xlsx"): by_member,
    ("reporting", "GET", "/dossier/sector/<string:sector>.pdf"): OFFICE,
    ("reporting", "GET", "/dossier/sector/<string:sector>.xlsx"): OFFICE,
    ("reporting", "GET", "/reconciliation"): OFFICE,
    ("reporting", "GET", "/stats/monthly"): FIGURES,
    ("reporting", "GET", "/stats/monthly.csv"): FIGURES,
    ("reporting", "GET", "/stats/monthly.xlsx"): FIGURES,
    ("reporting", "GET", "/stats/range"): FIGURES,
    ("reporting", "GET", "/stats/yearly"): FIGURES,
    ("reporting", "POST", "/admin/parked/<int:parked_id>/discard"): OFFICE,
    ("reporting", "POST", "/admin/parked/<int:parked_id>/replay"): OFFICE,
    ("routing", "GET", "/admin/parked"): OFFICE,
    ("routing", "GET", "/cases/<string:number>"): by_case,
    ("routing", "GET", "/catalogue"): shared("分类与时限 / the categories and their deadlines"),
    ("routing", "GET", "/duty/<string:code>"): by_member,
    ("routing", "GET", "/duty/station/<string:code>"): by_station,
    ("routing", "GET", "/members/<string:code>/cases"): by_member,
    ("routing", "GET", "/members/<string:code>/notifications"): by_member,
    ("routing", "GET", "/notices"): notices,
    ("routing", "GET", "/office/cases"): office_cases,
    ("routing", "GET", "/office/cases.json"): office_cases,
    ("routing", "GET", "/office/cases.xlsx"): office_cases,
    ("routing", "GET", "/office/cases/<string:number>"): by_case,
    ("routing", "GET", "/stations/<string:code>/cases"): by_station,
    ("routing", "POST", "/admin/parked/<int:parked_id>/discard"): OFFICE,
    ("routing", "POST", "/admin/parked/<int:parked_id>/replay"): OFFICE,
    ("routing", "POST", "/cases/<string:number>/actions/<string:action>"): case_actions,
    ("routing", "POST", "/cases/<string:number>/remind"): by_case,
    ("routing", "PUT", "/members/<string:code>/notifications"): notifications_write,
    ("routing", "GET", "/consultations"): consultations_list,
    ("routing", "GET", "/consultations/page"): consultations_list,
    ("routing", "GET", "/consultations/new"): consultations_list,
    ("routing", "GET", "/consultations/<int:cid>"): consultation_read,
    ("routing", "GET", "/consultations/<int:cid>/page"): consultation_read,
    ("routing", "POST", "/consultations"): consultation_create,
    ("routing", "GET", "/reports"): reports_list,
    ("routing", "GET", "/reports/page"): reports_list,
    ("routing", "GET", "/reports/new"): report_new,
    ("routing", "GET", "/reports/<string:number>"): reports_read,
    ("routing", "GET", "/reports/<string:number>/page"): reports_read,
    ("routing", "POST", "/reports"): report_create,
    ("routing", "PUT", "/reports/<string:number>"): report_edit,
    ("routing", "POST", "/reports/<string:number>/submit"): report_submit,
    ("routing", "POST", "/reports/<string:number>/review"): OFFICE,
}
GUARDED = [r for r in all_routes() if getattr(r[3], "lianxin_access", None) != "public"]


def test_every_guarded_route_has_a_scope_entry():
    found = {r[:3] for r in GUARDED}
    assert found - set(SCOPE) == set(), "guarded routes without a scope entry"
    assert set(SCOPE) - found == set(), "scope entries for routes that are gone"


def fill(rule: str, values: dict, which: int) -> str:
    import re

    def one(match):
        converter, name = match.group(1) or "", match.group(2)
        if name in values:
            return str(values[name][which])
        if converter.startswith("any("):
            return converter[4:].split(",")[0].strip()
        return {"parked_id": "1", "k": "1", "cid": "1", "login": "office", "fmt": "csv"}.get(
            name, "x1"
        )

    return re.sub(r"<(?:([^:>]+):)?([^>]+)>", one, rule)


def send(stack, headers, method, service, path, request):
    return requests.request(
        method, stack.url(service, path), headers=headers, timeout=30, allow_redirects=False,
        **request,
    )  # fmt: skip


@pytest.mark.parametrize("route", GUARDED, ids=[f"{r[0]} {r[1]} {r[2]}" for r in GUARDED])
def test_each_role_reaches_its_own_and_never_the_others(stack, world, route):
    service, method, rule, fn = route
    entry = SCOPE[(service, method, rule)]
    admitted = fn.lianxin_access
    for role in ROLES:
        headers = world["headers"][role]
        if entry == OFFICE or role not in admitted:  # the guard's role check
            r = send(stack, headers, method, service, fill(rule, {}, 1), {"json": {}} if method != "GET" else {})  # fmt: skip
            assert r.status_code in (403, 303), (role, method, rule, r.status_code, r.text[:200])
            continue
        if entry == SELF or (isinstance(entry, tuple) and entry[0] == "shared"):
            continue  # nothing of another's to ask for
        for attempt in entry(world, role):
            path = fill(rule, attempt.path, 1)
            r = send(stack, headers, method, service, path, attempt.other)
            allowed = BODY_ID_REFUSED if attempt.in_body else REFUSED
            listing = method == "GET" and not attempt.path  # a list shows only the own
            if not (listing and r.status_code == 200):
                assert r.status_code in allowed, (role, method, path, attempt.other, r.status_code, r.text[:300])  # fmt: skip
            sent = str(attempt.other) + path  # the caller's own words may be echoed on a field
            for secret in [s for s in world["secrets"] if s not in sent]:
                assert secret not in r.text, (role, method, path, attempt.other, secret)
            if listing and r.status_code == 200:
                assert world["b"] not in r.text and "jnl" not in r.text and "st-b" not in r.text, (
                    role, method, path, r.text[:300])  # fmt: skip
            if attempt.own is not None:
                mine = send(
                    stack, headers, method, service, fill(rule, attempt.path, 0), attempt.own
                )
                assert mine.status_code < 400, (role, method, rule, "own", mine.status_code, mine.text[:300])  # fmt: skip
                others = world["secrets"] + (world["admin_secrets"] if role != "member" else [])
                for secret in others:  # the own answer carries nothing of another's either
                    assert secret not in mine.text, (role, method, rule, "own", secret)


def test_nothing_of_the_others_changed(stack, world, request):
    """Run last in this module: the other station's case, member settings and records as before."""
    case = wait_case(stack, world["jnl"]["tracking_number"])
    assert case["member"] == world["b"] and case.get("merged_into") is None
    assert case["version"] == world["jnl"]["version"]
    settings = office(stack, "GET", "routing", f"/members/{world['b']}/notifications")
    assert settings["channel"] == "email"
    notices = office(stack, "GET", "routing", "/notices", params={"member": world["b"]})
    assert not [n for n in notices["notices"] if n["kind"] == "reminded"]  # nobody reminded b
    found = office(stack, "GET", "intake", "/submissions", params={"limit": 1000})["submissions"]
    assert not any("冒名" in str(s) for s in found)
    rosters = office(stack, "GET", "registry", "/rosters", params={"station": "jnl"})
    assert [r for r in rosters["rosters"] if r["date"] == "2026-12-02"] == []
