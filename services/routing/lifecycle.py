"""The life of a case (问题清单 → 履职清单): which action is allowed in which state (pure).

    waiting ─assign→ assigned ─accept→ accepted ─respond→ responded ─resolve→ resolved
                        │  └──────────respond──────────↗      │
                        └─ transfer (to a member or a station; a hand-off) → assigned
    assigned/accepted/responded ─close_unresolved (with a reason)→ closed_unresolved
    resolved/closed_unresolved ─reopen (the citizen, within the window)→ assigned
    resolved ─rate (once)→ resolved

``respond`` from ``assigned`` accepts implicitly: replying is taking the case.
"""

from __future__ import annotations

from dataclasses import dataclass

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
}

STATUS_NAMES = {
    "waiting": "待派单",
    "assigned": "已派单",
    "accepted": "已接单",
    "responded": "已答复",
    "resolved": "已办结",
    "closed_unresolved": "未解决关闭",
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
}


@dataclass
class CaseError(Exception):
    """A refused action: ``code`` for programs, both messages for people, HTTP ``status``."""

    code: str
    message_zh: str
    message: str
    status: int = 409
    field: str | None = None

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
