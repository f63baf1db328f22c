"""The office's accounts page (账号管理): list and filter accounts, add one, deactivate and
reactivate, reset a password.

Every change goes through the same rules as the JSON API (``accounts.create``,
``accounts.deactivate``, ``accounts.update`` for reactivating, ``accounts.set_password``); this
module only reads the page's forms and writes the page. A password the office leaves blank is
generated (``passwords.generated``) and shown once on the answer (never stored in clear, never
logged, never cached: the service answers with ``no_store``).
"""

from __future__ import annotations

from html import escape

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel import auth
from services.kernel.http import flag_arg, invalid
from services.registry import accounts, args
from services.registry.models import Member, Station, Studio
from services.registry.office_page import Page, field_errors, invalid_attr, notice
from services.registry.passwords import generated

SHOWN = 500  # accounts one page lists; a search narrows them
ACTIVE = {True: ("在用", "active"), False: ("已停用", "deactivated")}

SCRIPT = """
(function(){
  var role=document.getElementById('role');
  var parts={station_admin:'scope-stations',studio_admin:'scope-studios',member:'scope-member'};
  function show(){
    for(var r in parts){
      var box=document.getElementById(parts[r]);var on=role.value===r;
      box.hidden=!on;
      box.querySelectorAll('input,select').forEach(function(f){f.disabled=!on;});
    }
  }
  role.addEventListener('change',show);show();
  var refused=document.getElementById('form-error');
  if(refused){refused.scrollIntoView({block:'start'});}
})();
"""


# -- reading the page's query and forms -----------------------------------------------------------


def filters(query) -> dict:
    """The list's filters from the query: ``role``, ``active`` (true/false), ``q`` (login or
    name); a wrong one is a field error (the refusal page names it)."""
    role = args.text_arg(query.get("role"), "role")
    if role and role not in auth.ROLES:
        raise invalid({"role": [f"可选 / one of: {', '.join(auth.ROLES)}"]})
    return {
        "role": role,
        "active": flag_arg(query.get("active"), "active"),
        "q": args.text_arg(query.get("q"), "q"),
    }


def new_account(form, login_hint: str = "") -> tuple[dict, bool]:
    """The add form as ``accounts.create`` takes it, and whether the password is generated
    (the office left it blank)."""
    data = {
        "login": form.get("login", ""),
        "name": form.get("name", ""),
        "role": form.get("role", ""),
        "member": form.get("member", "").strip() or None,
        "stations": [c for c in form.getlist("stations") if c],
        "studios": [c for c in form.getlist("studios") if c],
    }
    typed = form.get("password", "")
    made = not typed
    data["password"] = typed or generated(str(data["login"]).strip().lower())
    return data, made


# -- what the page shows ----------------------------------------------------------------------------


def _choices(session: Session) -> dict:
    """Code → name of every station, studio and member (the pickers, the scope column)."""
    return {
        kind: dict(session.execute(select(model.code, model.name).order_by(model.code)).all())
        for kind, model in (("stations", Station), ("studios", Studio), ("members", Member))
    }


def _scope(account: dict, names: dict) -> str:
    def named(kind, codes):
        return "、".join(f"{escape(names[kind].get(c, c))}（{escape(c)}）" for c in codes)

    if account["role"] == "station_admin":
        return "工作站 " + named("stations", account["stations"])
    if account["role"] == "studio_admin":
        return "工作室 " + named("studios", account["studios"])
    if account["role"] == "member" and account["member"]:
        return "委员 " + named("members", [account["member"]])
    return "全部 <span class=en>everything</span>"


def _actions(page: Page, account: dict) -> str:
    login = escape(account["login"])
    hidden = f'<input type=hidden name=login value="{login}">'
    if account["login"] == page.who.account:  # one's own: /auth/password, never locked out here
        return "当前登录 <span class=en>you</span>"
    if account["active"]:
        toggle = page.form(
            "account-active",
            hidden + "<input type=hidden name=active value=false>"
            f'<button class=danger type=submit id="deactivate-{login}">停用 '
            "<span class=en>Deactivate</span></button>",
        )
    else:
        toggle = page.form(
            "account-active",
            hidden + "<input type=hidden name=active value=true>"
            f'<button class=secondary type=submit id="reactivate-{login}">启用 '
            "<span class=en>Reactivate</span></button>",
        )
    reset = page.form(
        "account-password",
        hidden + f'<button class=secondary type=submit id="reset-{login}">重置密码 '
        "<span class=en>Reset password</span></button>",
    )
    return toggle + reset


