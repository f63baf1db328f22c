"""The sign-in page (登录), phone-sized, Chinese first.

The form carries a signed double-submit CSRF token (``services.kernel.auth.csrf_pair``) and the
``next`` address, which is only ever a path on this site or an address under the deployment's
``public_urls`` (``auth.safe_next``): never an open redirect. Whoever is signed in already
sees who, and a sign-out button whose form carries the same CSRF token (``/auth/sign-out``
refuses a form without it, so another site cannot sign anybody out).
"""

from __future__ import annotations

from html import escape

from werkzeug.wrappers import Response

from services.kernel import auth

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
#sign-out{background:none;padding:0 0 8px}#sign-out button{background:#757575;margin-top:4px}
"""


def page(
    csrf_token: str,
    next_url: str = "",
    login: str = "",
    error: tuple[str, str] | None = None,
    signed_in: auth.Principal | None = None,
) -> str:
    notice, sign_out = "", ""
    if error:
        notice = f"<p class=error id=error>{escape(error[0])} <span class=en>{escape(error[1])}</span></p>"
    if signed_in:
        notice += (
            f"<p class=done id=signed-in>已登录：{escape(signed_in.name or signed_in.account)}"
            f" <span class=en>signed in as {escape(signed_in.account)}</span></p>"
        )
        sign_out = (
            '<form method=post action="auth/sign-out" id=sign-out>'
            f'<input type=hidden name="{auth.CSRF_FIELD}" value="{escape(csrf_token)}">'
            "<button id=sign-out-button type=submit>退出登录 <span class=en>Sign out</span>"
            "</button></form>"
        )
    return (
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>登录 Sign in · 连心</title><style>{STYLE}</style></head><body>"
        "<header><h1>连心 · 登录 <span class=en>Lianxin · Sign in</span></h1></header><main>"
        f'{notice}{sign_out}<form method=post action="sign-in" id=sign-in>'
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
SIGN_OUT_EXPIRED = ("页面已过期，请再点一次退出登录", "the page expired, press sign out again")


def answer(
    request,
    config: dict,
    next_url: str,
    login: str = "",
    error: tuple[str, str] | None = None,
    status: int = 200,
    retry_after: int | None = None,
) -> Response:
    """The sign-in page as a response: a CSRF cookie when the browser has none, and who is
    signed in already (on a 200), or ``error`` with ``status`` (and ``Retry-After``)."""
    cookie, token, new = auth.csrf_pair(request, config)
    shows_who = status == 200 or error == SIGN_OUT_EXPIRED
    who = auth.principal(request, config) if shows_who else None
    body = page(token, next_url, login, error, who)
    response = Response(body, status=status, content_type="text/html; charset=utf-8")
    if new:
        response.set_cookie(auth.CSRF_COOKIE, cookie, httponly=True, samesite="Lax", path="/")
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response
