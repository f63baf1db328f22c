"""The frame of the office's registry pages (账号管理, 导入导出): phone-sized first, Chinese first.

Every page lives under ``/office/`` and links relative to itself (``accounts``, ``import``,
``../export/…``, ``../auth/sign-out``), so it holds behind nginx's ``/registry/`` prefix too.
Each form carries the signed double-submit CSRF token (``auth.csrf_pair``); ``guard(page=True)``
lets a cookie-signed form post through only with it. A page that shows a password is never
cached (``no_store``).
"""

from __future__ import annotations

from html import escape

from werkzeug.wrappers import Response

from services.kernel import auth

STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;background:#f5f5f5;
color:#212121}
header{background:#b71c1c;color:#fff;padding:10px 16px}h1{font-size:1.2em;margin:0}
.en{color:#777;font-size:.85em;font-weight:normal}header .en{color:#ffd}
nav{display:flex;flex-wrap:wrap;gap:4px 16px;align-items:center;margin-top:6px}
nav a{color:#fff}nav form{margin:0;padding:0;background:none}
nav button{width:auto;margin:0;padding:4px 10px;font-size:.9em;background:#757575}
main{padding:12px;max-width:1100px;margin:auto}
section{background:#fff;border-radius:8px;padding:12px 16px;margin:12px 0}
h2{font-size:1.1em;margin:4px 0 10px}
label{display:block;margin-top:10px;font-weight:600}
input,select{width:100%;margin:4px 0;font-size:1em;padding:8px;border:1px solid #bbb;border-radius:4px}
input[type=checkbox]{width:auto;margin-right:6px}
select[multiple]{min-height:7em}
button{font-size:1em;padding:10px 14px;margin-top:12px;border:0;border-radius:6px;background:#1565c0;
color:#fff;cursor:pointer}
button .en{color:#e3f2fd}
button.secondary{background:#546e7a}button.danger{background:#c62828}
.row{display:flex;flex-wrap:wrap;gap:0 12px}.row>div{flex:1 1 200px}
.hint{color:#555;font-size:.9em;margin:2px 0}
.field-error{color:#c62828;margin:2px 0;font-size:.95em}
[aria-invalid=true]{border-color:#c62828;background:#fff5f5}
.notice{padding:10px 12px;border-radius:6px;margin:12px 0}
.ok{background:#e8f5e9;color:#1b5e20}.bad{background:#ffebee;color:#b71c1c}
.secret{font-family:ui-monospace,monospace;font-size:1.3em;background:#fff;padding:2px 8px;
border:1px dashed #1b5e20;user-select:all}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e0e0e0;vertical-align:top}
th{background:#fafafa}
td form{display:inline;margin:0}td button{margin:2px 4px 2px 0;padding:6px 10px;font-size:.9em}
.inactive{color:#9e9e9e}
@media (max-width:640px){
  table.cards thead{display:none}
  table.cards tr{display:block;border:1px solid #e0e0e0;border-radius:6px;margin:8px 0;padding:4px}
  table.cards td{display:block;border:0;padding:3px 6px}
  table.cards td[data-label]::before{content:attr(data-label);display:block;color:#777;font-size:.8em}
}
"""

WHAT = {
    "accounts": ("账号管理", "Accounts"),
    "import": ("导入导出", "Import and export"),
    "leaders": ("领导联系", "Leader liaison"),  # leaders_pages.py
    "visits": ("走访记录", "Leader visits"),
}
STATION_ADMIN_PAGES = ("visits",)  # the others are the office's alone


class Page:
    """One office page being answered: its CSRF token (and whether the browser needs the
    cookie), who is signed in, and the finished response."""

    def __init__(self, request, config: dict):
        self.cookie, self.token, self.new_cookie = auth.csrf_pair(request, config)
        self.who = auth.current(request)

    def csrf_field(self) -> str:
        return f'<input type=hidden name="{auth.CSRF_FIELD}" value="{escape(self.token)}">'

    def form(self, action: str, inner: str, form_id: str = "", multipart: bool = False) -> str:
        """A POST form to ``action`` (relative to the page) with the CSRF token in it."""
        attrs = f' id="{form_id}"' if form_id else ""
        if multipart:
            attrs += ' enctype="multipart/form-data"'
        return f'<form method=post action="{action}"{attrs}>{self.csrf_field()}{inner}</form>'

    def response(
        self, here: str, main: str, status: int = 200, no_store: bool = False, up: int = 0
    ) -> Response:
        """``up``: how many folders below ``/office/`` the page is (``/office/leaders/<code>``
        is 1), so the relative links still lead home."""
        zh, en = WHAT[here]
        prefix = "../" * up
        links = "".join(
            f'<a href="{prefix}{key}" id="nav-{key}"'
            + (' aria-current="page"' if key == here else "")
            + f">{escape(z)} <span class=en>{escape(e)}</span></a>"
            for key, (z, e) in WHAT.items()
            if self.who.is_office or key in STATION_ADMIN_PAGES
        )
        sign_out = (
            f'<form method=post action="{prefix}../auth/sign-out" id=sign-out>'
            f"{self.csrf_field()}<button type=submit>退出 <span class=en>Sign out</span>"
            "</button></form>"
        )
        who = escape(self.who.name or self.who.account)
        body = (
            "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
            '<meta name=viewport content="width=device-width, initial-scale=1">'
            f"<title>{escape(zh)} {escape(en)} · 连心</title><style>{STYLE}</style></head><body>"
            f"<header><h1>连心 · {escape(zh)} <span class=en>Lianxin · {escape(en)}</span></h1>"
            f"<nav>{links}<span id=who>{who}</span>{sign_out}</nav></header>"
            f"<main>{main}</main></body></html>"
        )
        response = Response(body, status=status, content_type="text/html; charset=utf-8")
        if self.new_cookie:
            response.set_cookie(
                auth.CSRF_COOKIE, self.cookie, httponly=True, samesite="Lax", path="/"
            )
        if no_store:
            response.headers["Cache-Control"] = "no-store"
        return response


def notice(zh: str, en: str, ok: bool = True, notice_id: str = "notice") -> str:
    kind = "ok" if ok else "bad"
    return (
        f'<p class="notice {kind}" id="{notice_id}" role=status>{escape(zh)} '
        f"<span class=en>{escape(en)}</span></p>"
    )


def field_errors(errors: dict, field: str) -> str:
    """The messages of ``field`` beside it (``data-field`` names it for tests and scripts)."""
    messages = errors.get(field) or []
    if not messages:
        return ""
    text = "<br>".join(escape(str(m)) for m in messages)
    return (
        f'<p class=field-error data-field="{escape(field)}" id="error-{escape(field)}">{text}</p>'
    )


def invalid_attr(errors: dict, field: str) -> str:
    return " aria-invalid=true" if errors.get(field) else ""