def _table(page: Page, found: list[dict], names: dict) -> str:
    if not found:
        return "<p id=no-accounts>没有符合条件的账号 <span class=en>no account matches</span></p>"
    rows = []
    for a in found[:SHOWN]:
        zh, en = ACTIVE[a["active"]]
        role_zh, role_en = auth.ROLE_NAMES[a["role"]]
        rows.append(
            f'<tr id="account-{escape(a["login"])}"'
            + ("" if a["active"] else " class=inactive")
            + ">"
            f'<td data-label="账号 Login"><b>{escape(a["login"])}</b><br>{escape(a["name"])}</td>'
            f'<td data-label="角色 Role">{escape(role_zh)} <span class=en>{escape(role_en)}</span></td>'
            f'<td data-label="范围 Scope">{_scope(a, names)}</td>'
            f'<td data-label="状态 Status" class=status>{zh} <span class=en>{en}</span></td>'
            f'<td data-label="操作 Actions">{_actions(page, a)}</td></tr>'
        )
    more = ""
    if len(found) > SHOWN:
        more = (
            f"<p class=hint>只显示前{SHOWN}个，请用搜索缩小范围 "
            f"<span class=en>first {SHOWN} shown: narrow the search</span></p>"
        )
    head = "".join(
        f"<th>{zh} <span class=en>{en}</span></th>"
        for zh, en in (
            ("账号", "Login"),
            ("角色", "Role"),
            ("范围", "Scope"),
            ("状态", "Status"),
            ("操作", "Actions"),
        )
    )
    return (
        f"<p class=hint id=account-count>共 {len(found)} 个 <span class=en>{len(found)} "
        f"accounts</span></p><table class=cards id=accounts><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{more}"
    )


def _option(value: str, label: str, chosen) -> str:
    selected = (
        " selected" if (value in chosen if isinstance(chosen, list) else value == chosen) else ""
    )
    return f'<option value="{escape(value)}"{selected}>{escape(label)}</option>'


def _filter_form(wanted: dict) -> str:
    roles = _option("", "全部角色 / all roles", wanted["role"] or "") + "".join(
        _option(r, f"{zh} / {en}", wanted["role"] or "") for r, (zh, en) in auth.ROLE_NAMES.items()
    )
    active = {None: "", True: "true", False: "false"}[wanted["active"]]
    states = "".join(
        _option(v, label, active)
        for v, label in (
            ("", "全部 / all"),
            ("true", "在用 / active"),
            ("false", "已停用 / deactivated"),
        )
    )
    return (
        "<section><h2>查找账号 <span class=en>Find accounts</span></h2>"
        '<form method=get action="accounts" id=filter><div class=row>'
        "<div><label for=q>账号或姓名 <span class=en>Login or name</span></label>"
        f'<input id=q name=q value="{escape(wanted["q"] or "")}" autocapitalize=none></div>'
        "<div><label for=filter-role>角色 <span class=en>Role</span></label>"
        f"<select id=filter-role name=role>{roles}</select></div>"
        "<div><label for=filter-active>状态 <span class=en>Status</span></label>"
        f"<select id=filter-active name=active>{states}</select></div></div>"
        "<button type=submit id=filter-submit>查找 <span class=en>Search</span></button>"
        "</form></section>"
    )


def _add_form(page: Page, names: dict, typed: dict, errors: dict) -> str:
    def text_field(field, zh, en, kind="text", extra=""):
        value = "" if kind == "password" else escape(str(typed.get(field) or ""))
        return (
            f"<label for={field}>{zh} <span class=en>{en}</span></label>"
            f'<input id={field} name={field} type={kind} value="{value}"{extra}'
            f"{invalid_attr(errors, field)}>{field_errors(errors, field)}"
        )

    role = typed.get("role") or ""
    roles = _option("", "请选择 / choose", role) + "".join(
        _option(r, f"{zh} / {en}", role) for r, (zh, en) in auth.ROLE_NAMES.items()
    )
    stations = "".join(
        _option(c, f"{n}（{c}）", typed.get("stations") or []) for c, n in names["stations"].items()
    )
    studios = "".join(
        _option(c, f"{n}（{c}）", typed.get("studios") or []) for c, n in names["studios"].items()
    )
    members = "".join(
        f'<option value="{escape(c)}" label="{escape(n)}（{escape(c)}）"></option>'
        for c, n in names["members"].items()
    )
    multi = "可按住 Ctrl（手机上直接点选）多选 / hold Ctrl to pick several (tap on a phone)"
    inner = (
        text_field(
            "login", "登录账号", "Login", extra=" autocapitalize=none autocomplete=off required"
        )
        + "<p class=hint>2–60 个小写字母、数字或 . _ - / lowercase letters, digits, . _ -</p>"
        + text_field("name", "姓名或名称", "Name", extra=" required")
        + "<label for=role>角色 <span class=en>Role</span></label>"
        f"<select id=role name=role{invalid_attr(errors, 'role')}>{roles}</select>"
        + field_errors(errors, "role")
        + "<div id=scope-stations><label for=stations>负责的工作站 "
        "<span class=en>Stations looked after</span></label>"
        f"<select id=stations name=stations multiple{invalid_attr(errors, 'stations')}>"
        f"{stations}</select><p class=hint>{multi}</p>{field_errors(errors, 'stations')}</div>"
        "<div id=scope-studios><label for=studios>负责的工作室 "
        "<span class=en>Studios looked after</span></label>"
        f"<select id=studios name=studios multiple{invalid_attr(errors, 'studios')}>"
        f"{studios}</select><p class=hint>{multi}</p>{field_errors(errors, 'studios')}</div>"
        "<div id=scope-member>"
        + text_field(
            "member", "委员编号", "Member code", extra=" list=member-list autocomplete=off"
        )
        + f"<datalist id=member-list>{members}</datalist>"
        "<p class=hint>输入姓名或编号后从列表选择 / type a name or code and pick it</p></div>"
        + text_field(
            "password", "初始密码", "First password", "password", " autocomplete=new-password"
        )
        + "<p class=hint>留空则自动生成，只显示一次 / leave blank to have one made, shown once</p>"
        "<button type=submit id=add-submit>添加账号 <span class=en>Add account</span></button>"
    )
    banner = ""
    if errors:
        banner = notice(
            "未添加：请改正标出的字段", "not added: correct the fields marked", False, "form-error"
        )
    return (
        f"<section id=add><h2>添加账号 <span class=en>Add an account</span></h2>{banner}"
        + page.form("accounts", inner, "add-form")
        + f"<script>{SCRIPT}</script></section>"
    )


