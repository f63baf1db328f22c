"""The citizen's status page (查询办理进度) and its JSON twin, and the return visit (回访).

A case's public status needs its tracking number and lookup code (``progress.public_status``);
repeated failures are slowed (``throttle``), an unknown number and a wrong code fail alike. The
return visit (rate a resolved case, ask to reopen it) is routing's to decide (RPC); intake only
vouches that the number and code match, then waits briefly for routing's event so the page
shows what the citizen did.
"""

from __future__ import annotations

from datetime import datetime

import eventlet
from werkzeug.wrappers import Response

from services.intake import progress, throttle
from services.intake.intake import CHINA
from services.intake.pages import (
    TEXT,
    Call,
    html_response,
    language,
    minutes,
    posted_form,
    render,
    switch_url,
    too_large_page,
    with_csrf,
)
from services.kernel import auth, dates
from services.kernel.http import ApiError, json_response, not_found

# The step routing announces once it did what the citizen asked.
ACTION_STEPS = {"rate": "routing.issue_rated", "reopen": "routing.issue_reopened"}
BUSY = {"message_zh": "系统繁忙，请稍后再试", "message": "busy, please try again later"}
RPC_TIMEOUT_S = 10
DUE_TIMEOUT_S = 2  # the deadline is routing's: asked for each view, shown without if slow
# Which of routing's deadlines the citizen waits for in each public status (none once closed).
DUE_FOR = {
    "received": "response_due",
    "waiting": "response_due",
    "assigned": "response_due",
    "accepted": "response_due",
    "reopened": "response_due",
    "responded": "resolution_due",
}


def routing_case(call: Call, number: str) -> dict | None:
    """Routing's view of the case (``case_status``: state and deadlines, no personal data), or
    None when routing has no case yet or does not answer in time."""
    if call.routing is None:
        return None
    try:
        with eventlet.Timeout(DUE_TIMEOUT_S):
            return call.routing.case_status(number)
    except (eventlet.Timeout, Exception):  # routing down or slow: the page shows no date
        return None


def due(case: dict | None, status: str) -> dict | None:
    """The deadline the citizen waits for now, from routing's own (``deadlines.py``: the first
    answer's, then the resolution's), said as a person reads it, or None."""
    key = DUE_FOR.get(status)
    at = case.get(key) if case and key else None
    if not at:
        return None
    zh, en = dates.deadline_words(at)  # routing's deadline said as its own pages say it
    answer = key == "response_due"
    return {
        "due": at,
        "due_for": "answer" if answer else "resolution",
        "due_zh": zh + ("答复" if answer else "办结"),
        "due_en": ("answer " if answer else "resolved ") + en,
    }


def with_due(call: Call, status: dict, case_number: str) -> dict:
    """``status`` with the deadline routing works to (``due``, ``due_for``, both labels)."""
    found = due(routing_case(call, case_number), status["status"])
    empty = {"due": None, "due_for": None, "due_zh": None, "due_en": None}
    return {**status, **(found or empty)}


def status_view(status: dict) -> dict:
    """The status for the page: each step's time in Beijing time, to the minute."""
    steps = [
        {
            **s,
            "at_local": datetime.fromisoformat(s["at"])
            .astimezone(CHINA)
            .strftime("%Y-%m-%d %H:%M"),
        }
        for s in status["steps"]
    ]
    return {
        **status,
        "steps": steps,
        "can_rate": "rate" in status["actions"],
        "can_reopen": "reopen" in status["actions"],
    }


def lookup(call: Call, number: str, code: str) -> dict | None:
    """A case's public status by tracking number and lookup code, slowed after repeated
    failures (``throttle.Slowed``); an unknown number and a wrong code fail alike."""
    if not (number and code):
        return None  # nothing was tried: nothing to count
    address = call.address()
    with call.db.transaction() as session:
        throttle.check_lookup(session, number, address)
        status = progress.public_status(session, number, code)
        if status is None:
            throttle.lookup_failed(session, number, address)
            return None
        case_number = progress.case_to_act_on(session, number)
    return with_due(call, status, case_number)


