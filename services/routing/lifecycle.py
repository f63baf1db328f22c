"""The life of a case (问题清单 → 履职清单): which action is allowed in which state (pure).

    waiting ─assign→ assigned ─accept→ accepted ─respond→ responded ─resolve→ resolved
                        │  └──────────respond──────────↗      │
                        └─ transfer (to a member or a station; a hand-off) → assigned
    assigned/accepted/responded ─close_unresolved (with a reason)→ closed_unresolved
    resolved/closed_unresolved ─reopen (the citizen, within the window)→ assigned
    resolved ─rate (once)→ resolved
    waiting/assigned/accepted/responded ─merge (into another open case)→ merged (final: it
        follows the case it was merged into, its 主案件)

``respond`` from ``assigned`` accepts implicitly: replying is taking the case.
"""

from __future__ import annotations

from datetime import datetime

from services.kernel.http import ApiError

OPEN = ("waiting", "assigned", "accepted", "responded")
ACTIVE = ("assigned", "accepted", "responded")

TRANSITIONS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "assign": (("waiting",), "assigned"),
    "accept": (("assigned",), "accepted"),
    "respond": (("assigned", "accepted"), "responded"),
    "resolve": (("responded",), "resolved"),
    "close_unresolved": (ACTIVE, "closed_unresolved"),
    "transfer": (ACTIVE, "assigned"),
    "reopen": (("resolved", "closed_unresolved"), "assigned"),
    "rate": (("resolved",), None),  # None: the state stays
    "merge": (OPEN, "merged"),
}

STATUS_NAMES = {
    "waiting": "待派单",
    "assigned": "已派单",
    "accepted": "已接单",
    "responded": "已答复",
    "resolved": "已办结",
    "closed_unresolved": "未解决关闭",
    "merged": "已合并",
}
ACTION_NAMES = {
    "assign": "派单",
    "accept": "接单",
    "respond": "首次答复",
    "resolve": "办结",
    "close_unresolved": "未解决关闭",
    "transfer": "转办",
    "reopen": "重新办理",
    "rate": "评价",
    "merge": "合并",
    "remind": "催办",  # not a transition: the station reminded the member (reminding.py)
}


class CaseError(ApiError):
    """A refused action: ``code`` for programs, both messages for people, HTTP ``status``, and
    the ``field`` it is about (if any). An :class:`ApiError`, so ``@guard`` answers it in the
    one error format, the field's message under ``fields``."""

    def __init__(
        self, code: str, message_zh: str, message: str, status: int = 409, field: str | None = None
    ):
        fields = {field: [f"{message_zh} / {message}"]} if field else {}
        super().__init__(code, message_zh, message, fields, status)
        self.field = field

    def __str__(self):
        return f"{self.message_zh} / {self.message}"


def next_status(action: str, status: str) -> str:
    """The state after ``action``, or CaseError saying why it is not allowed now."""
    if action not in TRANSITIONS:
        raise CaseError("unknown_action", f"未知操作: {action}", f"unknown action: {action}", 400)
    allowed, to = TRANSITIONS[action]
    if status not in allowed:
        raise CaseError(
            "illegal_transition",
            f"案件当前为“{STATUS_NAMES.get(status, status)}”，不能{ACTION_NAMES[action]}",
            f"a case that is {status} cannot be {action!r}-ed (allowed from: {', '.join(allowed)})",
        )
    return to or status


# the steps an operator's replay may date in the past (``actions.act``'s ``at``)
BACKDATABLE = ("accept", "respond", "resolve", "close_unresolved")


def earliest_at(case) -> datetime:
    """The earliest time a back-dated action on ``case`` may carry: its receipt, or its latest
    step after it (an answer is never dated before the step it follows)."""
    steps = (case.accepted_at, case.responded_at, case.resolved_at, case.closed_at, case.rated_at)
    return max([case.received_at, *(t for t in steps if t is not None)])


def unknown_case(number, field: str = "into") -> CaseError:
    """The one answer for a case named in a body that does not exist or that the caller may not
    see (``access.py``): 400 ``not_found`` on that field, so it never tells which. (400, not 404:
    the path's case exists; it is the body that names nothing the caller can use.)"""
    return CaseError("not_found", f"未找到案件 {number}", f"no case {number}", 400, field)


def merge_refusal(number: str, into: str | None, chain: list[str], root_status: str | None):
    """Why ``number`` cannot be merged into ``into``, as a CaseError; None when it can.

    ``chain`` is ``into`` followed by the cases it already follows (``into`` → its main → …),
    ``root_status`` the status of the last of them (the case ``number`` would follow), None if
    ``into`` is not a case (or not one the caller may see: the same refusal).
    """

    def refuse(code, zh, en, status=409):
        return CaseError(code, zh, en, status, "into")

    if not into or not str(into).strip():
        return refuse("missing", "请填写要合并到的案件编号", "into is required", 400)
    if into == number:
        return refuse(
            "merge_self", "不能把案件合并到它自己", "a case cannot be merged into itself", 400
        )
    if root_status is None:
        return unknown_case(into)
    if number in chain:
        path = " → ".join(chain)
        return refuse(
            "merge_loop",
            f"案件 {into} 已经合并到本案件（{path}），不能再反向合并",
            f"{into} already follows this case ({path}): merging would make a loop",
        )
    if root_status not in OPEN:
        name = STATUS_NAMES.get(root_status, root_status)
        return refuse(
            "merge_closed",
            f"案件 {chain[-1]} 已“{name}”，只能合并到未办结的案件",
            f"{chain[-1]} is {root_status}: a case can only be merged into an open one",
        )
    return None
