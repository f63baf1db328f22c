"""Citizens' photos (issue #17): what a QR form or an Open311 POST may attach, and how it is kept.

The rules, plain Python:

- at most :data:`MAX_PHOTOS` photos per report, each at most :data:`MAX_PHOTO_BYTES` as sent,
  JPEG, PNG or HEIC/HEIF (iPhones; ``pillow-heif``); anything else (not an image, a zip renamed
  ``.jpg``, a GIF) is refused with a field-level message, Chinese first;
- a photo is decoded only if its declared size is at most :data:`MAX_PIXELS` pixels (an image
  bomb, a PNG declaring 30000×30000, is refused before any pixel is decoded; Pillow's own
  ``DecompressionBombError``/``Warning`` are caught too);
- every photo is re-encoded: turned upright by its EXIF orientation, then saved as a fresh JPEG
  without any metadata (EXIF, GPS, XMP, ICC, comments: nothing of the original file is kept),
  its long side at most :data:`LONG_SIDE` px, with a thumbnail of :data:`THUMB_SIDE` px;
- the web process stores the re-encoded photos in intake's database under the submission id
  **before** it publishes the submission (:func:`store`); the station message carries no photo:
  the consumer counts the photos of the submission id when it makes the issue
  (:func:`count_of_submission`) and ``intake.issue_received`` carries that count. A photo is
  never separated from its report: both are found by the same submission id, and a photo is
  never stored for a report that was refused on the page.

Stored photos are sealed at rest like the contact (``SealedBytes``): they may show faces, homes
and number plates. They are shown only through intake's guarded routes
``GET /issues/<number>/photos/<k>`` and ``…/thumb``, to whoever may call the citizen back
(``personal.may_call``: the office, the case's station admin, the member who has the case).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from services.intake.models import Issue, Photo, Submission
from services.kernel.http import not_found

try:  # HEIC/HEIF (iPhones' default): only when pillow-heif is installed and works
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF = True
except Exception:  # noqa: BLE001 - without it, HEIC is refused like any other unknown format
    HEIF = False

MAX_PHOTOS = 3
MAX_PHOTO_BYTES = 8 * 1024 * 1024
"""One photo as sent: a phone's full-size JPEG or HEIC is 2–6 MB."""
MAX_UPLOAD_BYTES = 40 * 1024 * 1024
"""The body cap of the two routes that take photos (QR form, Open311 POST): three photos at
the limit and the text, and room for one file far over the limit to be refused by name (with
the citizen's text kept) rather than by the body cap. Every other route keeps the kernel's."""
MAX_PIXELS = 64_000_000
"""Declared width × height a photo may have (a 108 MP phone is refused; 50 MP is taken)."""
LONG_SIDE = 2048
THUMB_SIDE = 320
KEEP_UNSENT = timedelta(days=30)
"""How long photos of a QR form that was never sent are kept (:func:`prune_unsent`)."""
QUALITY = 85
FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "HEIF": "HEIC", "HEIC": "HEIC"}
FIELD = "media"
"""The form field: ``media`` (FixMyStreet's Open311 name), repeated for several photos; Open311
also takes ``media2`` and ``media3``."""
FIELDS = ("media", "media2", "media3")

TOO_MANY = f"最多可附 {MAX_PHOTOS} 张照片 / at most {MAX_PHOTOS} photos"
_MB = MAX_PHOTO_BYTES // (1024 * 1024)
TOO_BIG = (f"照片过大（每张最多 {_MB} MB）", f"photo too large (at most {_MB} MB each)")
NOT_IMAGE = (
    "不是可识别的照片，请选择 JPEG、PNG 或 HEIC 格式",
    "not a photo we can read: choose a JPEG, PNG or HEIC file",
)
WRONG_FORMAT = ("只接受 JPEG、PNG 或 HEIC 格式的照片", "only JPEG, PNG or HEIC photos are taken")
TOO_MANY_PIXELS = (
    f"照片像素过多（最多 {MAX_PIXELS // 1_000_000} 百万像素）或已损坏",
    f"photo has too many pixels (at most {MAX_PIXELS // 1_000_000} megapixels) or is damaged",
)


class PhotoError(ValueError):
    """A photo refused: ``reason`` is (Chinese, English)."""

    def __init__(self, reason: tuple[str, str]):
        super().__init__(reason[1])
        self.reason = reason

    def message(self, position: int, filename: str | None) -> str:
        """Which file and why, Chinese then English: 照片 2（x.jpg）：… / photo 2 (x.jpg): …"""
        zh, en = self.reason
        named_zh, named_en = (f"（{filename}）", f" ({filename})") if filename else ("", "")
        return f"照片 {position}{named_zh}：{zh} / photo {position}{named_en}: {en}"


@dataclass(frozen=True)
class Reencoded:
    """A photo as kept: a fresh JPEG (no metadata) and its thumbnail."""

    data: bytes
    thumb: bytes
    width: int
    height: int


