"""“委员码上见”: QR codes that open intake's page for a member, station or studio."""

import requests

from services.registry import qr
from tests.registry.conftest import INTAKE
from tests.registry.test_api import OFFICE, seed


def test_codes_point_at_intakes_public_page_and_stay_the_same(registry_service):
    base, _, _ = registry_service
    seed(base)
    r = requests.get(f"{base}/qr/member/m100.png", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
    assert r.content.startswith(b"\x89PNG\r\n\x1a\n")
    # the symbol is exactly the one for intake's page of this member
    assert r.content == qr.png(f"{INTAKE}/q/member/m100")

    svg = requests.get(f"{base}/qr/station/gwm.svg", timeout=10)
    assert svg.headers["Content-Type"].startswith("image/svg+xml")
    assert f"{INTAKE}/q/station/gwm" in svg.text
    studio = requests.get(f"{base}/qr/studio/s-yiyao-1.svg", timeout=10)
    assert f"{INTAKE}/q/studio/s-yiyao-1" in studio.text

    # an edit, a deactivation or a re-import does not change the printed code
    requests.patch(f"{base}/members/m100", json={"name": "张志刚"}, headers=OFFICE, timeout=10)
    exported = requests.get(f"{base}/export/members.xlsx", headers=OFFICE, timeout=10).content
    assert requests.post(f"{base}/import/members", data=exported, headers=OFFICE, timeout=10).ok
    assert requests.get(f"{base}/qr/member/m100.png", timeout=10).content == r.content

    assert requests.get(f"{base}/qr/member/m404.png", timeout=10).status_code == 404
    assert requests.get(f"{base}/qr/shop/gwm.png", timeout=10).status_code == 404


def test_the_a4_poster_says_who_where_and_what_to_do(registry_service):
    base, _, _ = registry_service
    seed(base)
    poster = requests.get(f"{base}/qr/member/m100/poster", timeout=10)
    assert poster.status_code == 200
    text = poster.text
    assert 'width="210mm" height="297mm"' in text
    for words in (
        "委员码上见",
        "张志强 委员",
        "县区政协委员 · 医药卫生界别",
        "广武门街道委员工作站",
    ):
        assert words in text
    assert "编号 m100" in text and qr.INSTRUCTIONS in text
    assert f"{INTAKE}/q/member/m100" in text
    station = requests.get(f"{base}/qr/station/gwm/poster", timeout=10).text
    assert "广武门街道委员工作站" in station and "在站委员 1 名" in station
    studio = requests.get(f"{base}/qr/studio/s-yiyao-1/poster", timeout=10).text
    assert "界别：医药卫生" in studio
