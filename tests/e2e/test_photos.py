"""Citizens' photos (issue 17), through the running system: the QR form and Open311 POST take up
to 3 photos; what is kept has no EXIF and no GPS; bad files are refused by name with the text
kept; the photos show only to who may call the citizen back, never on public pages."""

import io
import os
import re
import struct
import zipfile
import zlib

import requests
from PIL import Image
from sqlalchemy import create_engine, func, select

from services.intake.models import Photo
from tests.conftest import auth_headers
from tests.e2e.conftest import Citizen, get, wait_case

KEY = "lianxin-demo-key"  # the demo Open311 key of deploy/config/local.yaml
GPS = {1: "N", 2: (36.0, 3.0, 41.5), 3: "E", 4: (103.0, 50.0, 2.25)}  # 兰州, to the second
TRACKING = re.compile(r'id="tracking-number">(LX\d+)<')


def gps_jpeg(size=(1600, 1200), colour=(200, 40, 40), orientation=6) -> bytes:
    """A phone's photo: EXIF with the camera, the orientation and where it was taken."""
    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "HUAWEI", "P60", orientation
    exif[0x8825] = GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), quality=90)
    data = out.getvalue()
    assert dict(Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)) == GPS  # it has them
    return data


def heic(size) -> bytes:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    out = io.BytesIO()
    Image.new("RGB", size, (90, 160, 30)).save(out, "HEIF")
    return out.getvalue()


