"""Personal data and the public forms, through the whole stack on PostgreSQL with two intake
processes: a citizen's name and phone stay sealed in intake and masked everywhere; only those
who must call back see them whole, and the audit log says who did, when; guessing tracking
numbers reveals nothing and is slowed across both intake processes; a flood of the QR form is
slowed while every other citizen gets through; forms need their CSRF token and a sane size;
script and SQL typed into any field of any channel come back inert (one check in a browser).
"""

import json
import re
import uuid
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from services.intake.models import Issue
from services.kernel import auth, sealed
from services.kernel.db import make_engine
from tests.conftest import auth_headers, create_vhost, delete_vhost
from tests.e2e.conftest import Citizen, an_address, free_ports, stack_env, wait_case
from tools.client import SubmissionClient
from tools.stack import Stack

PII_KEY = Fernet.generate_key().decode()  # this stack's key, from the environment
OPEN311_KEY = "client-key-" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def pstack(tmp_path_factory, pg_databases):
    tmp = tmp_path_factory.mktemp("personal")
    vhost, amqp_uri = create_vhost()
    services = ("registry", "intake", "routing", "reporting")
    urls = {s: pg_databases.create() for s in services}
    ports = free_ports(5)
    env = stack_env(amqp_uri, urls, ports[:4])
    env.update({"LIANXIN_PII_KEY": PII_KEY, "INTAKE_OPEN311_API_KEYS": OPEN311_KEY})
    stack = Stack(env=env, log_dir=tmp / "log")
    stack.db_urls, stack.amqp_uri = urls, amqp_uri
    stack.headers = auth_headers(stack.config())  # the office's, for the tests' own look-ups
    stack.second = f"http://127.0.0.1:{ports[4]}"  # a second intake process, same database
    stack.prepare(demo=True, demo_set="small")
    try:
        stack.start()
        stack.start_service("intake", name="intake-2", env={"INTAKE_PORT": str(ports[4])})
        for base in (stack.url("intake"), stack.second):
            stack.wait_for(
                lambda base=base: _stations(base) == 5, 60, what=f"intake at {base} consuming"
            )
        yield stack
    finally:
        stack.stop()
        delete_vhost(vhost)


def _stations(base):
    try:
        return len(requests.get(f"{base}/health", timeout=2).json()["stations"])
    except (requests.RequestException, ValueError, KeyError):
        return 0


def token(stack, principal) -> str:
    return auth.issue_token(principal, stack.config())


def bearer(stack, principal, address="10.200.0.1") -> dict:
    return {"Authorization": f"Bearer {token(stack, principal)}", "X-Forwarded-For": address}


def shown(html, element_id):
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    return found.group(1) if found else None


def read(stack, service, path, headers=None, params=None) -> str:
    """The text of a GET on one of the stack's services (as ``headers``, else anonymous)."""
    return requests.get(stack.url(service, path), headers=headers, params=params, timeout=10).text


def qr_report(stack, citizen=None, **fields):
    """A citizen reports at the gwm station's QR code; (tracking number, lookup code, page)."""
    citizen = citizen or Citizen(stack)
    # "是否与以下问题相同?" answered up front: a new problem (these texts are alike on purpose)
    form = {"category": "health", "description": "楼道灯坏了", "same_as": "", **fields}
    page = citizen.post("/q/station/gwm", **form)
    assert page.status_code == 200, page.text
    return shown(page.text, "tracking-number"), shown(page.text, "lookup-code"), page


def stored_text(db_url) -> str:
    """Every value of every table of a database, as text: what someone with a dump would read."""
    engine = make_engine(db_url)
    out = []
    try:
        with engine.connect() as conn:
            for table in sa.inspect(conn).get_table_names():
                for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                    for v in row:
                        if isinstance(v, bytes | memoryview):
                            v = bytes(v).decode("utf-8", "replace")
                        out.append(str(v))
    finally:
        engine.dispose()
    return "\n".join(out)


