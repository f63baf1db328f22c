"""The QR channel (委员码上见): the public mobile pages a citizen reaches by scanning a code.

Which page a code opens (``target``), turning the posted form into a station message or field
errors (``submission_from_form``), and the pages themselves: the form (:class:`FormView`), the
steps of a submission (:func:`submit`: CSRF, throttle, fields, "是否与以下问题相同?", the station
queue) and the result. Every page fits a phone and loads nothing from outside (``pages``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from services.intake import duplicates, known, throttle
from services.intake.dependencies import NotQueued
from services.intake.pages import (
    TEXT,
    Call,
    html_response,
    language,
    message_page,
    minutes,
    posted_form,
    render,
    switch_url,
    too_large_page,
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
        return {
            "kind": kind,
            "code": code,
            "name": member["name"],
            "stations": [s for s in stations if s is not None],
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


def new_submission_id() -> str:
    """Made when the form is shown: posting the same form twice never makes two issues."""
    return str(uuid.uuid4())


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
    return view.answer({"submission_id": new_submission_id()})


def submit(call: Call, kind: str, code: str) -> Response:
    """``POST /q/<kind>/<code>``: each step may answer with the form again, what was written kept
    (a corrected form keeps its submission id: one issue at most)."""
    form = posted_form(call.request)
    if form is None:
        return too_large_page(call.request)
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
    message, errors = submission_from_form(form, view.page, view.categories)
    again = {**form.to_dict(), "submission_id": message["submission_id"]}
    if errors:
        return view.answer(again, errors, 400)
    offered = _ask_same(call, form, message)
    if offered:
        return view.answer(again, suggestions=offered)
    try:
        result = call.channel.submit(message)
    except NotQueued:  # the citizen's text stays in the form; sending it again is safe
        return view.answer(again, {"_form": [NOT_QUEUED]}, 503)
    return result_page(call.request, result, view.lang, same=bool(message.get("same_as")))


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


def result_page(request, result: dict, lang: str, same: bool = False) -> Response:
    status = 202 if result["status"] == "pending" else 200
    body = render(
        "result.html", lang, result=result, same=same, switch_url=switch_url(request, lang)
    )
    return html_response(body, status)


def receipt(call: Call, submission_id: str) -> Response:
    """Where "received, being processed" leads: the tracking number once it is made."""
    lang = language(call.request.args.get("lang"))
    result = call.channel.result(submission_id) or {"status": "pending"}
    return result_page(call.request, {**result, "submission_id": submission_id}, lang)
