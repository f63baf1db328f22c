"""Whatever a client sends, every route answers in the one error format and never with a 5xx
(issue 20; the kernel's input layer, ``services/kernel/http.py``).

Two parts, against one running stack (SQLite; the input layer does not depend on the database):

- a property test (hypothesis) that throws generated paths, query strings, bodies (JSON of any
  shape, raw bytes, forms, odd charsets, deep nesting) and headers at every HTTP route of the four
  services, found in the code, and asserts no 5xx and, for a JSON refusal, the one error format;
- a fixed corpus: the inputs an outside probe found answering 500, or taken without a cap, each
  with the answer it must get now.

``LIANXIN_FUZZ_EXAMPLES`` (default 25) sets the examples per route; the run is derandomized so
that CI is repeatable (raise the number, or unset ``derandomize`` locally, to explore further).
"""

import json
import os
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import auth_headers, delete_vhost
from tests.e2e.conftest import make_stack, wait_case, wait_submission
from tests.e2e.routes import all_routes, concrete, parameters

EXAMPLES = int(os.environ.get("LIANXIN_FUZZ_EXAMPLES", "25"))
ROUTES = all_routes()
# Open311 answers in its own error format (GeoReport v2: a list of {code, description}).
OWN_FORMAT = ("/open311/",)

CODES = ["gwm", "jnl", "m003", "m001", "st-a", "hazard", "LX20261120000001", "office", "x1"]
FIELD_NAMES = [
    "station", "studio", "member", "members", "category", "description", "contact", "name",
    "phone", "kind", "date", "slot", "people_served", "submission_id", "activity_id", "version",
    "note", "reason", "into", "to_member", "to_station", "rating", "comment", "login", "password",
    "role", "stations", "studios", "sectors", "district", "code", "per_day", "month", "weekdays",
    "channel", "address", "lookup_code", "tracking_number", "issues", "level", "sector", "active",
    "current_password", "answer", "lat", "long", "service_code", "api_key", "csrf_token",
]  # fmt: skip
ARG_NAMES = [
    "limit", "offset", "month", "year", "from", "to", "station", "studio", "member", "status",
    "active", "breakdown", "district", "role", "lang", "date", "sector", "kind", "next", "all",
    "api_key", "q", "number", "code", "lookup_code", "service_code", "start_date", "end_date",
]  # fmt: skip
NUMBERS = ["-1", "0", "7", "1e3", "1.5", str(10**20), "abc", "", " 7", "0x10", "٣", "NaN"]
WORDS = ["2026-11", "2026-13", "2024", "true", "no", "city", "station", "<script>x</script>",
         "'; drop table issues; --", "../../etc/passwd", "%00", "\\u0000"]  # fmt: skip
CHARSETS = ["utf-8", "gbk", "gb18030", "utf-16", "rot13", "base64", "zlib", "uu", "klingon", ""]

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
ARG_VALUE = st.one_of(TEXT, st.sampled_from(NUMBERS + WORDS + CODES))
# Many of the names a route may read at once (a route reads its own few), and some nonsense.
QUERY = st.tuples(
    st.dictionaries(st.sampled_from(ARG_NAMES), ARG_VALUE, min_size=8, max_size=20),
    st.lists(st.tuples(TEXT, ARG_VALUE), max_size=2),
).map(lambda parts: list(parts[0].items()) + parts[1])
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    st.sampled_from(CODES + NUMBERS + WORDS),
)
JSON = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELD_NAMES), TEXT), inner, max_size=5),
    ),
    max_leaves=16,
)
OBJECT = st.dictionaries(st.sampled_from(FIELD_NAMES), JSON, max_size=8)


@st.composite
def bodies(draw):
    """``(content type, bytes)``: mostly objects with our field names holding anything, and
    the other shapes a careless or hostile client sends."""
    kind = draw(st.sampled_from(["object", "object", "object", "any", "deep", "bytes", "form"]))
    if kind == "object":
        raw = json.dumps(draw(OBJECT), ensure_ascii=draw(st.booleans())).encode()
    elif kind == "any":
        raw = json.dumps(draw(JSON)).encode()
    elif kind == "deep":
        depth = draw(st.sampled_from([17, 100, 1000, 5000, 50000]))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        raw = (opener * depth + "1" + closer * depth).encode()
    elif kind == "bytes":
        raw = draw(st.binary(max_size=200))
    else:
        raw = "&".join(f"{quote(k)}={quote(str(v))}" for k, v in draw(OBJECT).items()).encode()
    charset = draw(st.sampled_from(CHARSETS))
    content_type = draw(
        st.sampled_from(
            [
                "application/json",
                f"application/json; charset={charset}",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=zz",
                "multipart/form-data",
                "text/plain",
                "",
            ]
        )
    )
    return content_type, raw


