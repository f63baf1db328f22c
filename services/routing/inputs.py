"""What routing accepts from a client, typed and bounded before anything uses it (docs/security.md,
"Routing scope"): a wrong type, an unknown field or a text over its cap is a 400 ``invalid``
naming the field, in the one error format, never a 500.

Caps: a note (a reply, what was done, a reason for a transfer, a close or a merge) up to
:data:`NOTE_MAX` characters; a citizen's rating comment up to :data:`COMMENT_MAX`; a member or
station code up to :data:`CODE_MAX`; a tracking number up to :data:`NUMBER_MAX`; ``version`` a
whole number 1 to :data:`VERSION_MAX`.
"""

from __future__ import annotations

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

NOTE_MAX = 2000
COMMENT_MAX = 500
CODE_MAX = 40
NUMBER_MAX = 32
VERSION_MAX = 2**31 - 1
NOTICE_STATUSES = ("pending", "sent", "failed", "skipped", "digested", "in_digest")

_TYPE = {
    "null": "不能为空 / may not be null",
    "required": "必填 / required",
}
TYPE_MESSAGES = {**_TYPE, "invalid": "必须是文本 / must be text"}


def text(max_len: int, what_zh: str, what: str) -> fields.String:
    """An optional text field of at most ``max_len`` characters, its messages in both languages."""
    return fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(
            max=max_len,
            error=f"{what_zh}最多 {max_len} 字 / {what} is at most {max_len} characters",
        ),
        error_messages=TYPE_MESSAGES,
    )


class Body(Schema):
    """The one bilingual answer for a body that is not an object or names an unknown field."""

    class Meta:
        unknown = RAISE

    error_messages = {
        "unknown": "未知字段 / unknown field",
        "type": "请求内容必须是 JSON 对象 / the body must be a JSON object",
    }


class ActionBody(Body):
    """``POST /cases/<number>/actions/<action>``."""

    note = text(NOTE_MAX, "说明", "the note")
    to_member = text(CODE_MAX, "委员编号", "to_member")
    to_station = text(CODE_MAX, "工作站编号", "to_station")
    into = text(NUMBER_MAX, "案件编号", "into")
    version = fields.Integer(
        strict=True,
        load_default=None,
        allow_none=True,
        validate=validate.Range(
            min=1, max=VERSION_MAX, error=f"应为 1 到 {VERSION_MAX} / must be 1-{VERSION_MAX}"
        ),
        error_messages={**_TYPE, "invalid": "必须是整数 / must be a whole number"},
    )
    actor = fields.Raw(load_default=None, load_only=True)  # sent by the duty page; ignored
    # when it happened, if not now: operator-only back-dating (actions.act, kernel/backdating.py)
    at = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        error_messages={
            **_TYPE,
            "invalid": "须为带时区的 ISO 时间 / must be an ISO time with a time zone",
            "invalid_awareness": "须为带时区的 ISO 时间 / must be an ISO time with a time zone",
        },
    )


class CitizenAction(Schema):
    """A citizen's rate or reopen over RPC (intake checked the lookup code)."""

    class Meta:
        unknown = EXCLUDE

    number = fields.String(
        required=True,
        validate=validate.Length(
            min=1, max=NUMBER_MAX, error=f"受理编号为 1–{NUMBER_MAX} 字 / 1-{NUMBER_MAX} characters"
        ),
        error_messages=TYPE_MESSAGES,
    )
    rating = text(40, "评价", "rating")
    comment = text(COMMENT_MAX, "评价意见", "the comment")


class NoticeQuery(Body):
    """``GET /notices``: ``member`` (the office's filter), ``status``."""

    class Meta:
        unknown = EXCLUDE

    member = text(CODE_MAX, "委员编号", "member")
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(
            NOTICE_STATUSES, error=f"须为 {'/'.join(NOTICE_STATUSES)} 之一 / must be one of them"
        ),
    )


def action_body(data: dict) -> dict:
    return ActionBody().load(data)


def notice_query(args) -> dict:
    """The query of ``/notices``: a repeated argument is refused, not silently the first."""
    for key in ("member", "status"):
        if len(args.getlist(key)) > 1:
            raise ValidationError({key: ["只能给一个 / give it once"]})
    given = {k: v for k, v in args.items() if k in ("member", "status") and v != ""}
    return NoticeQuery().load(given)
