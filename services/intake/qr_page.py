"""The QR channel (委员码上见): the public mobile pages a citizen reaches by scanning a code.

Which page a code opens (``target``), turning the posted form into a station message or field
errors (``submission_from_form``), and the pages themselves: the form (:class:`FormView`), the
steps of a submission (:func:`submit`: CSRF, throttle, fields, "是否与以下问题相同?", the station
queue) and the result. Every page fits a phone and loads nothing from outside (``pages``).
"""

from __future__ import annotations

import base64
import hmac
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import eventlet
from eventlet import tpool
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from services.intake import duplicates, known, notices, photos, progress, status_page, throttle
from services.intake.dependencies import NotQueued
from services.intake.intake import CHINA, MAX_BODY_BYTES
from services.intake.models import Issue, Submission
from services.intake.pages import (
    TEXT,
    Call,
    html_response,
    language,
    message_page,
    minutes,
    render,
    switch_url,
    with_csrf,
)
from services.intake.schemas import DESCRIPTION_MAX, SubmissionSchema, bilingual
from services.kernel import auth

KINDS = ("member", "station", "studio")
NOT_QUEUED = (
    "暂时无法提交，您填写的内容已保留，请稍后再点提交 / could not submit right now; "
    "your text is kept, please submit again in a moment"
)
FORM_FIELDS = (
    "csrf_token",
    "submission_id",
    "station",
    "category",
    "description",
    "place",
    "name",
    "phone",
    "consent",
    "notify",  # 办理有结果时通知我 (services/intake/notices.py)
    "email",  # for notices only
    "lang",
    "same_as",
)
PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")


def target(session: Session, kind: str, code: str) -> dict | None:
    """What a QR code opens: who it names and which station(s) its issues go to."""
    if kind == "station":
        station = known.known_station(session, code)
        if station is None:
            return None
        return {"kind": kind, "code": code, "name": station["name"], "stations": [station]}
    if kind == "member":
        member = known.known_member(session, code)
        if member is None:
            return None
        stations = [known.known_station(session, c) for c in member["stations"]]
        studios = [known.known_studio(session, c) for c in member["studios"]]
        return {
            "kind": kind,
            "code": code,
            "name": member["name"],
            "stations": [s for s in stations if s is not None],
            **poster(session, member, [s for s in studios if s is not None]),
        }
    if kind == "studio":
        studio = known.known_studio(session, code)
        if studio is None:
            return None
        station = known.known_station(session, studio["station"]) if studio["station"] else None
        return {
            "kind": kind,
            "code": code,
            "name": studio["name"],
            "stations": [station] if station else [],
        }
    return None


def poster(session: Session, member: dict, studios: list[dict]) -> dict:
    """What the member's printed poster shows besides the name (registry's ``qr.describe``):
    level, sector, studios, and the next duty day from intake's copy of the rosters (None
    when the copy holds none). Level and sector are None until the registry announces the
    member again after this copy learned to keep them."""
    today = datetime.now(CHINA).date()
    duty = known.next_duty_day(session, member["code"], today)
    if duty is not None:
        place = duty["station"] and known.station_name(session, duty["station"])
        if duty["studio"]:
            studio = known.known_studio(session, duty["studio"])
            place = studio["name"] if studio else place
        duty["place"] = place
    return {
        "level": member.get("level"),
        "sector": known.sector_name(session, member.get("sector")),
        "studios": [s["name"] for s in studios],
        "duty": duty,
    }


def submission_from_form(form, page: dict, categories: list[dict]) -> tuple[dict, dict]:
    """The station message a posted QR form makes, and field errors (empty when it is good).

    Errors are keyed by the form's own field names, each "中文 / English".
    """
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(form.keys()) - set(FORM_FIELDS))
    if unknown:
        errors["_form"] = [f"未知字段 / unknown fields: {', '.join(unknown)}"]

    def value(name):
        v = (form.get(name) or "").strip()
        return v or None

    station_codes = [s["code"] for s in page["stations"]]
    station = value("station") or (station_codes[0] if len(station_codes) == 1 else None)
    if station not in station_codes:
        errors["station"] = ["请选择工作站 / choose a workstation"]
    if value("category") not in {c["code"] for c in categories}:
        errors["category"] = ["请选择问题类别 / choose a category"]
    name, phone = value("name"), value("phone")
    if (name or phone) and not form.get("consent"):
        errors["consent"] = [
            "留下姓名或电话须同意使用说明 / to leave a name or phone, tick the consent line"
        ]
    errors.update(notices.form_errors(form))
    message = {
        "submission_id": value("submission_id") or str(uuid.uuid4()),
        "station": station or "",
        "channel": "qr",
        "category": value("category") or "",
        # the description as written (inner spaces and lines kept), only trimmed at the ends
        "description": (form.get("description") or "").strip(),
        "place": value("place"),
        "member": page["code"] if page["kind"] == "member" else None,
        "studio": page["code"] if page["kind"] == "studio" else None,
        "contact": {"name": name, "phone": phone} if (name or phone) else None,
    }
    message = {k: v for k, v in message.items() if v is not None}
    return message, _with_schema_errors(message, errors)


