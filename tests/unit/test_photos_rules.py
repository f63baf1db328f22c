"""Intake's photo rules (services/intake/photos.py) without a broker: what is taken, what is
refused and why, what is kept (no EXIF, no GPS), and where (real SQLite and PostgreSQL)."""

import io
import struct
import zipfile
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage, MultiDict

from services.intake import photos
from services.intake.models import Issue, Photo, Submission
from services.kernel.db import make_engine
from services.kernel.http import ApiError
from services.kernel.migrations import upgrade

GPS = {1: "N", 2: (36.0, 3.0, 41.5), 3: "E", 4: (103.0, 50.0, 2.25)}


def jpeg(size=(4000, 3000), orientation=1, gps=True) -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "HUAWEI", orientation
    if gps:
        exif[0x8825] = GPS
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def encoded(fmt: str, size=(300, 200), mode="RGB") -> bytes:
    if fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    out = io.BytesIO()
    Image.new(mode, size).save(out, fmt)
    return out.getvalue()


def declared_png(width: int, height: int) -> bytes:
    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 99))


def a_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("a.txt", "x")
    return out.getvalue()


def test_a_photo_is_kept_upright_smaller_and_without_any_metadata():
    kept = photos.reencode(jpeg(orientation=6))  # a phone held upright: 4000×3000, turn 90°
    image = Image.open(io.BytesIO(kept.data))
    assert (image.format, image.size, kept.width, kept.height) == ("JPEG", (1536, 2048), 1536, 2048)
    assert not image.getexif() and image.getexif().get_ifd(0x8825) == {}
    assert b"Exif" not in kept.data and b"HUAWEI" not in kept.data
    thumb = Image.open(io.BytesIO(kept.thumb))
    assert thumb.size == (240, 320) and not thumb.getexif()
    small = photos.reencode(jpeg((640, 480)))
    assert (small.width, small.height) == (640, 480)  # never made larger


def test_png_with_transparency_and_heic_are_taken_as_jpeg():
    for data in (encoded("PNG", mode="RGBA"), encoded("PNG", mode="P"), encoded("HEIF")):
        kept = photos.reencode(data)
        image = Image.open(io.BytesIO(kept.data))
        assert image.format == "JPEG" and image.mode == "RGB" and image.size == (300, 200)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"hello, not a photo", photos.NOT_IMAGE),
        (a_zip(), photos.NOT_IMAGE),
        (jpeg((200, 100))[:400], photos.NOT_IMAGE),  # cut off
        (encoded("GIF"), photos.WRONG_FORMAT),
        (encoded("BMP"), photos.WRONG_FORMAT),
        (declared_png(30000, 30000), photos.TOO_MANY_PIXELS),  # an image bomb
        (declared_png(8001, 8000), photos.TOO_MANY_PIXELS),
        (b"\xff\xd8\xff\xe0" + b"\0" * photos.MAX_PHOTO_BYTES, photos.TOO_BIG),
    ],
)
def test_what_is_refused_and_why(data, reason):
    with pytest.raises(photos.PhotoError) as refused:
        photos.reencode(data)
    assert refused.value.reason == reason


def files(*parts) -> MultiDict:
    found = MultiDict()
    for name, filename, data in parts:
        found.add(name, FileStorage(io.BytesIO(data), filename=filename, name=name))
    return found


def test_the_files_of_a_request_each_named_in_its_refusal():
    sent = photos.sent_files(
        files(("media", "a.jpg", jpeg((50, 50))), ("media", "", b""), ("media2", "b.zip", a_zip()))
    )
    assert [name for name, _ in sent] == ["media", "media2"]  # an empty input is no file
    taken, errors = photos.read_all(sent)
    assert taken == []  # one bad: nothing is taken
    assert errors == {
        "media2": [
            "照片 2（b.zip）：不是可识别的照片，请选择 JPEG、PNG 或 HEIC 格式 / "
            "photo 2 (b.zip): not a photo we can read: choose a JPEG, PNG or HEIC file"
        ]
    }
    four = photos.sent_files(files(*[("media", f"{i}.jpg", jpeg((20, 20))) for i in range(4)]))
    assert photos.read_all(four) == ([], {"media": [photos.TOO_MANY]})
    three, errors = photos.read_all(four[:3])
    assert len(three) == 3 and errors == {}


@pytest.fixture
def session(db_url):
    upgrade("intake", db_url)
    engine = make_engine(db_url)
    with Session(engine) as s:
        yield s
    engine.dispose()


def test_photos_are_kept_under_the_submission_id_and_stand_once_the_issue_is_made(session):
    first = [photos.reencode(jpeg((100, 80), gps=False))]
    two = [photos.reencode(jpeg((60, 40))), photos.reencode(jpeg((40, 60)))]
    assert photos.store(session, "sid-1", first) == 1
    assert photos.store(session, "sid-1", two) == 2  # the form posted again: replaced
    session.add(
        Issue(
            tracking_number="LX20261130000001", lookup_code="123456", submission_id="sid-1",
            station_code="gwm", channel="qr", category="hazard", description="井盖",
            submitted_at=datetime.now(UTC),
        )
    )  # fmt: skip
    session.flush()
    assert photos.store(session, "sid-1", first) == 2  # the issue is made: they stand
    assert photos.counts_of_issues(session, ["sid-1", "sid-x"]) == {"sid-1": 2}
    second = photos.image(session, "LX20261130000001", 2, thumb=False)
    assert Image.open(io.BytesIO(second)).size == (40, 60)
    with pytest.raises(ApiError) as missing:
        photos.image(session, "LX20261130000001", 3, thumb=True)
    assert missing.value.status == 404


def test_photos_of_forms_never_sent_go_after_30_days(session):
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    old = now - photos.KEEP_UNSENT - timedelta(minutes=1)
    kept = photos.reencode(jpeg((30, 30)))
    for sid, at in (("given-up", old), ("rejected", old), ("recent", now)):
        session.add(Photo(submission_id=sid, position=1, data=kept.data, thumb=kept.thumb,
                          width=30, height=30, stored_at=at))  # fmt: skip
    session.add(Submission(submission_id="rejected", queue="station.gwm", status="rejected",
                           raw_body=b"{}", received_at=old))  # fmt: skip
    session.flush()
    assert photos.prune_unsent(session, now) == 1
    left = {sid for (sid,) in session.query(Photo.submission_id)}
    assert left == {"rejected", "recent"}  # a rejected submission keeps its photos
