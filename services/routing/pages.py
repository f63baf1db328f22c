"""The member's duty list (履职清单) and the station lead's view, as phone-sized HTML pages.

Rendered on the server from the same data as the JSON API; the action buttons post to
``/cases/<number>/actions/<action>`` with the case's version, and the page reloads. Everything
shown is escaped, and no user text ever reaches inline script (the buttons carry data
attributes; one listener acts on them). Chinese first, English beside it.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from werkzeug.wrappers import Response

from services.routing import catalogue
from services.routing.workdays import CHINA

COLOURS = {
    "red": ("超期", "overdue"),
    "yellow": ("即将到期", "due soon"),
    "green": ("正常", "on track"),
}

STYLE = """
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;background:#f5f5f5}
header{background:#b71c1c;color:#fff;padding:12px 16px}h1{font-size:1.2em;margin:0}
.en{color:#777;font-size:.85em}header .en{color:#ffd}
main{padding:8px;max-width:640px;margin:auto}
.case{background:#fff;border-radius:8px;margin:8px 0;padding:12px;border-left:6px solid #2e7d32}
.case.yellow{border-color:#f9a825}.case.red{border-color:#c62828}
.row{display:flex;justify-content:space-between;gap:8px;flex-wrap:wrap}
.tag{font-size:.8em;padding:2px 6px;border-radius:4px;background:#eee}
textarea,input{width:100%;box-sizing:border-box;margin:6px 0;font-size:1em;padding:6px}
button{font-size:1em;padding:8px 12px;margin:4px 4px 0 0;border:0;border-radius:6px;
background:#1565c0;color:#fff}button.alt{background:#757575}
.error{color:#c62828}.empty{text-align:center;color:#777;padding:32px}
"""

SCRIPT = """
document.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-action]');
  if (b) { act(b.closest('.case'), b.dataset.action); }
});
async function act(card, action) {
  const number = card.dataset.number;
  const body = {actor: document.body.dataset.actor, note: card.querySelector('textarea').value,
                version: Number(card.dataset.version)};
  if (action === 'transfer') { body.to_member = card.querySelector('input').value; }
  const r = await fetch('/cases/' + encodeURIComponent(number) + '/actions/' + action,
                        {method: 'POST', headers: {'Content-Type': 'application/json'},
                         body: JSON.stringify(body)});
  if (r.ok) { location.reload(); return; }
  const e = (await r.json()).error;
  card.querySelector('.error').textContent = e.message_zh + ' / ' + e.message;
}
"""

ACTIONS = {
    "assigned": [("accept", "接单", "Accept"), ("respond", "答复", "Respond")],
    "accepted": [("respond", "答复", "Respond")],
    "responded": [("resolve", "办结", "Resolve")],
}


def _when(value: str | None) -> str:
    if not value:
        return "-"
    return f"{datetime.fromisoformat(value).astimezone(CHINA):%m-%d %H:%M}"


def _category(code: str) -> str:
    entry = catalogue.load()["categories"].get(code)
    return f"{entry['name']} <span class=en>{entry['name_en']}</span>" if entry else escape(code)


def _card(case: dict, with_actions: bool) -> str:
    number = escape(case["tracking_number"])
    zh, en = COLOURS.get(case["colour"], ("", ""))
    due = case["resolution_due"] if case["responded_at"] else case["response_due"]
    stage = ("办结期限", "resolve by") if case["responded_at"] else ("答复期限", "respond by")
    parts = [
        f'<div class="case {escape(case["colour"])}" id="case-{number}" data-number="{number}" '
        f'data-version="{int(case["version"])}">',
        f"<div class=row><b>{number}</b><span class=tag>{zh} <span class=en>{en}</span></span></div>",
        f"<div>{_category(case['category'])}</div>",
        f"<div>{escape(case['status_name'])} <span class=en>{escape(case['status'])}</span> · "
        f"{stage[0]} <span class=en>{stage[1]}</span> {_when(due)}</div>",
    ]
    if with_actions:
        parts.append('<textarea placeholder="答复或办理情况 / reply or what was done"></textarea>')
        for action, label, label_en in ACTIONS.get(case["status"], []):
            parts.append(f"<button data-action={action}>{label} {label_en}</button>")
        parts.append('<input placeholder="转给委员编号 / transfer to member code">')
        parts.append("<button class=alt data-action=transfer>转办 Transfer</button>")
        parts.append("<div class=error></div>")
    else:
        parts.append(
            f"<div>委员 <span class=en>member</span> {escape(case['member'] or '-')}</div>"
        )
    parts.append("</div>")
    return "".join(parts)


def _page(title_zh: str, title_en: str, actor: str, cards: list[str]) -> str:
    body = "".join(cards) or "<div class=empty>暂无案件 <span class=en>No open cases</span></div>"
    return (
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title_zh)} {escape(title_en)}</title><style>{STYLE}</style></head>"
        f'<body data-actor="{escape(actor)}"><header><h1>{escape(title_zh)} '
        f"<span class=en>{escape(title_en)}</span></h1></header><main>{body}</main>"
        f"<script>{SCRIPT}</script></body></html>"
    )


def duty_page(member: str, cases: list[dict]) -> str:
    return _page(
        f"履职清单 · {member}",
        f"Duty list of {member}",
        member,
        [_card(c, with_actions=True) for c in cases],
    )


def station_page(station: str, cases: list[dict]) -> str:
    return _page(
        f"工作站案件 · {station}",
        f"Cases of station {station}",
        f"lead:{station}",
        [_card(c, with_actions=False) for c in cases],
    )


def page_response(text: str) -> Response:
    return Response(text, mimetype="text/html", content_type="text/html; charset=utf-8")
