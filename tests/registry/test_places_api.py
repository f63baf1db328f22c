"""Where the stations and studios are (issue 19), over HTTP on SQLite and PostgreSQL: their
WGS-84 coordinates checked, announced and carried through the office's workbook; the public
reception-day calendar (RFC 5545, read back by a minimal parser) and the finder page's content.
The finder in a phone browser is tests/e2e/test_finder_browser.py."""

from datetime import timedelta

import requests

from services.registry import finder
from tests.registry.test_api import OFFICE, STATION, STUDIO, post, seed

GWM = (36.0585, 103.8470)


def patch(base, path, body):
    return requests.patch(f"{base}{path}", json=body, headers=OFFICE, timeout=10)


def field_errors(r) -> dict:
    assert r.status_code == 400, r.text
    return r.json()["error"]["fields"]


def test_coordinates_are_checked_kept_and_announced(registry_service):
    base, _, tap = registry_service
    seed(base)
    saved = [e["payload"] for e in tap.drain() if e["type"] == "registry.station_saved"]
    assert saved[-1]["lat"] is None and saved[-1]["lng"] is None  # not placed yet
    assert patch(base, "/stations/gwm", {"lat": GWM[0], "lng": GWM[1]}).status_code == 200
    [event] = [e for e in tap.drain() if e["type"] == "registry.station_saved"]
    assert (event["payload"]["lat"], event["payload"]["lng"]) == GWM
    assert event["payload"]["revision"] == 2
    station = requests.get(f"{base}/stations/gwm", headers=OFFICE, timeout=10).json()
    assert (station["lat"], station["lng"]) == GWM

    assert patch(base, "/studios/s-yiyao-1", {"lat": 36.0601, "lng": 103.8455}).ok
    [event] = [e for e in tap.drain() if e["type"] == "registry.studio_saved"]
    assert (event["payload"]["lat"], event["payload"]["lng"]) == (36.0601, 103.8455)

    assert (
        "纬度"
        in field_errors(post(base, "/stations", STATION | {"code": "x1", "lat": 95, "lng": 103.8}))[
            "lat"
        ][0]
    )
    only_lat = field_errors(post(base, "/stations", STATION | {"code": "x2", "lat": 36.06}))
    assert only_lat == {
        "lng": ["纬度和经度须同时填写或同时留空 / give both lat and lng, or neither"]
    }
    words = field_errors(
        post(base, "/studios", STUDIO | {"code": "x3", "lat": "北纬36度", "lng": 1})
    )
    assert words == {"lat": ["应为数字 / must be a number"]}
    assert "lng" in field_errors(patch(base, "/stations/gwm", {"lng": 181}))


def test_a_workbook_round_trip_keeps_the_coordinates_and_names_a_bad_one(registry_service):
    base, _, tap = registry_service
    seed(base)
    assert patch(base, "/stations/gwm", {"lat": GWM[0], "lng": GWM[1]}).ok
    tap.drain()
    r = requests.get(f"{base}/export/stations.csv", headers=OFFICE, timeout=10)
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0].endswith(",纬度 lat,经度 lng") and lines[1].endswith(",36.0585,103.847")
    xlsx = requests.get(f"{base}/export/stations.xlsx", headers=OFFICE, timeout=10).content
    again = requests.post(
        f"{base}/import/stations", files={"file": ("s.xlsx", xlsx)}, headers=OFFICE, timeout=30
    )
    assert again.json()["imported"] == {"rows": 1, "created": 0, "updated": 0, "unchanged": 1}
    assert tap.drain(timeout=0.5) == []

    moved = (lines[0] + "\r\n" + lines[1].replace("36.0585", "36.0601") + "\r\n").encode()
    assert requests.post(f"{base}/import/stations", data=moved, headers=OFFICE, timeout=10).ok
    [event] = tap.drain()
    assert event["payload"]["lat"] == 36.0601

    head = "编号,名称,区县,类型,纬度 lat,经度 lng\r\n"
    bad = (
        head
        + "a1,甲工作站,城关区,街道,36.06,103.83\r\n"
        + "a2,乙工作站,城关区,街道,北纬36度,103.83\r\n"
        + "a3,丙工作站,城关区,街道,136.06,103.83\r\n"
        + "a4,丁工作站,城关区,街道,36.06,\r\n"
    ).encode()
    r = requests.post(f"{base}/import/stations", data=bad, headers=OFFICE, timeout=10)
    assert r.status_code == 400
    fields = r.json()["error"]["fields"]
    assert fields["3.lat"] == [
        "第3行 纬度 lat: 应为十进制度数，如 36.0611 / row 3 lat: must be decimal degrees, e.g. 36.0611"
    ]
    assert fields["4.lat"][0].startswith("第4行 纬度 lat: 纬度应在-90到90之间")
    assert fields["5.lng"][0].startswith("第5行 经度 lng: 纬度和经度须同时填写或同时留空")
    assert set(fields) == {"3.lat", "4.lat", "5.lng"}
    assert requests.get(f"{base}/stations/a1", headers=OFFICE, timeout=10).status_code == 404


