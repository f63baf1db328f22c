"""What every intake page shares: the texts (simplified Chinese first, English on ``?lang=en``),
the templates (Jinja2, autoescaped: whatever a citizen wrote is escaped), the language switch,
the CSRF cookie and the answers every public page may give (a message, 413).

:class:`Call` is one page request and what answering it may use (the config, the database,
the channels): the page modules (``qr_page``, ``status_page``) take it from the entrypoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from services.intake.intake import MAX_BODY_BYTES
from services.intake.schemas import DESCRIPTION_MAX
from services.kernel import auth

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
        "notify": "办理有结果时短信通知我（委员答复、重新办理、办结时各发一条；留了邮箱也发邮件）",
        "email": "通知邮箱（选填，仅用于通知）",
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
        "answer_before": "上一次答复",
        "merged_note": "您反映的问题已与其他群众反映的同一问题合并办理（共 {n} 人反映），"
        "进度和答复与之相同。",
        "slow_down": "提交太频繁，请稍后再试（约 {minutes} 分钟后）。您填写的内容已保留。",
        "lookup_slowed": "查询失败次数过多，请 {minutes} 分钟后再试。",
        "receipt_none": "未找到这份受理回执：请用提交后页面上的链接，或凭受理编号和查询码查询。",
        "expired": "页面已过期，您填写的内容已保留，请再点一次提交。",
        "too_large": "提交的内容过大，请删减后再提交。",
        "handled_by": "办理工作站",
        "member_now": "办理委员",
        "member_later": "派单后显示",
        "due": "办理期限",
        "due_later": "派单后即可在查询页看到答复期限（通常一分钟内）。",
        "reopened_note": "您的问题已重新办理，委员将重新答复。",
        "steps": "办理过程",
        "level_sector": "{level}政协委员 · {sector}界别",
        "studios": "工作室",
        "next_duty": "下次值班",
        "no_duty": "暂无值班安排",
        "levels": {"national": "全国", "provincial": "省", "municipal": "市", "county": "县区"},
        "slots": {"am": "上午", "pm": "下午", "day": "全天"},
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
        "notify": "Notify me by SMS when there is an answer (once each when the member answers, "
        "when the case is reopened and when it is closed; by e-mail too if I give one)",
        "email": "E-mail for notices (optional, used for nothing else)",
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
        "answer_before": "The previous answer",
        "merged_note": "Your report is handled together with the same problem reported by others "
        "({n} reports): the progress and the answer are the same.",
        "slow_down": "Too many submissions; please try again later (in about {minutes} min). "
        "Your text is kept.",
        "lookup_slowed": "Too many failed lookups; please try again in {minutes} min.",
        "receipt_none": "No such receipt: use the link shown after submitting, or look up by "
        "tracking number and lookup code.",
        "expired": "The page expired; your text is kept, please submit again.",
        "too_large": "What you sent is too large; please shorten it and submit again.",
        "handled_by": "Workstation",
        "member_now": "Member",
        "member_later": "shown once assigned",
        "due": "Due",
        "due_later": "The due date shows on the status page once the case is assigned "
        "(usually within a minute).",
        "reopened_note": "Your case was reopened; the member will answer again.",
        "steps": "Steps",
        "level_sector": "{level} CPPCC member · {sector} sector",
        "studios": "Studios",
        "next_duty": "Next duty day",
        "no_duty": "No duty day scheduled",
        "levels": {
            "national": "National",
            "provincial": "Provincial",
            "municipal": "Municipal",
            "county": "County",
        },
        "slots": {"am": "morning", "pm": "afternoon", "day": "all day"},
    },
}


def language(value: str | None) -> str:
    return "en" if value == "en" else "zh"


def minutes(seconds: int) -> int:
    """A wait as the pages say it: whole minutes, at least one."""
    return max(1, -(-int(seconds) // 60))


def render(template: str, lang: str, **context) -> str:
    return _env.get_template(template).render(t=TEXT[lang], lang=lang, **context)


@dataclass(frozen=True)
class Call:
    """One page request and what its answer may use (the entrypoint's dependencies)."""

    request: object
    config: dict
    db: object
    settings: object = None
    channel: object = None
    routing: object = None  # routing's RPC proxy: the case's deadline (``status_page.due``)
    steps: object = None  # ``StepWaiter``: the receipt waits briefly for routing's assignment

    def address(self) -> str:
        return auth.client_address(self.request, self.config)


def html_response(text: str, status: int = 200) -> Response:
    return Response(text, status=status, content_type="text/html; charset=utf-8")


def switch_url(request, lang: str) -> str:
    """The same page in the other language."""
    args = request.args.to_dict()
    args["lang"] = "zh" if lang == "en" else "en"
    return request.path + "?" + "&".join(f"{k}={quote(v)}" for k, v in args.items())


def set_csrf_cookie(response: Response, request, value: str) -> None:
    """The browser's half of the CSRF pair (``auth.csrf_pair``): script cannot read it."""
    response.set_cookie(
        auth.CSRF_COOKIE,
        value,
        httponly=True,
        samesite="Lax",
        secure=request.scheme == "https",
        path="/",
    )


def with_csrf(call: Call, render_page) -> Response:
    """``render_page(csrf_token)`` answered with the browser's half of the pair when it is new."""
    cookie, token, new = auth.csrf_pair(call.request, call.config)
    response = render_page(token)
    if new:
        set_csrf_cookie(response, call.request, cookie)
    return response


def message_page(request, lang: str, text: str, status: int) -> Response:
    body = render("message.html", lang, message=text, switch_url=switch_url(request, lang))
    return html_response(body, status)


def posted_form(request):
    """The posted form, capped at ``MAX_BODY_BYTES``; None when it is larger."""
    request.max_content_length = MAX_BODY_BYTES
    try:
        return request.form
    except RequestEntityTooLarge:
        return None


def too_large_page(request) -> Response:
    """413 for a browser: a page that says so (the form posts, the status page actions)."""
    lang = language(request.args.get("lang"))
    text = TEXT[lang]["too_large"] + f" ({MAX_BODY_BYTES // 1024} KB)"
    return html_response(render("message.html", lang, message=text, switch_url="?"), 413)