def png_bomb() -> bytes:
    """A small PNG that declares 30000 × 30000 pixels (2.7 GB once decoded)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (30000 * 3 + 1) * 50, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def zip_as_jpg() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("readme.txt", "not a photo " * 100)
    return out.getvalue()


BAD = {
    "not an image": ("note.jpg", b"hello, this is text", "不是可识别的照片"),
    "30 MB": ("huge.jpg", b"\xff\xd8\xff\xe0" + os.urandom(30 * 1024 * 1024), "照片过大"),
    "a zip renamed .jpg": ("photo.jpg", zip_as_jpg(), "不是可识别的照片"),
    "an image bomb": ("bomb.png", png_bomb(), "照片像素过多"),
}


def post_form(citizen, path, fields, files):
    if citizen.token is None:
        citizen.get(path)
    fields = {"csrf_token": citizen.token, **fields}
    return citizen.http.post(
        citizen.stack.url("intake", path), data=fields, files=files, timeout=60
    )


def kept_photos(stack, number):
    """The photos intake keeps for ``number``, as the office fetches them (bytes)."""
    found = []
    for k in range(1, 5):
        r = requests.get(
            stack.url("intake", f"/issues/{number}/photos/{k}"), headers=stack.headers, timeout=10
        )
        if r.status_code == 404:
            break
        assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg", r.text[:200]
        assert "no-store" in r.headers["Cache-Control"]
        found.append(r.content)
    return found


def assert_no_metadata(data: bytes):
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert not image.getexif() and image.getexif().get_ifd(0x8825) == {}
    assert b"Exif" not in data and b"HUAWEI" not in data  # nothing of the original's EXIF
    return image


def stored_count(stack) -> int:
    engine = create_engine(stack.db_urls["intake"])
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(Photo))
    finally:
        engine.dispose()


def test_qr_form_takes_photos_and_keeps_them_without_exif_or_gps(stack):
    citizen = Citizen(stack)
    words = "小区门口的井盖松动，晚上看不见，请尽快处理"
    files = [
        ("media", ("IMG_0001.jpg", gps_jpeg(), "image/jpeg")),
        ("media", ("IMG_0002.jpg", gps_jpeg((800, 600), (20, 90, 200), 1), "image/jpeg")),
    ]
    fields = {"category": "hazard", "description": words, "place": "东岗西路 1 号"}
    r = post_form(citizen, "/q/station/gwm", fields, files)
    if "suggestions" in r.text:  # "是否与以下问题相同?": a new problem
        r = post_form(citizen, "/q/station/gwm", {**fields, "same_as": "", **_hidden(r)}, [])
    assert r.status_code == 200, r.text[:500]
    assert "已随问题提交照片 2 张" in r.text
    assert "/photos/" not in r.text  # the result page never shows a photo
    number = TRACKING.search(r.text).group(1)
    case = wait_case(stack, number)
    assert case["photos"] == 2 and case["description"] == words

    first, second = kept_photos(stack, number)
    upright = assert_no_metadata(first)
    assert upright.size == (1200, 1600)  # turned by its EXIF orientation, then EXIF dropped
    assert assert_no_metadata(second).size == (800, 600)
    thumb = requests.get(
        stack.url("intake", f"/issues/{number}/photos/1/thumb"), headers=stack.headers, timeout=10
    )
    assert max(assert_no_metadata(thumb.content).size) == 320

    # the member's duty page and the station's page show the thumbnails, each linking to it
    member = case["member"]
    duty = requests.get(
        stack.url("routing", f"/duty/{member}"),
        headers=auth_headers(stack.config(), "member", member=member),
        timeout=10,
    ).text
    photo = stack.url("intake", f"/issues/{number}/photos/1")
    assert f'href="{photo}"' in duty and f'src="{photo}/thumb"' in duty
    # the citizen's status page never shows them
    status = citizen.get("/status", number=number, code=_code(stack, number)).text
    assert number in status and "/photos/" not in status


def _hidden(page) -> dict:
    return {"submission_id": re.search(r'name="submission_id" value="([^"]+)"', page.text).group(1)}


def _code(stack, number) -> str:
    from services.intake.models import Issue

    engine = create_engine(stack.db_urls["intake"])
    try:
        with engine.connect() as conn:
            return conn.scalar(select(Issue.lookup_code).where(Issue.tracking_number == number))
    finally:
        engine.dispose()


def test_bad_files_on_the_qr_form_are_refused_by_name_with_the_text_kept(stack):
    before = stored_count(stack)
    words = "路灯坏了三天，老人晚上出门不方便"
    for what, (name, data, message) in BAD.items():
        citizen = Citizen(stack)
        fields = {"category": "hazard", "description": words, "place": "团结新村", "phone": ""}
        r = post_form(citizen, "/q/station/gwm", fields, [("media", (name, data, "image/jpeg"))])
        assert r.status_code == 400, (what, r.status_code, r.text[:300])
        errors = re.findall(r'<p class="error" data-field="media"[^>]*>([^<]+)</p>', r.text)
        assert errors and message in errors[0] and name in errors[0], (what, errors)
        assert " / " in errors[0]  # Chinese, then English
        assert f">{words}</textarea>" in r.text and 'value="团结新村"' in r.text, what
    # four photos: at most three
    citizen = Citizen(stack)
    four = [("media", (f"p{i}.jpg", gps_jpeg((64, 48)), "image/jpeg")) for i in range(4)]
    r = post_form(citizen, "/q/station/gwm", {"category": "hazard", "description": words}, four)
    assert r.status_code == 400 and "最多可附 3 张照片" in r.text
    assert stored_count(stack) == before  # nothing of a refused post was kept
    _, body = get(stack, "intake", "/submissions", limit=1000)
    assert words not in str(body)  # and nothing was sent


def test_open311_post_takes_media_and_get_gives_the_guarded_media_url(stack):
    report = {
        "api_key": KEY,
        "service_code": "hazard",
        "attribute[station]": "gwm",
        "address_string": "东岗西路 9 号",
        "description": "人行道地砖塌陷",
    }
    files = [
        ("media", ("a.jpg", gps_jpeg((640, 480)), "image/jpeg")),
        ("media2", ("b.jpg", gps_jpeg((480, 640), orientation=1), "image/jpeg")),
        ("media3", ("c.heic", heic((400, 300)), "image/heic")),  # an iPhone's
    ]
    r = requests.post(stack.url("intake", "/open311/v2/requests.json"), data=report, files=files, timeout=60)  # fmt: skip
    assert r.status_code == 201, r.text
    number = r.json()[0]["service_request_id"]
    assert wait_case(stack, number)["photos"] == 3
    sizes = [assert_no_metadata(data).size for data in kept_photos(stack, number)]
    assert sizes == [(480, 640), (480, 640), (400, 300)]  # the HEIC kept as a JPEG too
    [one] = requests.get(
        stack.url("intake", f"/open311/v2/requests/{number}.json"), timeout=10
    ).json()
    assert one["media_url"] == stack.url("intake", f"/issues/{number}/photos/1")
    anonymous = requests.get(one["media_url"], timeout=10, allow_redirects=False)
    assert anonymous.status_code in (401, 403) and anonymous.content[:2] != b"\xff\xd8"

    # each bad file: 400 in Open311's error list naming the field; nothing kept, nothing sent
    before = stored_count(stack)
    for what, (name, data, message) in BAD.items():
        r = requests.post(stack.url("intake", "/open311/v2/requests.json"), data=report,
                          files=[("media", ("ok.jpg", gps_jpeg((64, 48)), "image/jpeg")),
                                 ("media2", (name, data, "image/jpeg"))], timeout=60)  # fmt: skip
        assert r.status_code == 400, (what, r.text[:300])
        [error] = r.json()
        assert error["code"] == 400 and error["description"].startswith("media2: "), error
        assert message in error["description"], (what, error)
    assert stored_count(stack) == before


def test_only_who_may_call_the_citizen_sees_the_photos(stack):
    citizen = Citizen(stack)
    fields = {"category": "hazard", "description": "楼道里电线裸露，有安全隐患"}
    r = post_form(citizen, "/q/station/gwm", fields, [("media", ("x.png", _png(), "image/png"))])
    if "suggestions" in r.text:
        r = post_form(citizen, "/q/station/gwm", {**fields, "same_as": "", **_hidden(r)}, [])
    number = TRACKING.search(r.text).group(1)
    member = wait_case(stack, number)["member"]
    config = stack.config()
    allowed = {
        "office": stack.headers,
        "the station's admin": auth_headers(config, "station_admin", stations=["gwm"]),
        "the member who has it": auth_headers(config, "member", member=member),
    }
    refused = {
        "another station's admin": auth_headers(config, "station_admin", stations=["jnl"]),
        "another member": auth_headers(
            config, "member", member="m999" if member != "m999" else "m998"
        ),  # fmt: skip
        "a studio admin": auth_headers(config, "studio_admin", studios=["st-x"]),
        "anonymous": {},
    }
    for suffix in ("", "/thumb"):
        path = stack.url("intake", f"/issues/{number}/photos/1{suffix}")
        for who, headers in allowed.items():
            r = requests.get(path, headers=headers, timeout=10, allow_redirects=False)
            assert r.status_code == 200 and r.content[:2] == b"\xff\xd8", (who, r.status_code)
        for who, headers in refused.items():
            r = requests.get(path, headers=headers, timeout=10, allow_redirects=False)
            assert r.status_code in (401, 403), (who, r.status_code)
            assert r.content[:2] != b"\xff\xd8", who
    missing = requests.get(
        stack.url("intake", f"/issues/{number}/photos/2"), headers=stack.headers, timeout=10
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (300, 200), (0, 128, 0, 200)).save(out, "PNG")
    return out.getvalue()