HEADER_TEXT = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, pg_databases):
    stack, vhost, stack.amqp_uri = make_stack(
        tmp_path_factory.mktemp("inputs"), "sqlite", pg_databases
    )
    config = stack.config()
    stack.callers = [
        stack.headers,  # the office: the furthest into every handler, so the most often
        auth_headers(config, "station_admin", stations=["gwm"]),
        auth_headers(config, "studio_admin", studios=["st-a"]),
        auth_headers(config, "member", member="m003"),
        {},
        {"Authorization": "Bearer not.a-token"},
    ]
    yield stack
    stack.stop()
    delete_vhost(vhost)


def one_format(response) -> None:
    """A JSON refusal is ``{"error": {code, message_zh, message, fields}}``."""
    if response.status_code < 400:
        return
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        return  # a page's refusal is a page; werkzeug's unmatched address is its own 404
    error = response.json()["error"]
    assert set(error) >= {"code", "message_zh", "message", "fields"}, response.text[:300]
    assert isinstance(error["fields"], dict) and error["code"], response.text[:300]


@pytest.mark.parametrize(
    "service, method, rule", [r[:3] for r in ROUTES], ids=[f"{r[1]} {r[0]}{r[2]}" for r in ROUTES]
)
def test_no_input_makes_a_route_answer_5xx(stack, service, method, rule):
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        path_values=st.fixed_dictionaries(
            {
                name: st.one_of(
                    st.just(concrete(f"<{conv}:{name}>" if conv else f"<{name}>")),
                    st.sampled_from(CODES + NUMBERS[:4] + ["a" * 3000]),
                    TEXT.filter(bool).map(lambda t: quote(t, safe="")),
                )
                for conv, name in parameters(rule)
            }
        ),
        query=QUERY,
        body=bodies(),
        caller=st.sampled_from([0, 0, 0, 0, 1, 2, 3, 4, 5]),
        extra=st.dictionaries(
            st.sampled_from(["X-Forwarded-For", "Cookie", "Accept-Language", "Referer"]),
            HEADER_TEXT,
            max_size=2,
        ),
    )
    def probe(path_values, query, body, caller, extra):
        headers = dict(stack.callers[caller]) | extra
        kwargs = {}
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            content_type, raw = body
            if content_type:
                headers["Content-Type"] = content_type
            kwargs["data"] = raw
        url = stack.url(service, concrete(rule, path_values))
        r = requests.request(
            method, url, params=query, headers=headers, allow_redirects=False, timeout=30, **kwargs
        )
        where = (method, r.url[:200], headers.get("Content-Type"), kwargs.get("data", b"")[:200])
        assert r.status_code < 500, (where, r.status_code, r.text[:300])
        if not any(part in rule for part in OWN_FORMAT):
            one_format(r)

    probe()


# --- the fixed corpus: what the outside probe found (issue 20, items 8 and 9) ------------------