# -- 1. sealed in intake, masked everywhere, nowhere else -------------------------------------------

PHONE, NAME = "13812345678", "欧阳明月"


def test_name_and_phone_stay_in_intake_sealed_and_are_masked_wherever_shown(pstack):
    citizen = Citizen(pstack)
    number, code, page = qr_report(
        pstack, citizen, name=NAME, phone=PHONE, consent="1", place="广武门 3 号"
    )
    case = wait_case(pstack, number)

    issue = requests.get(
        pstack.url("intake", f"/issues/{number}"), headers=pstack.headers, timeout=10
    ).json()
    assert issue["contact"] == {"name": "欧*", "phone": "138****5678"}

    key = {"api_key": OPEN311_KEY}
    answers = {
        "issue": read(pstack, "intake", f"/issues/{number}", headers=pstack.headers),
        "submissions": read(pstack, "intake", "/submissions", headers=pstack.headers),
        "open311 json": read(pstack, "intake", f"/open311/v2/requests/{number}.json", params=key),
        "open311 xml": read(pstack, "intake", "/open311/v2/requests.xml", params=key),
        "status page": citizen.get("/status", number=number, code=code).text,
        "status api": citizen.http.get(
            pstack.url("intake", "/api/status"), params={"number": number, "code": code}
        ).text,
        "result page": page.text,
        "unrouted": read(pstack, "intake", "/admin/unrouted", headers=pstack.headers),
        "parked": read(pstack, "intake", "/admin/parked?all=1", headers=pstack.headers),
        "case": read(pstack, "routing", f"/cases/{number}", headers=pstack.headers),
        "duty page": requests.get(
            pstack.url("routing", f"/duty/{case['member']}"),
            headers=bearer(pstack, auth.Principal("o", "office")),
            timeout=10,
        ).text,
        "dashboard": read(pstack, "reporting", "/dashboard", headers=pstack.headers),
    }
    for what, text in answers.items():
        assert PHONE not in text and NAME not in text, what
    assert "欧阳明月" not in json.dumps(answers, ensure_ascii=False)

    # No other service ever held them: routing's and reporting's databases (reporting keeps
    # every event it consumed, so no event carried them either).
    for service in ("registry", "routing", "reporting"):
        text = stored_text(pstack.db_urls[service])
        assert number in text or service == "registry"
        assert PHONE not in text and NAME not in text, service
    # Intake holds them sealed: not in the clear, not under the development key, but under
    # the key the environment gave.
    intake_text = stored_text(pstack.db_urls["intake"])
    assert number in intake_text and PHONE not in intake_text and NAME not in intake_text
    engine = make_engine(pstack.db_urls["intake"])
    try:
        with engine.connect() as conn:
            raw = conn.scalar(
                sa.text("SELECT contact_phone FROM issues WHERE tracking_number = :n"),
                {"n": number},
            )
        assert sealed.Keyring([PII_KEY]).open(raw.encode()).decode() == PHONE
        with pytest.raises(sealed.InvalidToken):
            sealed.Keyring([sealed.DEV_PII_KEY]).open(raw.encode())
    finally:
        engine.dispose()


TYPED_PHONE, TYPED_ID = "13912345678", "620102199001011234"