def reencode(raw: bytes) -> Reencoded:
    """The photo ``raw`` re-encoded (module docstring), or :class:`PhotoError`."""
    if len(raw) > MAX_PHOTO_BYTES:
        raise PhotoError(TOO_BIG)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as image:
                if image.format not in FORMATS:
                    raise PhotoError(WRONG_FORMAT)
                width, height = image.size
                if width < 1 or height < 1 or width * height > MAX_PIXELS:
                    raise PhotoError(TOO_MANY_PIXELS)
                if image.format == "JPEG":  # decode at a smaller scale where JPEG allows it
                    image.draft("RGB", (LONG_SIDE, LONG_SIDE))
                image.load()
                upright = ImageOps.exif_transpose(image)
                photo = _rgb(upright)
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoError(TOO_MANY_PIXELS) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise PhotoError(NOT_IMAGE) from exc
    photo.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
    thumb = photo.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return Reencoded(_jpeg(photo), _jpeg(thumb), photo.width, photo.height)


def _rgb(image: Image.Image) -> Image.Image:
    """Plain RGB pixels: transparency laid on white, palettes and 16-bit modes converted."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # a new image's info is empty: no exif, icc_profile, comment or xmp is written
    image.save(out, format="JPEG", quality=QUALITY, optimize=True)
    return out.getvalue()


# -- what a request sent --------------------------------------------------------------------------


def sent_files(files, names=FIELDS) -> list:
    """The files a request carries under ``names`` (each may be repeated), in order; the empty
    part a browser sends for a file input left empty is no file."""
    found = []
    for name in names:
        for f in files.getlist(name):
            if f.filename or f.content_length:
                found.append((name, f))
    return found


def _read(f) -> bytes:
    data = f.stream.read(MAX_PHOTO_BYTES + 1)  # never more than one byte over the limit
    return data


def _direct(fn, *args):
    return fn(*args)


def read_all(sent: list, run=_direct) -> tuple[list[Reencoded], dict[str, list[str]]]:
    """``sent`` (:func:`sent_files`) re-encoded, or field errors keyed by field name (each
    message names the file: :meth:`PhotoError.message`). Any error: nothing is taken. ``run(fn, raw)``
    runs the re-encoding (a web process passes ``eventlet.tpool.execute``: Pillow works in an
    OS thread and the event loop goes on serving)."""
    if len(sent) > MAX_PHOTOS:
        return [], {FIELD: [TOO_MANY]}
    kept, errors = [], {}
    for position, (name, f) in enumerate(sent, start=1):
        try:
            kept.append(run(reencode, _read(f)))
        except PhotoError as err:
            errors.setdefault(name, []).append(err.message(position, f.filename))
    return ([] if errors else kept), errors


# -- storage --------------------------------------------------------------------------------------


def store(session: Session, submission_id: str, photos: list[Reencoded]) -> int:
    """Keep ``photos`` under ``submission_id``, replacing what an earlier post of the same form
    kept, unless the submission already made its issue (then its photos stand as they were).
    Returns how many photos the submission has."""
    if _issue_made(session, submission_id):
        return count_of_submission(session, submission_id)
    session.execute(delete(Photo).where(Photo.submission_id == submission_id))
    for position, p in enumerate(photos, start=1):
        session.add(
            Photo(
                submission_id=submission_id,
                position=position,
                data=p.data,
                thumb=p.thumb,
                width=p.width,
                height=p.height,
            )
        )
    session.flush()
    return len(photos)


def _issue_made(session: Session, submission_id: str) -> bool:
    return session.scalar(select(Issue.id).where(Issue.submission_id == submission_id)) is not None


def count_of_submission(session: Session, submission_id: str) -> int:
    return session.scalar(
        select(func.count()).select_from(Photo).where(Photo.submission_id == submission_id)
    )


def counts_of_issues(session: Session, submission_ids: list[str]) -> dict[str, int]:
    """How many photos each submission has (those with none are left out)."""
    if not submission_ids:
        return {}
    rows = session.execute(
        select(Photo.submission_id, func.count())
        .where(Photo.submission_id.in_(submission_ids))
        .group_by(Photo.submission_id)
    )
    return {sid: n for sid, n in rows}


def image(session: Session, number: str, position: int, thumb: bool) -> bytes:
    """Photo ``position`` (1…) of issue ``number``, or its thumbnail; 404 when there is none.
    The caller checked who may see it (``personal.may_call``)."""
    sid = session.scalar(select(Issue.submission_id).where(Issue.tracking_number == number))
    photo = (
        session.scalar(select(Photo).where(Photo.submission_id == sid, Photo.position == position))
        if sid is not None
        else None
    )
    if photo is None:
        raise not_found(f"{number} 照片 {position} / photo {position}")
    return photo.thumb if thumb else photo.data


def response(data: bytes) -> Response:
    """A stored photo as HTTP: a JPEG no cache keeps (personal data, as the contact)."""
    answer = Response(data, mimetype="image/jpeg")
    answer.headers["Cache-Control"] = "private, no-store"
    answer.headers["X-Content-Type-Options"] = "nosniff"
    return answer


def prune_unsent(session: Session, now: datetime | None = None) -> int:
    """Delete the photos of forms given up: stored more than :data:`KEEP_UNSENT` ago under a
    submission id that neither made an issue nor reached intake as a submission (a rejected one
    keeps its photos, as it keeps its body). Returns how many were deleted."""
    cutoff = (now or datetime.now(UTC)) - KEEP_UNSENT
    made = exists().where(Issue.submission_id == Photo.submission_id)
    received = exists().where(Submission.submission_id == Photo.submission_id)
    gone = session.execute(delete(Photo).where(Photo.stored_at < cutoff, ~made, ~received))
    return gone.rowcount or 0