def _with_schema_errors(message: dict, errors: dict) -> dict:
    """``errors`` and what the message schema finds besides, under the form's field names (the
    contact's name and phone are fields of their own on the form)."""
    for field, messages in bilingual(SubmissionSchema().validate(message)).items():
        if field == "contact":
            for sub, sub_messages in messages.items():
                errors.setdefault(sub, []).extend(sub_messages)
        elif field not in errors:
            errors[field] = messages
    return errors


def choice(form) -> str | None:
    """The citizen's answer to "是否与以下问题相同?": None before the question was put, "" for
    "a new problem", else the tracking number of the case chosen as the same."""
    if "same_as" not in form:
        return None
    return (form.get("same_as") or "").strip()


def new_submission_id(config: dict) -> str:
    """Made when the form is shown: posting the same form twice never makes two issues.

    A random id and its HMAC under the secret key (``<32 hex>.<22 chars>``): only intake can
    make one, and only the browser that was shown the form holds it."""
    random = uuid.uuid4().hex
    return f"{random}.{_mac(config, 'qr-submission', random)}"


def _mac(config: dict, purpose: str, value: str) -> str:
    digest = hmac.new(
        auth.secret_key(config).encode("utf-8"), f"{purpose}\n{value}".encode(), "sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:22]  # 132 bits


_ISSUED_ID = re.compile(r"^([0-9a-f]{32})\.([A-Za-z0-9_-]{22})$")


def is_issued(config: dict, submission_id: str | None) -> bool:
    """Whether ``submission_id`` is one :func:`new_submission_id` made (with this key)."""
    found = _ISSUED_ID.match(submission_id or "")
    return bool(found) and hmac.compare_digest(
        found.group(2), _mac(config, "qr-submission", found.group(1))
    )


def form_submission_id(session: Session, config: dict, posted: str | None) -> str:
    """The id a posted form is sent with. An id the form was given (:func:`is_issued`) is the
    citizen's own: sent again, it answers with the same issue. Any other id is the client's
    choice: taken only while no submission has it, so that an id of someone else's submission
    (an activity's ``<activity_id>.<n>``, a guessed one) makes a new issue of its own and never
    shows another's number or code."""
    posted = (posted or "").strip()
    if is_issued(config, posted):
        return posted
    if posted and not _used(session, posted):
        return posted
    return new_submission_id(config)


def _used(session: Session, submission_id: str) -> bool:
    return (
        session.scalar(select(Submission.id).where(Submission.submission_id == submission_id))
        is not None
        or session.scalar(select(Issue.id).where(Issue.submission_id == submission_id)) is not None
    )


def receipt_id(config: dict, submission_id: str) -> str:
    """The receipt's id (``/q/receipt/<id>``): the submission id and its HMAC, so that only the
    page that took the submission can link to its receipt, and none can be guessed."""
    return f"{submission_id}.{_mac(config, 'qr-receipt', submission_id)}"


def submission_of_receipt(config: dict, rid: str) -> str | None:
    """The submission id a receipt id was made for, or None for any other (a guess)."""
    submission_id, _, mac = (rid or "").rpartition(".")
    if not submission_id or len(mac) != 22:
        return None
    return (
        submission_id
        if hmac.compare_digest(mac, _mac(config, "qr-receipt", submission_id))
        else None
    )


# -- the pages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormView:
    """The form a QR code opens, for one request: what it is about and the categories."""

    call: Call
    lang: str
    page: dict
    categories: list[dict]

    def answer(self, form, errors=None, status=200, retry_after=None, suggestions=None):
        """The form page again: what was written kept, the errors or the question beside it."""

        def render_page(token: str) -> Response:
            body = render(
                "form.html",
                self.lang,
                page=self.page,
                categories=self.categories,
                form=form,
                errors=errors or {},
                suggestions=suggestions or [],
                action=self.call.request.path,
                description_max=DESCRIPTION_MAX,
                switch_url=switch_url(self.call.request, self.lang),
                csrf_token=token,
            )
            return html_response(body, status)

        response = with_csrf(self.call, render_page)
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response


def form_view(call: Call, kind: str, code: str, lang: str) -> FormView | Response:
    """The form a QR code opens; or the 404 page (unknown code, or no station behind it)."""
    with call.db.transaction() as session:
        page = target(session, kind, code) if kind in KINDS else None
        categories = known.categories(session)
    if page is None or not page["stations"]:
        text = TEXT[lang]["not_found" if page is None else "no_station"]
        return message_page(call.request, lang, text, 404)
    return FormView(call, lang, page, categories)


def show(call: Call, kind: str, code: str) -> Response:
    """``GET /q/<kind>/<code>``: the empty form, with the submission id it will be sent with."""
    view = form_view(call, kind, code, language(call.request.args.get("lang")))
    if isinstance(view, Response):
        return view
    return view.answer({"submission_id": new_submission_id(call.config)})


def posted_with_files(request):
    """The posted form and its files; (None, None) when it is too large. Only a multipart post
    (the form with its photos) may be up to ``photos.MAX_UPLOAD_BYTES`` (the route's
    ``max_body``; Werkzeug holds at most 500 KB of it in memory, its default
    ``max_form_memory_size``, and the schema's lengths apply to each field); any other post
    keeps the pages' cap of ``MAX_BODY_BYTES``."""
    multipart = request.mimetype == "multipart/form-data"
    request.max_content_length = photos.MAX_UPLOAD_BYTES if multipart else MAX_BODY_BYTES
    try:
        return request.form, request.files
    except RequestEntityTooLarge:
        return None, None


def too_large(request) -> Response:
    """413 for a body over its cap: a page that says the cap."""
    lang = language(request.args.get("lang"))
    cap = request.max_content_length or MAX_BODY_BYTES
    limit = f"{cap // (1024 * 1024)} MB" if cap >= 1024 * 1024 else f"{cap // 1024} KB"
    text = TEXT[lang]["too_large"] + f" ({limit})"
    return html_response(render("message.html", lang, message=text, switch_url="?"), 413)


def take_photos(call: Call, files, submission_id: str) -> tuple[int, dict]:
    """The photos a post attached, re-encoded (off the event loop: ``tpool``) and kept under
    ``submission_id`` (replacing those an earlier post of this form kept). Returns how many
    photos the submission now has, and field errors (then nothing new is kept)."""
    sent = photos.sent_files(files, (photos.FIELD,))
    taken, errors = photos.read_all(sent, run=tpool.execute) if sent else ([], {})
    with call.db.transaction() as session:
        if sent and not errors:
            return photos.store(session, submission_id, taken), {}
        return photos.count_of_submission(session, submission_id), errors


def submit(call: Call, kind: str, code: str) -> Response:
    """``POST /q/<kind>/<code>``: each step may answer with the form again, what was written kept
    (a corrected form keeps its submission id: one issue at most). Photos (``photos``) are kept
    under the submission id as soon as they are good, so an answer with the form again never
    asks for them twice; a bad one is refused beside the photo field, nothing new kept."""
    form, files = posted_with_files(call.request)
    if form is None:
        return too_large(call.request)
    view = form_view(call, kind, code, language(form.get("lang")))
    if isinstance(view, Response):
        return view
    kept = {**form.to_dict(), "submission_id": form.get("submission_id") or ""}
    kept.pop("csrf_token", None)
    if not auth.csrf_ok(call.request, call.config, form.get("csrf_token")):
        return view.answer(kept, {"_form": [TEXT[view.lang]["expired"]]}, 403)
    slowed = _admit(call, f"{kind}/{code}")
    if slowed:
        text = TEXT[view.lang]["slow_down"].format(minutes=minutes(slowed))
        return view.answer(kept, {"_form": [text]}, 429, slowed)
    with call.db.transaction() as session:
        sid = form_submission_id(session, call.config, form.get("submission_id"))
    if sid != form.get("submission_id"):
        form = form.copy()
        form["submission_id"] = sid
    message, errors = submission_from_form(form, view.page, view.categories)
    attached, photo_errors = take_photos(call, files, message["submission_id"])
    errors = {**errors, **photo_errors}
    again = {**form.to_dict(), "submission_id": message["submission_id"], "photos": attached}
    if errors:
        return view.answer(again, errors, 400)
    offered = _ask_same(call, form, message)
    if offered:
        return view.answer(again, suggestions=offered)
    with call.db.transaction() as session:  # the notice tick, before the issue exists
        notices.record_consent(session, message["submission_id"], form)
    try:
        result = call.channel.submit(message)
    except NotQueued:  # the citizen's text stays in the form; sending it again is safe
        return view.answer(again, {"_form": [NOT_QUEUED]}, 503)
    notify = [
        way for way, given in (("sms", bool(form.get("phone"))), ("email", bool(form.get("email"))))
        if form.get("notify") and given
    ]  # fmt: skip
    return result_page(
        call,
        result,
        view.lang,
        same=bool(message.get("same_as")),
        photos_sent=attached,
        notify=notify,
    )


def _admit(call: Call, code: str) -> int | None:
    """Count the submission against the address and the code; the seconds to wait if slowed."""
    try:
        with call.db.transaction() as session:
            throttle.admit_submission(session, "qr", call.address(), code, call.settings.limits)
    except throttle.Slowed as slowed:
        return slowed.retry_after
    return None


def _ask_same(call: Call, form, message: dict) -> list[dict]:
    """是否与以下问题相同? Asked once, before sending: the cases to offer (the answer rides with
    the form next time), or none; a case chosen from those offered becomes ``same_as``."""
    chosen = choice(form)
    if chosen is not None and not chosen:
        return []  # "a new problem"
    with call.db.transaction() as session:
        offered = duplicates.for_citizen(session, message)
    if chosen is None:
        return offered
    # only a case that was offered for this very text may be chosen (a made-up number
    # is a new problem: nothing is merged, nothing the citizen wrote is lost)
    if chosen in {c["tracking_number"] for c in offered}:
        message["same_as"] = chosen
    return []


RECEIPT_WAIT_S = 3  # how long the receipt waits for routing to assign the case


def receipt_facts(call: Call, number: str, wait: float = RECEIPT_WAIT_S) -> dict | None:
    """The station, the member once assigned and the due date (routing's deadline) for the
    receipt: it waits up to ``wait`` seconds for routing's first word on the case (usually
    well under a second); without it the receipt says when they will be known."""
    give_up = time.monotonic() + wait
    while True:
        with call.db.transaction() as session:
            heard = progress.routing_heard(session, number)
        if heard or time.monotonic() >= give_up:
            break
        eventlet.sleep(0.03)
    with call.db.transaction() as session:
        facts = progress.receipt_facts(session, number)
    if facts is None:
        return None
    return status_page.with_due(call, facts, facts["case_number"])


def result_page(
    call: Call,
    result: dict,
    lang: str,
    same: bool = False,
    photos_sent: int = 0,
    notify: list[str] | None = None,
) -> Response:
    """The result of a submission. Photos are never shown here (a public page): only how many
    went with the report. ``notify``: the ways the citizen asked to be told of the answer
    (``sms``, ``email``), said back to them (the address itself is not shown)."""
    status = 202 if result["status"] == "pending" else 200
    receipt = receipt_id(call.config, result["submission_id"]) if status == 202 else None
    facts = None
    if result["status"] in ("accepted", "duplicate") and result.get("tracking_number"):
        facts = receipt_facts(call, result["tracking_number"])
    body = render(
        "result.html",
        lang,
        result=result,
        facts=facts,
        receipt=receipt,
        same=same,
        photos_sent=photos_sent,
        notify=notify or [],
        switch_url=switch_url(call.request, lang),
    )
    return html_response(body, status)


def receipt(call: Call, rid: str) -> Response:
    """Where "received, being processed" leads: the tracking number once it is made. Only for a
    receipt id the result page made (:func:`receipt_id`); any other is a guess, answered 404
    and counted against the client address (429 while it must wait, ``throttle``)."""
    lang = language(call.request.args.get("lang"))
    address = call.address()
    submission_id = submission_of_receipt(call.config, rid)
    try:
        with call.db.transaction() as session:
            throttle.check_receipt(session, address)
            if submission_id is None:
                throttle.receipt_failed(session, address)
    except throttle.Slowed as slowed:
        text = TEXT[lang]["lookup_slowed"].format(minutes=minutes(slowed.retry_after))
        page = message_page(call.request, lang, text, 429)
        page.headers["Retry-After"] = str(slowed.retry_after)
        return page
    if submission_id is None:
        return message_page(call.request, lang, TEXT[lang]["receipt_none"], 404)
    result = call.channel.result(submission_id) or {"status": "pending"}
    return result_page(call, {**result, "submission_id": submission_id}, lang)