def test_numbers_typed_into_the_description_leave_intake_only_masked(pstack):
    """The citizen's words travel with the case (issue #17), but a phone or identity number
    typed into them reaches routing's table, the event and reporting's store only masked."""
    words = f"楼道灯坏了，我的电话{TYPED_PHONE}，身份证{TYPED_ID}"
    number, _, _ = qr_report(pstack, description=words, place=f"广武门 5 号 电话{TYPED_PHONE}")
    case = wait_case(pstack, number)
    assert case["description"] == "楼道灯坏了，我的电话139****5678，身份证620*************34"
    assert case["place"] == "广武门 5 号 电话139****5678"

    def stored_event(db_url, query):
        engine = make_engine(db_url)
        try:
            with engine.connect() as conn:
                return conn.scalar(sa.text(query), {"n": f"%{number}%"})
        finally:
            engine.dispose()

    # the event as intake sent it (its outbox) and as reporting stored it
    sent = stored_event(
        pstack.db_urls["intake"],
        "SELECT body FROM kernel_outbox WHERE routing_key = 'intake.issue_received' "
        "AND body LIKE :n",
    )
    payload = json.loads(sent)["payload"]
    assert payload["description"] == case["description"] and payload["place"] == case["place"]

    def reporting_has_it():
        return stored_event(
            pstack.db_urls["reporting"],
            "SELECT payload FROM event_store WHERE type = 'intake.issue_received' "
            "AND payload LIKE :n",
        )

    kept = pstack.wait_for(reporting_has_it, timeout=30, what="reporting's copy of the event")
    assert "139****5678" in kept
    case_page = read(pstack, "routing", "/duty/station/gwm", headers=pstack.headers)
    assert "139****5678" in case_page
    for what, text in {
        "event sent": sent,
        "event stored by reporting": kept,
        "routing's database": stored_text(pstack.db_urls["routing"]),
        "reporting's database": stored_text(pstack.db_urls["reporting"]),
        "routing's case": json.dumps(case, ensure_ascii=False),
        "station page": case_page,
    }.items():
        assert TYPED_PHONE not in text and TYPED_ID not in text, what
    for log in pstack.log_dir.glob("*.log"):  # no service wrote them in a log line either
        text = log.read_text("utf-8", "replace")
        assert TYPED_PHONE not in text and TYPED_ID not in text, log.name


def test_a_photos_exif_and_gps_are_gone_after_upload_and_it_stays_sealed_in_intake(pstack):
    """A citizen's photo (issue #17) keeps no EXIF (no GPS position, no camera) once uploaded,
    is sealed at rest in intake under the environment's key, and no other service stores it."""
    import io

    from PIL import Image

    gps = {1: "N", 2: (36.0, 3.0, 41.5), 3: "E", 4: (103.0, 50.0, 2.25)}
    exif = Image.Exif()
    exif[0x010F], exif[0x8825] = "XIAOMI-GPS-CAMERA", gps
    sent = io.BytesIO()
    Image.new("RGB", (900, 600), (10, 120, 60)).save(sent, "JPEG", exif=exif.tobytes())
    assert dict(Image.open(io.BytesIO(sent.getvalue())).getexif().get_ifd(0x8825)) == gps
    citizen = Citizen(pstack)
    citizen.get("/q/station/gwm")
    form = {"category": "health", "description": "小区垃圾站满溢", "same_as": "", "csrf_token": citizen.token}  # fmt: skip
    page = citizen.http.post(pstack.url("intake", "/q/station/gwm"), data=form,
                             files=[("media", ("IMG_1.jpg", sent.getvalue(), "image/jpeg"))])  # fmt: skip
    assert page.status_code == 200, page.text[:300]
    number = shown(page.text, "tracking-number")
    assert wait_case(pstack, number)["photos"] == 1

    photo = requests.get(
        pstack.url("intake", f"/issues/{number}/photos/1"), headers=pstack.headers, timeout=10
    )
    kept = Image.open(io.BytesIO(photo.content))
    assert kept.size == (900, 600) and not kept.getexif() and b"Exif" not in photo.content
    assert b"XIAOMI-GPS-CAMERA" not in photo.content
    engine = make_engine(pstack.db_urls["intake"])
    try:
        with engine.connect() as conn:
            raw = bytes(conn.scalar(sa.text("SELECT data FROM photos ORDER BY id DESC LIMIT 1")))
    finally:
        engine.dispose()
    assert not raw.startswith(b"\xff\xd8") and b"XIAOMI" not in raw  # sealed, not a JPEG
    assert sealed.Keyring([PII_KEY]).open(raw) == photo.content
    for service in ("routing", "reporting"):  # only the count travels, never the photo
        text = stored_text(pstack.db_urls[service])
        assert "JFIF" not in text and "XIAOMI" not in text, service