def page(call: Call, args, message: str | None = None, comment: str = "", refused=False):
    """``GET /status``: the lookup form, and the case's progress once both halves are given."""
    lang = language(args.get("lang"))
    number = (args.get("number") or "").strip()[:64]
    code = (args.get("code") or "").strip()[:64]
    status, slowed = None, None
    if number and code:
        try:
            status = lookup(call, number, code)
        except throttle.Slowed as exc:
            slowed = exc.retry_after
    text = TEXT[lang]["lookup_slowed"].format(minutes=minutes(slowed)) if slowed else None
    answer = 429 if slowed else 403 if refused else 200 if status or not (number or code) else 404

    def render_page(token: str) -> Response:
        body = render(
            "status.html",
            lang,
            number=number,
            code=code,
            asked=bool(number or code),
            status=status_view(status) if status else None,
            message=message,
            slowed=text,
            comment=comment,
            csrf_token=token,
            switch_url=switch_url(call.request, lang),
        )
        return html_response(body, answer)

    response = with_csrf(call, render_page)
    if slowed:
        response.headers["Retry-After"] = str(slowed)
    return response


def action(call: Call, routing, steps) -> Response:
    """``POST /status/action``: rate or ask to reopen, then the status page saying how it went.

    ``routing`` is the routing RPC proxy; ``steps`` waits for routing's event (``StepWaiter``)."""
    form = posted_form(call.request)
    if form is None:
        return too_large_page(call.request)
    lang = language(form.get("lang"))
    comment = (form.get("comment") or "")[:500]
    if not auth.csrf_ok(call.request, call.config, form.get("csrf_token")):
        return page(call, form, TEXT[lang]["expired"], comment, refused=True)
    try:
        number, code = (form.get("number") or "").strip(), (form.get("code") or "").strip()
        known = lookup(call, number, code)
    except throttle.Slowed:
        known = None  # the page says so
    if known is None:
        return page(call, form, comment=comment)
    with call.db.transaction() as session:
        # a merged issue's rating or reopening is about the case it follows
        target = progress.case_to_act_on(session, known["tracking_number"])
    error = _ask_routing(routing, target, form)
    if error:
        message = TEXT[lang]["action_failed"] + error["message_zh" if lang == "zh" else "message"]
    else:
        message = TEXT[lang]["action_done"]
        step = ACTION_STEPS.get(form.get("action"))
        if step:
            steps.wait_for(target, step)
    return page(call, form, message)


def _ask_routing(routing, number: str, form) -> dict | None:
    """Routing's refusal (``message_zh``, ``message``), or None when it did what was asked."""
    try:
        with eventlet.Timeout(RPC_TIMEOUT_S):
            answer = routing.citizen_action(
                number,
                form.get("action"),
                rating=form.get("rating"),
                comment=(form.get("comment") or "").strip()[:500] or None,
            )
    except (eventlet.Timeout, Exception):  # routing down or slow: say so, keep nothing
        return BUSY
    return answer.get("error") if answer else None


def as_json(call: Call) -> Response:
    """``GET /api/status``: the same lookup for a program; 429 with Retry-After when slowed."""
    args = call.request.args
    try:
        status = lookup(call, args.get("number", "")[:64], args.get("code", "")[:64])
    except throttle.Slowed as slowed:
        response = ApiError(
            "slowed",
            f"查询失败次数过多，请 {minutes(slowed.retry_after)} 分钟后再试",
            f"too many failed lookups; retry in {slowed.retry_after} s",
            status=429,
        ).response()
        response.headers["Retry-After"] = str(slowed.retry_after)
        return response
    if status is None:
        return not_found("受理编号或查询码 / tracking number or lookup code").response()
    return json_response(status)
