"""Import and export over HTTP: the office's Excel round trip, and refusals that write nothing."""

import requests

from tests.registry.test_api import OFFICE, post, seed


def test_excel_round_trip_over_http_changes_nothing(registry_service):
    base, _, tap = registry_service
    seed(base)
    assert post(base, "/rosters", {"date": "2026-12-02", "station": "gwm", "members": ["m100"]}).ok
    tap.drain()
    for kind in ("sectors", "stations", "studios", "members", "rosters"):
        r = requests.get(f"{base}/export/{kind}.xlsx", headers=OFFICE, timeout=10)
        assert r.status_code == 200 and r.content.startswith(b"PK")
        assert f'filename="{kind}.xlsx"' in r.headers["Content-Disposition"]
        files = {"file": (f"{kind}.xlsx", r.content)}
        imported = requests.post(f"{base}/import/{kind}", files=files, headers=OFFICE, timeout=30)
        assert imported.status_code == 200, imported.text
        counts = imported.json()["imported"]
        assert counts["unchanged"] == counts["rows"] >= 1, kind
    assert tap.drain(timeout=0.5) == []  # nothing changed, nothing announced
    r = requests.get(f"{base}/export/members.csv", headers=OFFICE, timeout=10)
    assert r.content.startswith("\ufeff编号,姓名".encode())
    assert "13809310001" in r.content.decode("utf-8-sig")


def test_a_bad_upload_is_refused_whole_with_row_and_field(registry_service):
    base, _, _ = registry_service
    seed(base)
    csv = (
        "编号,姓名,层级,界别,区县,电话\r\n"
        "m500,新委员,市,医药卫生,城关区,13800000000\r\n"
        "m501,新委员,市,医药卫生,城关区,电话号码\r\n"
    ).encode()
    r = requests.post(f"{base}/import/members", data=csv, headers=OFFICE, timeout=10)
    assert r.status_code == 400
    assert r.json()["error"]["fields"] == {
        "3.phone": ["第3行 电话: 格式不正确 / row 3 phone: invalid"]
    }
    assert (
        requests.get(f"{base}/members", params={"q": "m500"}, headers=OFFICE, timeout=10).json()[
            "total"
        ]
        == 0
    )
    r = requests.post(
        f"{base}/import/members", data=b"\x89PNG\r\n\x1a\n\x00\x00", headers=OFFICE, timeout=10
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "not_a_spreadsheet"
    r = requests.post(
        f"{base}/import/members", data="姓名,电话\r\n".encode(), headers=OFFICE, timeout=10
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "wrong_headers"
    assert requests.get(f"{base}/export/members.pdf", headers=OFFICE, timeout=10).status_code == 400