# -- 2. whole only to those who must call back; the audit log ------------------------------------


def test_only_those_who_must_call_back_see_the_contact_and_the_audit_log_says_who(pstack):
    r = requests.post(
        pstack.url("intake", "/staff/issues"),
        json={
            "station": "gwm",
            "channel": "phone",
            "category": "health",
            "description": "来电：社区义诊太少",
            "contact": {"name": "李四", "phone": "13987654321"},
        },
        headers=pstack.headers,
        timeout=30,
    )
    assert r.status_code == 201, r.text
    number = r.json()["tracking_number"]
    case = wait_case(pstack, number)
    member = case["member"]

    def wait_assignment_known():  # intake learns the assignment from routing's event
        def known():
            engine = make_engine(pstack.db_urls["intake"])
            try:
                with engine.connect() as conn:
                    return conn.scalar(
                        sa.text(
                            "SELECT member_code FROM issue_steps WHERE tracking_number = :n "
                            "AND member_code IS NOT NULL"
                        ),
                        {"n": number},
                    )
            finally:
                engine.dispose()

        pstack.wait_for(known, 30, what="the assignment mirrored in intake")

    wait_assignment_known()
    url = pstack.url("intake", f"/issues/{number}/contact")
    office = auth.Principal("office-wang", "office", "王主任")
    gwm_admin = auth.Principal("gwm-zhao", "station_admin", stations=frozenset({"gwm"}))
    jnl_admin = auth.Principal("jnl-qian", "station_admin", stations=frozenset({"jnl"}))
    assigned = auth.Principal(f"acct-{member}", "member", member=member)
    stranger = auth.Principal("acct-other", "member", member="m-not-" + member)
    studio = auth.Principal("studio-sun", "studio_admin", studios=frozenset({"st01"}))

    nobody = requests.post(url, timeout=10)
    assert nobody.status_code == 401 and "4321" not in nobody.text
    for who in (stranger, jnl_admin, studio):
        refused = requests.post(url, headers=bearer(pstack, who), timeout=10)
        assert refused.status_code == 403, who
        assert "4321" not in refused.text and "李" not in refused.text
        assert not re.search(r"\d{4}", refused.text)  # no digits of anyone's phone

    for who, address in ((assigned, "10.200.0.7"), (gwm_admin, "10.200.0.8")):
        seen = requests.post(url, headers=bearer(pstack, who, address), timeout=10)
        assert seen.status_code == 200, seen.text
        assert seen.json()["contact"] == {"name": "李四", "phone": "13987654321"}
        assert seen.headers["Cache-Control"] == "no-store"
    seen = requests.post(
        url, headers=bearer(pstack, office, "10.200.0.9"), json={"reason": "回访"}, timeout=10
    )
    assert seen.status_code == 200

    # the audit log: the office only
    audit = pstack.url("intake", "/admin/audit")
    for who in (gwm_admin, assigned):
        assert requests.get(audit, headers=bearer(pstack, who), timeout=10).status_code == 403
    assert requests.get(audit, timeout=10).status_code == 401
    log = requests.get(
        audit, params={"number": number}, headers=bearer(pstack, office), timeout=10
    ).json()["views"]
    assert [(v["account"], v["role"], v["address"]) for v in log] == [
        ("office-wang", "office", "10.200.0.9"),
        ("gwm-zhao", "station_admin", "10.200.0.8"),
        (f"acct-{member}", "member", "10.200.0.7"),
    ]
    assert all(v["fields"] == ["name", "phone"] and v["tracking_number"] == number for v in log)
    assert log[0]["reason"] == "回访" and all(v["viewed_at"].startswith("20") for v in log)
    # the refusals showed nothing, so nothing was logged for them
    assert not {v["account"] for v in log} & {"acct-other", "jnl-qian", "studio-sun"}


# -- 3. guessing tracking numbers ------------------------------------------------------------------


