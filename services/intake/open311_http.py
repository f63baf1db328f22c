"""Open311 GeoReport v2 over HTTP (root ``/open311/v2``): the answers of its endpoints in JSON
or XML, and its own error list (``open311.Open311Error``) instead of the kernel's format.

Each function takes the page request (``pages.Call``) and the format the path asked for; the
rules (what a POST makes, what a request looks like) are in ``open311``.
"""

from __future__ import annotations

from eventlet import tpool
from werkzeug.wrappers import Response

from services.intake import known, notices, open311, photos, throttle
from services.intake.dependencies import NotQueued
from services.intake.pages import Call
from services.intake.qr_page import NOT_QUEUED, posted_with_files
from services.kernel.auth import public_url
from services.kernel.http import json_response


def _response(kind: str, data, fmt: str, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(
            open311.to_xml(kind, data), status=status, content_type="text/xml; charset=utf-8"
        )
    return json_response(data, status)


def answer(fmt: str, kind: str, produce, status: int = 200) -> Response:
    """``produce()`` in the asked format, or Open311's error list (with Retry-After if slowed)."""
    if fmt not in open311.FORMATS:
        error = open311.Open311Error(404, f"format {fmt}")
        return _response("errors", open311.errors(error), "json", 404)
    try:
        return _response(kind, produce(), fmt, status)
    except open311.Open311Error as exc:
        response = _response("errors", open311.errors(exc), fmt, exc.status)
        if exc.retry_after:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response


def services(call: Call, fmt: str) -> Response:
    def produce():
        with call.db.transaction() as session:
            return open311.services(known.categories(session))

    return answer(fmt, "services", produce)


def definition(call: Call, code: str, fmt: str) -> Response:
    def produce():
        with call.db.transaction() as session:
            category = next((c for c in known.categories(session) if c["code"] == code), None)
            stations = [known.known_station(session, c) for c in known.known_station_codes(session)]
        if category is None:
            raise open311.Open311Error(404, f"service_code {code}: 未知的服务 / unknown service")
        return open311.service_definition(category, stations)

    return answer(fmt, "service_definition", produce)


def post(call: Call, fmt: str) -> Response:
    return answer(fmt, "requests", lambda: _post(call), 201)


def _post(call: Call) -> list[dict]:
    """A new service request: the api_key checked, the key and address throttled, the form
    turned into a station message and queued."""
    form, files = posted_with_files(call.request)
    if form is None:
        limit = photos.MAX_UPLOAD_BYTES // (1024 * 1024)
        raise open311.Open311Error(
            413, f"请求内容过大（上限 {limit} MB）/ request body too large (limit {limit} MB)"
        )
    if form.get("api_key") not in call.settings.open311_api_keys:
        raise open311.Open311Error(403, "api_key 无效 / invalid api_key")
    try:
        with call.db.transaction() as session:
            throttle.admit_submission(
                session,
                "open311",
                call.address(),
                throttle.fingerprint(form["api_key"]),
                call.settings.limits,
            )
    except throttle.Slowed as slowed:
        raise open311.Open311Error(
            429, "提交太频繁，请稍后再试 / too many requests, retry later", slowed.retry_after
        ) from slowed
    with call.db.transaction() as session:
        categories = known.categories(session)
        stations = set(known.known_station_codes(session))
        placed = known.placed_stations(session)
    sent = photos.sent_files(files)
    taken, errors = photos.read_all(sent, run=tpool.execute) if sent else ([], {})
    problems = open311.photo_problems(errors) + notices.open311_problems(form)
    try:
        message = open311.submission_from_post(form, categories, stations, placed)
    except open311.Open311Error as exc:  # the text's problems and the photos' in one answer
        raise open311.Open311Error(400, "; ".join([exc.description, *problems])) from None
    if problems:
        raise open311.Open311Error(400, "; ".join(problems))
    if taken:  # kept before the message is published: the consumer counts them on the issue
        with call.db.transaction() as session:
            photos.store(session, message["submission_id"], taken)
    if consent := notices.open311_consent(form):
        with call.db.transaction() as session:
            notices.record_consent(session, message["submission_id"], consent)
    try:
        return open311.post_answer(call.channel.submit(message))
    except NotQueued as exc:
        raise open311.Open311Error(503, NOT_QUEUED) from exc


def requests(call: Call, fmt: str) -> Response:
    return answer(fmt, "requests", lambda: _requests(call, call.request.args))


def one_request(call: Call, number: str, fmt: str) -> Response:
    def produce():
        found = _requests(call, {"service_request_id": number})
        if not found:
            raise open311.Open311Error(404, f"service_request_id {number}: 未找到 / not found")
        return found

    return answer(fmt, "requests", produce)


def _requests(call: Call, args) -> list[dict]:
    full = call.request.args.get("api_key") in call.settings.open311_api_keys
    with call.db.transaction() as session:
        names = {c["code"]: c["name"] for c in known.categories(session)}
        return open311.requests(session, args, names, full, public_url(call.config, "intake"))


def token(call: Call, token_id: str, fmt: str) -> Response:
    def produce():
        with call.db.transaction() as session:
            return open311.token(session, token_id)

    return answer(fmt, "requests", produce)
