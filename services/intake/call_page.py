"""联系群众: the page a member or a clerk opens to call the citizen back.

The member's duty card (routing) links here; the contact is never in routing. The page shows the
case number and a button; only the button reveals the name and phone, through the audited
``POST /issues/<number>/contact`` (same origin: the session cookie goes with it, the page's
script sends JSON), and turns the phone into a ``tel:`` link. Opening the page reveals nothing
and writes nothing; who may open it is who may reveal (``personal.may_reveal``).
"""

from __future__ import annotations

from html import escape

from werkzeug.wrappers import Response

PAGE = """<!doctype html><html lang=zh-CN><head><meta charset=utf-8>
<meta name=viewport content="width=device-width, initial-scale=1">
<meta name=referrer content=no-referrer>
<title>联系群众 Call the citizen · {number}</title><style>
body{{font-family:system-ui,"PingFang SC","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;
margin:0;background:#f5f5f5;color:#212121}}
header{{background:#b71c1c;color:#fff;padding:12px 16px}}h1{{font-size:1.2em;margin:0}}
main{{padding:12px;max-width:640px;margin:auto}}.en{{color:#777;font-size:.85em}}
header .en{{color:#ffd}}.box{{background:#fff;border-radius:8px;padding:12px;margin:8px 0}}
label{{display:block;margin-top:8px}}input{{width:100%;box-sizing:border-box;font-size:1em;
padding:8px;margin:6px 0}}button{{font-size:1.05em;padding:10px 14px;border:0;border-radius:6px;
background:#1565c0;color:#fff;width:100%}}#tel{{display:block;text-align:center;font-size:1.4em;
padding:14px;margin:12px 0;background:#2e7d32;color:#fff;border-radius:8px;text-decoration:none}}
.error{{color:#c62828}}.note{{color:#555;font-size:.9em}}</style></head><body>
<header><h1>联系群众 <span class=en>Call the citizen</span></h1></header><main>
<div class=box data-number="{number}" id=call>
<div>案件 <span class=en>case</span> <b>{number}</b></div>
<p class=note>群众的姓名和电话只在需要回访时查看；每次查看都会记录（谁、何时、为什么）。
<span class=en>The citizen's name and phone are for calling back only; every look is recorded
(who, when, why).</span></p>
<label>查看原因 <span class=en>why</span><input id=reason value="回访 / call back" maxlength=200></label>
<button id=reveal>显示电话并拨打 <span class=en style="color:#e3f2fd">Show the phone and call</span></button>
<div id=shown hidden><div id=name></div><a id=tel href="#"></a>
<p class=note>未留电话时无法回访，请在案件中注明。<span class=en>No phone left: note it on the
case.</span></p></div>
<div class=error id=error role=alert></div>
<p><a href="{back}">返回履职清单 <span class=en>back to the duty list</span></a></p>
</div></main><script>
document.getElementById('reveal').addEventListener('click', async (e) => {{
  const box = document.getElementById('call'), b = e.currentTarget;
  b.disabled = true;
  try {{
    const r = await fetch('contact', {{  // beside this page: /issues/<number>/contact
      method: 'POST', headers: {{'Content-Type': 'application/json'}},
      body: JSON.stringify({{reason: document.getElementById('reason').value}})}});
    const data = await r.json();
    if (!r.ok) {{ throw new Error(data.error.message_zh + ' / ' + data.error.message); }}
    const contact = data.contact || {{}};
    const phone = (contact.phone || '').replace(/[^0-9+]/g, '');
    document.getElementById('name').textContent =
      '姓名 name: ' + (contact.name || '（未留 not given）');
    const tel = document.getElementById('tel');
    if (phone) {{ tel.href = 'tel:' + phone; tel.textContent = '拨打 Call ' + phone; }}
    else {{ tel.remove(); }}
    document.getElementById('shown').hidden = false;
    b.hidden = true;
  }} catch (err) {{
    document.getElementById('error').textContent = err.message;
    b.disabled = false;
  }}
}});
</script></body></html>"""


def call_page(number: str, back: str) -> Response:
    """The page for ``number``; ``back`` is where the duty list is (the routing page)."""
    body = PAGE.format(number=escape(number), back=escape(back or "javascript:history.back()"))
    response = Response(body, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response