def test_a_citizen_trying_other_tracking_numbers_learns_nothing_and_is_slowed(pstack):
    number, code, _ = qr_report(pstack)
    mine, my_code, _ = qr_report(pstack)
    wrong = "000000" if code != "000000" else "111111"
    bases = [pstack.url("intake"), pstack.second]

    def api(base, n, c, address):
        return requests.get(
            f"{base}/api/status",
            params={"number": n, "code": c},
            headers={"X-Forwarded-For": address},
            timeout=10,
        )

    # an unknown number and a wrong code: the same answer, word for word
    unknown = api(bases[0], number[:-6] + "999999", wrong, an_address())
    wrong_code = api(bases[1], number, wrong, an_address())
    assert unknown.status_code == wrong_code.status_code == 404
    assert unknown.text == wrong_code.text
    page_unknown = Citizen(pstack).get("/status", number="LX20000101000001", code=wrong)
    page_wrong = Citizen(pstack).get("/status", number=number, code=wrong)
    assert page_unknown.status_code == page_wrong.status_code == 404

    def same(text, n):
        return re.sub(r'name="csrf_token" value="[^"]+"', "", text.replace(n, "N"))

    assert same(page_unknown.text, "LX20000101000001") == same(page_wrong.text, number)

    # three more wrong codes for the number (five in all), from different addresses, through
    # both intake processes: the counters are shared through the database
    for i in range(3):
        assert api(bases[i % 2], number, wrong, an_address()).status_code == 404
    slowed = api(bases[0], number, code, an_address())  # even the right code must wait now
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) >= 55
    assert number not in slowed.text and "steps" not in slowed.text
    again = api(bases[1], number, code, an_address())
    assert again.status_code == 429
    page = Citizen(pstack).get("/status", number=number, code=code)
    assert page.status_code == 429 and "查询失败次数过多" in page.text and "已受理" not in page.text

    # one address trying many numbers is slowed too, whichever process it reaches
    guesser = an_address()
    for i in range(10):
        r = api(bases[i % 2], f"LX20261127{900000 + i:06d}", "123456", guesser)
        assert r.status_code == 404
    blocked = api(bases[1], f"LX20261127{990000:06d}", "123456", guesser)
    assert blocked.status_code == 429 and blocked.headers["Retry-After"]

    # meanwhile another citizen with their own number and code is not held up
    ok = api(bases[0], mine, my_code, an_address())
    assert ok.status_code == 200 and ok.json()["tracking_number"] == mine


# -- 4. a flood of the QR form ---------------------------------------------------------------------