def unfold(body: bytes) -> list[str]:
    """RFC 5545 content lines: every line ends in CRLF and is at most 75 octets; a line that
    starts with a space continues the one before."""
    assert body.endswith(b"\r\n") and b"\n" not in body.replace(b"\r\n", b"")
    physical = body[:-2].split(b"\r\n")
    assert all(len(line) <= 75 for line in physical), [len(x) for x in physical]
    lines: list[bytes] = []
    for line in physical:
        if line.startswith(b" "):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    return [line.decode("utf-8") for line in lines]  # a fold never splits a character


def components(lines: list[str]) -> list[dict]:
    """The calendar and its events as dicts of property → value; BEGIN/END must pair."""
    stack, found = [], []
    for line in lines:
        name, _, value = line.partition(":")
        if name == "BEGIN":
            stack.append({"": value})
        elif name == "END":
            assert stack and stack[-1][""] == value, line
            found.append(stack.pop())
        else:
            assert stack, line
            stack[-1][name.split(";")[0]] = value
    assert not stack
    return found


def test_the_reception_calendar_lists_the_roster_days(registry_service):
    base, _, _ = registry_service
    seed(base)
    assert patch(base, "/stations/gwm", {"lat": GWM[0], "lng": GWM[1]}).ok
    today = finder.today()
    soon, later, past = (
        today + timedelta(days=3),
        today + timedelta(days=40),
        today - timedelta(days=2),
    )
    for day, slot in ((soon, "am"), (later, "pm"), (past, "am")):
        r = post(
            base,
            "/rosters",
            {"date": day.isoformat(), "slot": slot, "station": "gwm", "members": ["m100"]},
        )
        assert r.status_code in (200, 201), r.text
    r = requests.get(f"{base}/stations/gwm/reception.ics", timeout=10)  # no sign-in
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/calendar")
    lines = unfold(r.content)
    found = components(lines)
    calendar = found[-1]
    assert calendar[""] == "VCALENDAR" and calendar["VERSION"] == "2.0" and calendar["PRODID"]
    events = [c for c in found if c[""] == "VEVENT"]
    assert [e["DTSTART"] for e in events] == [
        soon.strftime("%Y%m%dT010000Z"),  # 09:00 in Beijing
        later.strftime("%Y%m%dT063000Z"),  # 14:30
    ]
    for e in events:
        assert {"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "LOCATION"} <= set(e)
        assert e["SUMMARY"].startswith("委员接待日 广武门街道委员工作站")
        assert "城关区 广武门街道" == e["LOCATION"] and "张志强（医药卫生）" in e["DESCRIPTION"]
        assert e["GEO"] == "36.0585;103.847"
    assert len({e["UID"] for e in events}) == 2
    assert "13809310001" not in r.text
    studio = requests.get(f"{base}/studios/s-yiyao-1/reception.ics", timeout=10)
    assert studio.status_code == 200 and components(unfold(studio.content))[-1][""] == "VCALENDAR"
    missing = requests.get(f"{base}/stations/nope/reception.ics", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_the_finder_lists_places_with_qr_page_and_next_days_without_sign_in(registry_service):
    base, _, _ = registry_service
    seed(base)
    day = finder.today() + timedelta(days=5)
    post(base, "/rosters", {"date": day.isoformat(), "station": "gwm", "members": ["m100"]})
    r = requests.get(f"{base}/finder", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    page = r.text
    assert "广武门街道委员工作站" in page and "医药卫生界别委员工作室" in page
    assert 'href="http://intake.example.cn/q/station/gwm"' in page
    assert 'href="http://intake.example.cn/q/studio/s-yiyao-1"' in page
    assert 'href="stations/gwm/reception.ics"' in page
    assert f"{day.month}月{day.day}日" in page and "张志强（医药卫生）" in page
    assert (
        "13809310001" not in page
        and "<script src" not in page
        and "http://" not in page.split("<script>")[1]
    )


def test_long_lines_are_folded_at_75_octets_between_characters():
    line = "DESCRIPTION:值班委员 members on duty: " + "、".join(
        ["欧阳晓燕（社会福利和社会保障）"] * 6
    )
    folded = finder.fold(line).encode()
    assert len(folded.split(b"\r\n")) > 3
    assert unfold(folded) == [line]
