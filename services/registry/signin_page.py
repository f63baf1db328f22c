"""The sign-in page (登录) and where a signed-in person lands; phone-sized, Chinese first.

The form carries a signed double-submit CSRF token (``services.kernel.auth.csrf_pair``) and the
``next`` address, which is only ever a path on this site or an address under the deployment's
``public_urls`` (``auth.safe_next``): never an open redirect.
"""

from __future__ import annotations

from html import escape

from werkzeug.wrappers import Response

from services.kernel import auth
from services.kernel.http import ApiError

STYLE = """
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;background:#f5f5f5}
header{background:#b71c1c;color:#fff;padding:12px 16px}h1{font-size:1.2em;margin:0}
.en{color:#777;font-size:.85em}header .en{color:#ffd}
main{padding:16px;max-width:420px;margin:auto}
form{background:#fff;border-radius:8px;padding:16px}
label{display:block;margin-top:12px}
input{width:100%;box-sizing:border-box;margin:6px 0;font-size:1.1em;padding:10px}
button{width:100%;font-size:1.1em;padding:12px;margin-top:16px;border:0;border-radius:6px;
background:#1565c0;color:#fff}
.error{color:#c62828;margin:8px 0}.done{color:#2e7d32}
"""


def page(
    csrf_token: str,
    next_url: str = "",
    login: str = "",
    error: tuple[str, str] | None = None,
    signed_in: auth.Principal | None = None,
) -> str:
    notice = ""
    if error:
        notice = f"<p class=error id=error>{escape(error[0])} <span class=en>{escape(error[1])}</span></p>"
    elif signed_in:
        notice = (
            f"<p class=done id=signed-in>已登录：{escape(signed_in.name or signed_in.account)}"
            f" <span class=en>signed in as {escape(signed_in.account)}</span></p>"
        )
    return (
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>登录 Sign in · 连心</title><style>{STYLE}</style></head><body>"
        "<header><h1>连心 · 登录 <span class=en>Lianxin · Sign in</span></h1></header><main>"
        f'{notice}<form method=post action="sign-in" id=sign-in>'
        f'<input type=hidden name="{auth.CSRF_FIELD}" value="{escape(csrf_token)}">'
        f'<input type=hidden name=next value="{escape(next_url)}">'
        "<label for=login>账号 <span class=en>Login</span></label>"
        f'<input id=login name=login autocomplete=username autocapitalize=none required value="{escape(login)}">'
        "<label for=password>密码 <span class=en>Password</span></label>"
        "<input id=password name=password type=password autocomplete=current-password required>"
        "<button id=submit type=submit>登录 <span class=en>Sign in</span></button>"
        "</form></main></body></html>"
    )


WRONG = ("账号或密码错误", "wrong login or password")
CSRF = ("页面已过期，请重新登录", "the page expired, please sign in again")


def wait(seconds: int) -> tuple[str, str]:
    minutes = max(1, (seconds + 59) // 60)
    return (
        f"尝试次数过多，请 {minutes} 分钟后再试",
        f"too many attempts, try again in {minutes} min",
    )


def landing(who: auth.Principal, config: dict) -> str:
    """Where a person goes after signing in when no ``next`` was asked for."""
    routing = auth.public_url(config, "routing")
    if who.role == "member" and who.member:
        return f"{routing}/duty/{who.member}"
    if who.role == "station_admin" and who.stations:
        return f"{routing}/duty/station/{sorted(who.stations)[0]}"
    return auth.public_url(config, "reporting") + "/dashboard"


def me(who: auth.Principal) -> dict:
    """Who is signed in, as `/auth/me` and the sign-in answer say it."""
    return {
        "login": who.account,
        "name": who.name,
        "role": who.role,
        "role_name": auth.ROLE_NAMES[who.role][0],
        "member": who.member,
        "stations": sorted(who.stations),
        "studios": sorted(who.studios),
        "expires": who.expires,
    }


def throttled(retry_after: int) -> Response:
    """429 with Retry-After: too many wrong passwords lately."""
    zh, en = wait(retry_after)
    response = ApiError("too_many_attempts", zh, en, status=429).response()
    response.headers["Retry-After"] = str(retry_after)
    return response


def set_session_cookie(response, token: str, config: dict) -> None:
    """``lx_session``: HttpOnly, SameSite=Lax, for the whole host (every service's port)."""
    response.set_cookie(
        auth.SESSION_COOKIE,
        token,
        max_age=auth.session_seconds(config),
        httponly=True,
        samesite="Lax",
        secure=bool(auth.security(config).get("secure_cookies")),
        path="/",
    )