def main(
    page: Page,
    session: Session,
    wanted: dict | None = None,
    typed: dict | None = None,
    errors: dict | None = None,
    banner: str = "",
) -> str:
    """The page's content: ``banner`` (what just happened), the filter, the list, the add form
    (``typed`` back in it with ``errors`` beside the fields after a refusal)."""
    wanted = wanted or {"role": None, "active": None, "q": None}
    names = _choices(session)
    found = accounts.list_accounts(session, wanted["role"], wanted["active"], wanted["q"])
    return (
        banner
        + _filter_form(wanted)
        + f"<section><h2>账号 <span class=en>Accounts</span></h2>{_table(page, found, names)}</section>"
        + _add_form(page, names, typed or {}, errors or {})
    )


def one_time_password(login: str, password: str, what: tuple[str, str]) -> str:
    """The banner that shows a new password, this once."""
    return (
        '<div class="notice ok" id=new-password role=status>'
        f"<p>{escape(what[0])}：<b id=new-password-login>{escape(login)}</b> "
        f"<span class=en>{escape(what[1])}</span></p>"
        f"<p>密码 <span class=en>password</span> <span class=secret id=new-password-value>"
        f"{escape(password)}</span></p>"
        "<p class=hint>只显示这一次：请现在抄下并当面或电话告知本人，登录后请本人修改。"
        " <span class=en>Shown this once: write it down, hand it over in person or by phone; "
        "the holder should change it after signing in.</span></p></div>"
    )


# -- the page's actions (the service calls these in a transaction) ----------------------------------


def add(page: Page, session: Session, form) -> tuple[str, int]:
    """The add form: the account created (its password shown once if generated), or the form
    again with the errors beside the fields (400)."""
    data, made = new_account(form)
    try:
        account = accounts.create(session, data)
    except ValidationError as err:
        typed = {k: v for k, v in data.items() if k != "password"}
        return main(page, session, typed=typed, errors=err.messages), 400
    if made:
        banner = one_time_password(account.login, data["password"], ("已添加账号", "account added"))
    else:
        banner = notice(f"已添加账号 {account.login}", f"account {account.login} added")
    return main(page, session, banner=banner), 200


def set_active(page: Page, session: Session, form) -> str:
    """Deactivate (``active=false``) or reactivate (``active=true``) the account ``login``."""
    login = form.get("login", "")
    active = flag_arg(form.get("active"), "active")
    if active is None:
        raise invalid({"active": ["必填 / required"]})
    if active:
        account = accounts.update(session, login, {"active": True})
        banner = notice(f"已启用 {account.login}", f"{account.login} reactivated")
    else:
        account = accounts.deactivate(session, login)
        banner = notice(
            f"已停用 {account.login}，不能再登录", f"{account.login} deactivated: cannot sign in"
        )
    return main(page, session, banner=banner)


def reset_password(page: Page, session: Session, form) -> str:
    """A new generated password for ``login``, shown once."""
    login = form.get("login", "")
    account = accounts.get(session, login)
    password = generated(account.login)
    accounts.set_password(session, account.login, password, end=True)
    return main(
        page,
        session,
        banner=one_time_password(account.login, password, ("已重置密码", "password reset")),
    )