DEEP = "[" * 5000 + "]" * 5000
JSON_ENDPOINTS = [
    ("POST", "registry", "/stations"),
    ("POST", "registry", "/studios"),
    ("PATCH", "registry", "/members/m001"),
    ("POST", "registry", "/rosters"),
    ("POST", "registry", "/rosters/rotation"),
    ("POST", "registry", "/accounts"),
    ("POST", "registry", "/auth/sign-in"),
    ("POST", "intake", "/staff/issues"),
    ("POST", "intake", "/staff/activities"),
    ("POST", "routing", "/cases/{case}/actions/accept"),
    ("PUT", "routing", "/members/m001/notifications"),
]
STAFF_ISSUE = {"station": "gwm", "category": "hazard", "description": "楼道灯坏了"}
CORPUS = [
    *[
        (method, service, path, {"data": DEEP, "json_type": True}, 400, "_body")
        for method, service, path in JSON_ENDPOINTS
    ],
    ("GET", "intake", "/submissions", {"params": {"limit": "abc"}}, 400, "limit"),
    ("GET", "intake", "/submissions", {"params": {"limit": "1e3"}}, 400, "limit"),
    ("GET", "intake", "/activities", {"params": {"limit": "abc"}}, 400, "limit"),
    ("GET", "intake", "/activities", {"params": {"limit": "1e3"}}, 400, "limit"),
    ("GET", "intake", "/admin/unrouted", {"params": {"limit": "-1"}}, 400, "limit"),
    ("GET", "registry", "/members", {"params": {"limit": str(10**20)}}, 400, "limit"),
    ("GET", "registry", "/members", {"params": {"offset": str(10**20)}}, 400, "offset"),
    ("GET", "registry", "/members", {"params": {"limit": "-1"}}, 400, "limit"),
    *[
        (
            "POST",
            "intake",
            "/staff/issues",
            {"data": json.dumps(STAFF_ISSUE), "charset": codec},
            400,
            "_body",
        )
        for codec in ("rot13", "base64", "zlib", "uu")
    ],
    ("POST", "intake", "/staff/issues", {"json": STAFF_ISSUE | {"station": ["gwm"]}}, 400, "station"),
    ("POST", "intake", "/staff/issues", {"json": STAFF_ISSUE | {"station": {"a": 1}}}, 400, "station"),
    ("POST", "routing", "/cases/{case}/actions/accept", {"json": {"version": "abc"}}, 400, "version"),
    (
        "POST",
        "routing",
        "/cases/{case}/actions/respond",
        {"json": {"note": "答" * 20_000}},
        400,
        "note",
    ),
    ("POST", "registry", "/rosters/rotation", {"json": {"month": "2026-12", "station": "gwm", "per_day": 10**9}}, 400, "per_day"),
    ("POST", "registry", "/stations", {"data": "x" * 10_000_000, "json_type": True}, 413, "_body"),
    ("PUT", "routing", "/members/m001/notifications", {"data": "x" * 10_000_000, "json_type": True}, 413, "_body"),
    ("POST", "intake", "/staff/issues", {"data": "x" * 10_000_000, "json_type": True}, 413, "_body"),
]  # fmt: skip


@pytest.fixture(scope="module")
def case(stack):
    """A real case at gwm, so that a case action reaches the action's own checks."""
    r = requests.post(
        stack.url("intake", "/staff/issues"), json=STAFF_ISSUE, headers=stack.headers, timeout=30
    )
    assert r.status_code in (201, 202), r.text
    number = (
        r.json().get("tracking_number")
        or wait_submission(stack, r.json()["submission_id"])[0]["tracking_number"]
    )
    return wait_case(stack, number)


@pytest.mark.parametrize(
    "method, service, path, kwargs, status, field",
    CORPUS,
    ids=[f"{c[1]}-{c[0]}{c[2]}-{c[5]}-{i}" for i, c in enumerate(CORPUS)],
)
def test_the_probes_inputs_are_refused_on_the_field(
    stack, case, method, service, path, kwargs, status, field
):
    kwargs = dict(kwargs)
    headers = dict(stack.headers)
    if kwargs.pop("json_type", False):
        headers["Content-Type"] = "application/json"
    if "charset" in kwargs:
        headers["Content-Type"] = f"application/json; charset={kwargs.pop('charset')}"
    before = case_state(stack, case)
    url = stack.url(service, path.format(case=case["tracking_number"]))
    r = requests.request(method, url, headers=headers, timeout=60, **kwargs)
    assert r.status_code == status, (method, path, r.status_code, r.text[:300])
    error = r.json()["error"]
    assert field in error["fields"], error
    assert all(" / " in m for m in error["fields"][field]), error  # Chinese / English
    assert case_state(stack, case) == before  # nothing was done to the case


def case_state(stack, case) -> tuple:
    now = wait_case(stack, case["tracking_number"])
    return now["status"], now.get("member"), now.get("version")


@pytest.mark.parametrize("service", ["registry", "intake", "routing", "reporting"])
def test_an_unknown_address_or_method_is_answered_in_the_one_format(stack, service):
    for method, path, status in (
        ("GET", "/no/such/address", 404),
        ("GET", "/" + "a" * 3000, 404),
        ("DELETE", "/health", 405),
    ):
        r = requests.request(method, stack.url(service, path), headers=stack.headers, timeout=10)
        assert r.status_code == status, (service, method, path, r.status_code)
        error = r.json()["error"]
        assert error["code"] in ("not_found", "method_not_allowed") and error["message_zh"]
        if status == 405:
            assert "GET" in r.headers["Allow"]