def test_a_flood_of_the_qr_form_is_slowed_and_every_citizen_gets_through(pstack):
    flooder = Citizen(pstack)
    flooder.get("/q/station/jnl")
    flood_answers = []

    def flood(n):
        r = flooder.post(
            "/q/station/jnl",
            base=pstack.second if n % 2 else None,  # through both intake processes
            category="health",
            description=f"刷屏 {n}",
            same_as="",  # "是否与以下问题相同?" answered up front: a new problem
            submission_id=f"flood-{n}-{uuid.uuid4().hex[:6]}",
        )
        flood_answers.append(r)

    def citizen(n):
        c = Citizen(pstack)
        number, _, _ = qr_report_at(c, "jnl", f"真实反映 {n}：路灯不亮")
        return number

    def qr_report_at(c, station, text):
        page = c.post(f"/q/station/{station}", category="health", description=text, same_as="")
        assert page.status_code == 200 and shown(page.text, "tracking-number"), page.text
        return shown(page.text, "tracking-number"), None, page

    with ThreadPoolExecutor(max_workers=8) as pool:
        floods, citizens = [], []
        for n in range(60):
            floods.append(pool.submit(flood, n))
            if n % 5 == 0:
                citizens.append(pool.submit(citizen, n // 5))
        numbers = [f.result() for f in citizens]
        for f in floods:
            f.result()

    statuses = [r.status_code for r in flood_answers]
    assert statuses.count(200) == 20  # the per-address allowance, exactly, across processes
    assert statuses.count(429) == 40
    slowed = next(r for r in flood_answers if r.status_code == 429)
    assert "请稍后再试" in slowed.text and int(slowed.headers["Retry-After"]) > 0
    kept = re.search(r"<textarea[^>]*>([^<]*)</textarea>", slowed.text).group(1)
    assert kept.startswith("刷屏 ")  # what was typed is back in the form

    # every real citizen got a tracking number, and every one of those cases was assigned
    assert len(set(numbers)) == 12 and all(n and n.startswith("LX") for n in numbers)
    for n in numbers:
        routed(pstack, n)
    # and the flood's own twenty are kept too: nothing that got through is dropped
    accepted = [shown(r.text, "tracking-number") for r in flood_answers if r.status_code == 200]
    for n in accepted:
        routed(pstack, n)


def routed(stack, number):
    """Routing has the case (assigned, or waiting for a member)."""

    def found():
        r = requests.get(
            stack.url("routing", f"/cases/{number}"), headers=stack.headers, timeout=10
        )
        return r.status_code == 200 and r.json()["status"] in ("assigned", "waiting")

    stack.wait_for(found, 30, what=f"case {number} in routing")


def test_open311_posts_are_limited_per_address_and_refuse_a_wrong_key(pstack):
    url = pstack.url("intake", "/open311/v2/requests.json")
    report = {
        "api_key": OPEN311_KEY,
        "service_code": "health",
        "attribute[station]": "ytl",
        "address_string": "雁滩路",
        "description": "热线转来：义诊",
    }
    flooder = an_address()
    codes = [
        requests.post(url, data=report, headers={"X-Forwarded-For": flooder}, timeout=30)
        for _ in range(21)
    ]
    assert [c.status_code for c in codes].count(201) == 20
    assert codes[-1].status_code == 429 and codes[-1].headers["Retry-After"]
    assert codes[-1].json()[0]["code"] == 429
    other = requests.post(url, data=report, headers={"X-Forwarded-For": an_address()}, timeout=30)
    assert other.status_code == 201
    demo = requests.post(url, data={**report, "api_key": "lianxin-demo-key"}, timeout=30)
    assert demo.status_code == 403  # only the keys the environment gave
    assert OPEN311_KEY not in stored_text(pstack.db_urls["intake"])  # counted by fingerprint


# -- 5. CSRF and size on the forms ---------------------------------------------------------------


def test_forms_without_their_token_or_too_big_are_refused_keeping_what_was_typed(pstack):
    citizen = Citizen(pstack)
    form = {"category": "health", "description": "没有令牌的提交", "place": "小西湖"}
    r = citizen.post("/q/station/gwm", csrf_token="forged", **form)
    assert r.status_code == 403 and "页面已过期" in r.text
    assert "没有令牌的提交" in r.text and 'value="小西湖"' in r.text
    cross_site = requests.post(pstack.url("intake", "/q/station/gwm"), data=form, timeout=30)
    assert cross_site.status_code == 403  # no cookie, no token
    # the refused page carries a good token: submitting again works
    again_token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    sid = re.search(r'name="submission_id" value="([^"]*)"', r.text).group(1)
    r = citizen.post("/q/station/gwm", csrf_token=again_token, submission_id=sid, **form)
    assert r.status_code == 200 and shown(r.text, "tracking-number").startswith("LX")

    big = citizen.post("/q/station/gwm", category="health", description="长" * 70_000)
    assert big.status_code == 413 and "过大" in big.text and "<html" in big.text
    action = citizen.http.post(
        pstack.url("intake", "/status/action"), data={"number": "x", "comment": "长" * 70_000}
    )
    assert action.status_code == 413

    number, code, _ = qr_report(pstack, citizen)
    forged = citizen.http.post(
        pstack.url("intake", "/status/action"),
        data={"number": number, "code": code, "action": "reopen", "comment": "我的意见"},
        timeout=30,
    )
    assert forged.status_code == 403 and "页面已过期" in forged.text


# -- 6. script and SQL in every field of every channel ---------------------------------------------

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE issues; --",
    "{{7*7}}",
]
RAW_MARKERS = ("<script>alert(1)", "<img src=x", "onerror=alert(1)>")


def inert(html: str) -> bool:
    return not any(m in html for m in RAW_MARKERS)


def test_script_and_sql_in_every_field_of_every_channel_come_back_inert(pstack):
    payload = " | ".join(PAYLOADS)
    short = payload[:100]
    numbers = {}

    # QR form: description, place, name; the phone field gets it too (refused, shown back)
    citizen = Citizen(pstack)
    refused = citizen.post(
        "/q/station/gwm",
        category="health",
        description=payload,
        place=short,
        name=short,
        phone=payload,
        consent="1",
    )
    assert refused.status_code == 400 and inert(refused.text)
    assert "{{7*7}}" in refused.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in refused.text
    page = citizen.post(
        "/q/station/gwm",
        category="health",
        description=payload,
        place=short,
        name=short,
        consent="1",
    )
    assert page.status_code == 200 and inert(page.text)
    numbers["qr"] = shown(page.text, "tracking-number")
    code = shown(page.text, "lookup-code")

    # staff entry
    r = requests.post(
        pstack.url("intake", "/staff/issues"),
        json={
            "station": "gwm",
            "channel": "letter",
            "category": "health",
            "description": payload,
            "place": short,
            "contact": {"name": short},
        },
        headers=pstack.headers,
        timeout=30,
    )
    assert r.status_code == 201
    numbers["staff"] = r.json()["tracking_number"]

    # staff: a reception day's note and the issue raised there
    activity_id = f"act-{uuid.uuid4().hex[:10]}"
    r = requests.post(
        pstack.url("intake", "/staff/activities"),
        json={
            "activity_id": activity_id,
            "kind": "reception_day",
            "station": "gwm",
            "date": "2026-11-20",
            "members": [],
            "people_served": 3,
            "note": payload,
            "issues": [
                {
                    "category": "health",
                    "description": payload,
                    "place": short,
                    "contact": {"name": short},
                }
            ],
        },
        headers=pstack.headers,
        timeout=30,
    )
    assert r.status_code == 201, r.text
    numbers["activity"] = r.json()["issues"][0]["tracking_number"]
    listed = requests.get(pstack.url("intake", "/activities"), headers=pstack.headers, timeout=10)
    assert listed.headers["Content-Type"].startswith("application/json")
    [mine] = [a for a in listed.json()["activities"] if a["activity_id"] == activity_id]
    assert mine["note"] == payload  # verbatim, as data

    # Open311
    r = requests.post(
        pstack.url("intake", "/open311/v2/requests.json"),
        data={
            "api_key": OPEN311_KEY,
            "service_code": "health",
            "attribute[station]": "gwm",
            "address_string": short,
            "description": payload,
            "first_name": PAYLOADS[0],
            "last_name": PAYLOADS[2],
        },
        headers={"X-Forwarded-For": an_address()},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    numbers["open311"] = r.json()[0]["service_request_id"]

    # AMQP
    sid = str(uuid.uuid4())
    with SubmissionClient(pstack.amqp_uri) as client:
        client.submit(
            "gwm",
            category="health",
            description=payload,
            submission_id=sid,
            place=short,
            contact={"name": short},
        )

    def amqp_number():
        subs = requests.get(
            pstack.url("intake", "/submissions"),
            params={"submission_id": sid},
            headers=pstack.headers,
            timeout=10,
        ).json()["submissions"]
        return subs[0]["tracking_number"] if subs else None

    numbers["amqp"] = pstack.wait_for(amqp_number, 30, what="the AMQP submission")
    cases = {k: wait_case(pstack, n) for k, n in numbers.items()}

    # every page and API that shows them
    office = bearer(pstack, auth.Principal("o", "office"))
    pages = {
        "status page": citizen.get("/status", number=numbers["qr"], code=code).text,
        "receipt": read(pstack, "intake", f"/q/receipt/{sid}"),
        "issue": read(pstack, "intake", f"/issues/{numbers['qr']}", headers=pstack.headers),
        "duty page": read(pstack, "routing", f"/duty/{cases['qr']['member']}", headers=office),
        "station page": read(pstack, "routing", "/duty/station/gwm", headers=office),
        "dashboard": read(pstack, "reporting", "/dashboard", headers=pstack.headers),
    }
    for what, html in pages.items():
        assert inert(html), what

    key = {"api_key": OPEN311_KEY, "service_request_id": ",".join(numbers.values())}
    as_json = requests.get(
        pstack.url("intake", "/open311/v2/requests.json"), params=key, timeout=10
    )
    assert as_json.headers["Content-Type"].startswith("application/json")
    found = {r["service_request_id"]: r for r in as_json.json()}
    assert {found[n]["description"] for n in numbers.values()} == {payload}
    assert found[numbers["qr"]]["address"] == short
    as_xml = requests.get(pstack.url("intake", "/open311/v2/requests.xml"), params=key, timeout=10)
    assert inert(as_xml.text)
    parsed = ET.fromstring(as_xml.content)
    assert {r.findtext("description") for r in parsed} == {payload}

    # the database holds them verbatim (the names sealed, and whole once opened)
    sealed.configure({"security": {"pii_key": PII_KEY}})
    engine = make_engine(pstack.db_urls["intake"])
    try:
        with Session(engine) as s:
            rows = {
                i.tracking_number: i
                for i in s.scalars(
                    sa.select(Issue).where(Issue.tracking_number.in_(numbers.values()))
                )
            }
        assert {r.description for r in rows.values()} == {payload}
        assert rows[numbers["qr"]].place == short and rows[numbers["qr"]].contact_name == short
        assert rows[numbers["open311"]].contact_name == f"{PAYLOADS[2]} {PAYLOADS[0]}"
        assert rows[numbers["amqp"]].contact_name == short
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM issues")) >= 5  # not dropped
    finally:
        engine.dispose()
        sealed.configure({})


def test_no_alert_fires_in_a_browser_that_gets_script_back(pstack, phone):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from tests.e2e.conftest import after_click

    def no_alert():
        try:
            phone.switch_to.alert.text  # noqa: B018  (raises when there is none)
        except NoAlertPresentException:
            return True
        return False

    phone.get(pstack.url("intake", "/q/station/gwm"))
    Select(phone.find_element(By.ID, "category")).select_by_value("health")
    payload = " ".join(PAYLOADS)
    for field in ("description", "place", "name"):
        phone.find_element(By.ID, field).send_keys(
            payload[:100] if field != "description" else payload
        )
    phone.find_element(By.ID, "phone").send_keys(PAYLOADS[1][:20])  # refused: shown back
    phone.find_element(By.ID, "consent").click()
    phone.find_element(By.ID, "submit").click()
    WebDriverWait(phone, 20).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '[data-field="phone"]')
    )
    assert no_alert() and not phone.find_elements(By.CSS_SELECTOR, "main img")
    assert phone.find_element(By.ID, "description").get_attribute("value") == payload

    phone.find_element(By.ID, "phone").clear()
    phone.find_element(By.ID, "submit").click()
    WebDriverWait(phone, 20).until(
        lambda d: d.find_elements(By.ID, "tracking-number") or d.find_elements(By.ID, "suggestions")
    )
    if phone.find_elements(By.ID, "suggestions"):  # earlier reports of these payloads, offered
        assert no_alert() and not phone.find_elements(By.CSS_SELECTOR, "main img")
        phone.find_element(By.ID, "new-problem").click()
    after_click(phone, "tracking-number")
    assert no_alert()
    phone.find_element(By.ID, "status-link").click()
    after_click(phone, "current-status")
    assert no_alert() and not phone.find_elements(By.CSS_SELECTOR, "img")
