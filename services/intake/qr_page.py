"""The QR channel (委员码上见): the public mobile pages a citizen reaches by scanning a code.

Plain rules, no nameko: which page a code opens (``target``), turning the posted form into a
station message or field errors (``submission_from_form``), and rendering the pages. Every page
is simplified Chinese first with an English switch (``?lang=en``), fits a phone, loads nothing
from outside, and escapes whatever a citizen wrote (Jinja2 autoescape).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from services.intake import intake
from services.intake.schemas import DESCRIPTION_MAX, SubmissionSchema, bilingual

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

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

TEXT = {
    "zh": {
        "title": "委员码上见 · 反映问题",
        "to_member": "向委员反映问题",
        "to_station": "向委员工作站反映问题",
        "to_studio": "向委员工作室反映问题",
        "station": "工作站",
        "category": "问题类别",
        "choose": "请选择",
        "description": "问题描述",
        "description_hint": f"请写清楚发生了什么（最多 {DESCRIPTION_MAX} 字）",
        "place": "地点（选填）",
        "name": "姓名（选填）",
        "phone": "电话（选填）",
        "anonymous": "可以匿名反映。留下姓名或电话，委员才能联系您。",
        "consent": "我同意委员和工作站为办理此事使用我的姓名和电话，不作他用。",
        "submit": "提交",
        "fix": "请修改标出的内容后再提交。",
        "done": "已受理",
        "tracking_number": "受理编号",
        "lookup_code": "查询码",
        "keep": "请保存受理编号和查询码，凭二者查询办理进度。",
        "check": "查询办理进度",
        "pending": "已收到，正在受理",
        "pending_hint": "稍后打开下面的链接即可看到受理编号和查询码。",
        "pending_link": "查看受理结果",
        "status_title": "查询办理进度",
        "status_none": "未找到：请核对受理编号和查询码。",
        "status_now": "当前状态",
        "not_found": "未找到这个二维码对应的委员、工作站或工作室。",
        "no_station": "这个二维码暂未开通线上受理，请到附近的委员工作站反映。",
        "switch": "English",
        "rejected": "提交未被受理，请修改后重试。",
        "rate_title": "回访评价：您对办理结果满意吗？",
        "satisfied": "满意",
        "basically_satisfied": "基本满意",
        "unsatisfied": "不满意",
        "comment": "意见（选填）",
        "rate_submit": "提交评价",
        "reopen_title": "问题没有解决？",
        "reopen_submit": "申请重新办理",
        "action_done": "已提交，谢谢您的反馈。",
        "action_failed": "未能提交：",
        "same_title": "是否与以下问题相同？",
        "same_hint": "附近已有群众反映过相似的问题。如果是同一个问题，选择它即可合并办理；"
        "无论选哪一项，您填写的内容都会提交，并得到自己的受理编号和查询码。",
        "same_this": "是同一个问题",
        "new_problem": "不是，这是一个新问题",
        "reported_by": "已有 {n} 人反映",
        "chosen_same": "已记录：您认为与已有问题相同，将合并办理，您可凭自己的受理编号查看进度和答复。",
        "answer": "委员答复",
        "merged_note": "您反映的问题已与其他群众反映的同一问题合并办理（共 {n} 人反映），"
        "进度和答复与之相同。",
        "slow_down": "提交太频繁，请稍后再试（约 {minutes} 分钟后）。您填写的内容已保留。",
        "lookup_slowed": "查询失败次数过多，请 {minutes} 分钟后再试。",
        "expired": "页面已过期，您填写的内容已保留，请再点一次提交。",
        "too_large": "提交的内容过大，请删减后再提交。",
    },
    "en": {
        "title": "Reach your CPPCC member · report an issue",
        "to_member": "Report an issue to member",
        "to_station": "Report an issue to the member workstation",
        "to_studio": "Report an issue to the member studio",
        "station": "Workstation",
        "category": "Category",
        "choose": "Please choose",
        "description": "What is the issue?",
        "description_hint": f"Say what happened (at most {DESCRIPTION_MAX} characters)",
        "place": "Place (optional)",
        "name": "Name (optional)",
        "phone": "Phone (optional)",
        "anonymous": "You may stay anonymous. Leave a name or phone if you want the member to "
        "contact you.",
        "consent": "I agree that the members and the station use my name and phone for this "
        "matter only.",
        "submit": "Submit",
        "fix": "Please correct the marked fields and submit again.",
        "done": "Received",
        "tracking_number": "Tracking number",
        "lookup_code": "Lookup code",
        "keep": "Keep the tracking number and the lookup code: you need both to check progress.",
        "check": "Check progress",
        "pending": "Received, being processed",
        "pending_hint": "Open the link below in a moment to get your tracking number and code.",
        "pending_link": "See the result",
        "status_title": "Check progress",
        "status_none": "Not found: check the tracking number and the lookup code.",
        "status_now": "Status",
        "not_found": "No member, workstation or studio has this QR code.",
        "no_station": "This code does not take issues online yet; please visit a member "
        "workstation.",
        "switch": "中文",
        "rejected": "The submission was not accepted; please correct it and try again.",
        "rate_title": "Return visit: are you satisfied with the result?",
        "satisfied": "Satisfied",
        "basically_satisfied": "Basically satisfied",
        "unsatisfied": "Not satisfied",
        "comment": "Comment (optional)",
        "rate_submit": "Send rating",
        "reopen_title": "Not solved?",
        "reopen_submit": "Ask to reopen",
        "action_done": "Sent. Thank you for your feedback.",
        "action_failed": "Could not send: ",
        "same_title": "Is it the same as one of these?",
        "same_hint": "People nearby reported something similar. If it is the same problem, choose "
        "it and it is handled together; whichever you choose, what you wrote is sent and you get "
        "your own tracking number and lookup code.",
        "same_this": "Same as this one",
        "new_problem": "No, a new problem",
        "reported_by": "reported by {n}",
        "chosen_same": "Noted: you said it is the same as a reported problem; they are handled "
        "together, and your own tracking number shows the progress and the answer.",
        "answer": "The member's answer",
        "merged_note": "Your report is handled together with the same problem reported by others "
        "({n} reports): the progress and the answer are the same.",
        "slow_down": "Too many submissions; please try again later (in about {minutes} min). "
        "Your text is kept.",
        "lookup_slowed": "Too many failed lookups; please try again in {minutes} min.",
        "expired": "The page expired; your text is kept, please submit again.",
        "too_large": "What you sent is too large; please shorten it and submit again.",
    },
}


def language(value: str | None) -> str:
    return "en" if value == "en" else "zh"


def target(session: Session, kind: str, code: str) -> dict | None:
    """What a QR code opens: who it names and which station(s) its issues go to."""
    if kind == "station":
        station = intake.known_station(session, code)
        if station is None:
            return None
        return {"kind": kind, "code": code, "name": station["name"], "stations": [station]}
    if kind == "member":
        member = intake.known_member(session, code)
        if member is None:
            return None
        stations = [intake.known_station(session, c) for c in member["stations"]]
        return {
            "kind": kind,
            "code": code,
            "name": member["name"],
            "stations": [s for s in stations if s is not None],
        }
    if kind == "studio":
        studio = intake.known_studio(session, code)
        if studio is None:
            return None
        station = intake.known_station(session, studio["station"]) if studio["station"] else None
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
    schema_errors = bilingual(SubmissionSchema().validate(message))
    for field, messages in schema_errors.items():
        if field == "contact":
            for sub, sub_messages in messages.items():
                errors.setdefault(sub, []).extend(sub_messages)
        elif field not in errors:
            errors[field] = messages
    return message, errors


def choice(form) -> str | None:
    """The citizen's answer to "是否与以下问题相同?": None before the question was put, "" for
    "a new problem", else the tracking number of the case chosen as the same."""
    if "same_as" not in form:
        return None
    return (form.get("same_as") or "").strip()


def minutes(seconds: int) -> int:
    """A wait as the pages say it: whole minutes, at least one."""
    return max(1, -(-int(seconds) // 60))


def render(template: str, lang: str, **context) -> str:
    return _env.get_template(template).render(t=TEXT[lang], lang=lang, **context)


def new_submission_id() -> str:
    """Made when the form is shown: posting the same form twice never makes two issues."""
    return str(uuid.uuid4())


def status_view(status: dict) -> dict:
    """The status for the page: each step's time in Beijing time, to the minute."""
    steps = [
        {
            **s,
            "at_local": datetime.fromisoformat(s["at"])
            .astimezone(intake.CHINA)
            .strftime("%Y-%m-%d %H:%M"),
        }
        for s in status["steps"]
    ]
    names = [s["step"] for s in status["steps"]]
    last_close = max((i for i, n in enumerate(names) if n in intake.CLOSING_STEPS), default=-1)
    resolved = status["closed"] and names[last_close] == "routing.issue_resolved"
    rated = "routing.issue_rated" in names[last_close:]
    return {
        **status,
        "steps": steps,
        "can_rate": resolved and not rated,
        "can_reopen": status["closed"],
    }
