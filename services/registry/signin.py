"""Signing in and out over HTTP: the session token and cookie, who is signed in, and where a
signed-in person lands. The page itself: ``signin_page.py``; the password check and its
throttle: ``accounts.sign_in``."""

from __future__ import annotations

from werkzeug.wrappers import Response

from services.kernel import auth
from services.kernel.http import ApiError, invalid, json_response
from services.registry.accounts import described
from services.registry.settings import RegistrySettings
from services.registry.signin_page import WRONG


def wrong_password() -> ApiError:
    return ApiError("sign_in_failed", *WRONG, status=401)


def must_be_json(request) -> None:
    if request.mimetype != "application/json":
        raise ApiError("bad_json", "请以 JSON 提交", "send the sign-in as JSON", status=415)


MAX_LOGIN = 60
MAX_PASSWORD = 256


def credentials(data: dict, *names: str) -> None:
    """A login or password in a body must be text of a sane length (a list, a number or a
    megabyte is a field error, never hashed)."""
    wrong = {}
    for name in names:
        value, limit = data.get(name, ""), MAX_LOGIN if name == "login" else MAX_PASSWORD
        if not isinstance(value, str) or len(value) > limit:
            wrong[name] = [f"应为文本，最多{limit}个字符 / a string of at most {limit} characters"]
    if wrong:
        raise invalid(wrong)


def landing(who: auth.Principal, settings: RegistrySettings) -> str:
    """Where a person goes after signing in when no ``next`` was asked for."""
    if who.role == "member" and who.member:
        return f"{settings.routing_url}/duty/{who.member}"
    if who.role == "station_admin" and who.stations:
        return f"{settings.routing_url}/duty/station/{sorted(who.stations)[0]}"
    return settings.reporting_url + "/dashboard"


def me(who: auth.Principal) -> dict:
    """Who is signed in, as `/auth/me` and the sign-in answer say it."""
    return described(
        who.account, who.name, who.role, who.member, sorted(who.stations), sorted(who.studios)
    ) | {"expires": who.expires}


def set_session_cookie(response, token: str, settings: RegistrySettings) -> None:
    """``lx_session``: HttpOnly, SameSite=Lax, for the whole host (every service's port)."""
    response.set_cookie(
        auth.SESSION_COOKIE,
        token,
        max_age=settings.session_s,
        httponly=True,
        samesite="Lax",
        secure=settings.secure_cookies,
        path="/",
    )


def token_answer(who: auth.Principal, config: dict, settings: RegistrySettings) -> Response:
    """The JSON sign-in's answer: the token (for ``Authorization: Bearer``), when it expires,
    who it is, and the session cookie."""
    token = auth.issue_token(who, config)
    who = auth.read_token(token, config)
    response = json_response({"token": token, "expires": who.expires, "account": me(who)})
    set_session_cookie(response, token, settings)
    return response


def page_answer(
    who: auth.Principal, next_url: str, config: dict, settings: RegistrySettings
) -> Response:
    """The sign-in page's answer: on to ``next_url`` (or :func:`landing`), with the cookie."""
    response = Response(status=303, headers={"Location": next_url or landing(who, settings)})
    set_session_cookie(response, auth.issue_token(who, config), settings)
    return response


def _bearer(request) -> bool:
    return request.headers.get("Authorization", "")[:7].lower() == "bearer "


FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def signed_out(request, config: dict) -> Response | None:
    """Forgets the session cookie (a Bearer token simply stops being sent), but only when the
    request cannot have come from another site: a Bearer header or a JSON body (neither can a
    cross-site form send), or a page's form carrying the signed double-submit CSRF token
    (``auth.csrf_ok``), which is answered by going back to the sign-in page. None for anything
    else: the caller refuses, and the cookie stays."""
    if _bearer(request) or request.mimetype == "application/json":
        response = json_response({"signed_out": True})
    elif request.mimetype in FORMS and auth.csrf_ok(
        request, config, request.form.get(auth.CSRF_FIELD)
    ):
        # relative, so it holds behind nginx's /registry/ prefix too
        response = Response(status=303, headers={"Location": "../sign-in"})
    else:
        return None
    response.delete_cookie(auth.SESSION_COOKIE, path="/", samesite="Lax", httponly=True)
    return response


def sign_out_refused() -> ApiError:
    return ApiError(
        "csrf",
        "退出须由本站页面的按钮（或以 JSON、Authorization 头）发出",
        "sign out from this site's page (its CSRF token), as JSON or with a Bearer header",
        status=403,
    )
