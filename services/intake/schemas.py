"""The submission message every channel sends to ``station.<code>`` (docs/messages.md)."""

from __future__ import annotations

from datetime import UTC

from marshmallow import Schema, fields, validate

from services.kernel.http import ApiError
from services.kernel.masking import mask_text

CHANNELS = ("qr", "staff", "phone", "letter", "visit", "open311", "amqp")
DESCRIPTION_MAX = 4000
# One activity: a reception day sees tens of people, a lecture or free clinic a few hundred
# (Lanzhou 2024: 7,600 people over 1,290 reception days). More is a typing slip or worse.
PEOPLE_SERVED_MAX = 2000
MEMBERS_MAX = 50  # members named at one activity
SLOTS = ("am", "pm", "day")  # an activity's time of day: 上午 / 下午 / 全天 (as the rosters)
ISSUES_MAX = 50  # issues raised at one activity, each a station message

# marshmallow's own messages, said in Chinese first (one error format: "中文 / English").
_BILINGUAL = {
    "Missing data for required field.": "缺少必填字段 / missing data for required field",
    "Unknown field.": "未知字段 / unknown field",
    "Field may not be null.": "不能为空 / field may not be null",
    "Not a valid string.": "必须是文本 / not a valid string",
    "Not a valid integer.": "必须是整数 / not a valid integer",
    "Not a valid datetime.": "不是有效的日期时间 / not a valid datetime",
    "Not a valid date.": "不是有效的日期 / not a valid date",
    "Not a valid list.": "必须是列表 / not a valid list",
    "Invalid input type.": "类型不正确 / invalid input type",
    "Invalid value.": "值不正确 / invalid value",
    "Not a valid boolean.": "必须是 true 或 false / not a valid boolean",
    "Not a valid mapping type.": "必须是 JSON 对象 / not a valid mapping type",
}


def description_field() -> fields.String:
    """The citizen's words: required, 1 to DESCRIPTION_MAX characters."""
    return fields.String(
        required=True,
        validate=validate.Length(
            min=1,
            max=DESCRIPTION_MAX,
            error=f"问题描述须为 1–{DESCRIPTION_MAX} 字 / description must be 1-{DESCRIPTION_MAX} characters",
        ),
    )


class Invalid(ApiError):
    """Field errors ("中文 / English") for a request; nothing was stored or sent.

    An ``ApiError``: ``@guard``/``@public`` answer it in the one error format (400, ``fields``)."""

    def __init__(self, errors: dict):
        super().__init__("invalid", "提交的内容有误", "invalid submission", fields=errors)
        self.errors = errors


def bilingual(errors):
    """marshmallow's error messages, each turned into the one "中文 / English" form."""
    if isinstance(errors, dict):
        return {k: bilingual(v) for k, v in errors.items()}
    if isinstance(errors, list):
        return [bilingual(e) for e in errors]
    if isinstance(errors, str):
        if errors in _BILINGUAL:
            return _BILINGUAL[errors]
        if "/" not in errors:
            return f"格式不正确 / {errors}"
    return errors


class ContactSchema(Schema):
    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    phone = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(
            r"^\+?[0-9][0-9 -]{5,19}$", error="电话格式不正确 / invalid phone number"
        ),
    )


class SubmissionSchema(Schema):
    submission_id = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[A-Za-z0-9._:-]{8,64}$",
            error="须为 8–64 位字母、数字或 ._:- / 8-64 letters, digits or ._:-",
        ),
    )
    station = fields.String(required=True, validate=validate.Length(min=1, max=40))
    channel = fields.String(
        load_default="amqp",
        validate=validate.OneOf(
            CHANNELS, error="渠道必须是以下之一 / channel must be one of: {choices}"
        ),
    )
    category = fields.String(required=True, validate=validate.Length(min=1, max=40))
    description = description_field()
    place = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    member = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    studio = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    activity = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    submitted_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=UTC)
    contact = fields.Nested(ContactSchema, load_default=None, allow_none=True)
    # "是否与以下问题相同?": the tracking number of the open case the citizen chose as the same
    same_as = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))


def _masked(attribute: str) -> fields.Function:
    """A free-text field of the issue, with the phone and identity numbers typed into it masked
    (``kernel.masking.mask_text``): the words travel with the case, the numbers do not."""
    return fields.Function(lambda issue: mask_text(getattr(issue, attribute, None)))


class IssueReceivedSchema(Schema):
    """Payload of ``intake.issue_received``: what routing and reporting need, no personal data.

    ``description`` and ``place`` are the citizen's words, masked (the member reads them on the
    duty card); the contact never leaves intake. Events before them lack both: readers take
    them as optional."""

    tracking_number = fields.String()
    station = fields.String(attribute="station_code")
    channel = fields.String()
    category = fields.String()
    member = fields.String(attribute="member_code", allow_none=True)
    submitted_at = fields.AwareDateTime()
    received_at = fields.AwareDateTime()
    same_as = fields.String(allow_none=True)
    description = _masked("description")
    place = _masked("place")
    photos = fields.Integer()  # how many photos the citizen attached; absent when none


ACTIVITY_KINDS = {
    "reception_day": ("委员接待日", "reception day"),
    "living_room": ("委员会客厅", "member living room"),
    "consultation": ("协商议事", "consultation meeting"),
    "visit": ("走访", "visit"),
    "free_clinic": ("义诊", "free clinic"),
    "lecture": ("讲座", "lecture"),
    "other": ("其他", "other"),
}


class ActivityIssueSchema(Schema):
    """An issue raised at an activity; it goes to the station's queue like any other."""

    category = fields.String(required=True, validate=validate.Length(min=1, max=40))
    description = description_field()
    place = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    member = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    contact = fields.Nested(ContactSchema, load_default=None, allow_none=True)


class ActivitySchema(Schema):
    """A duty activity staff record (POST /staff/activities)."""

    activity_id = fields.String(
        load_default=None,
        validate=validate.Regexp(
            r"^[A-Za-z0-9._:-]{8,64}$",
            error="须为 8–64 位字母、数字或 ._:- / 8-64 letters, digits or ._:-",
        ),
    )
    kind = fields.String(
        required=True,
        validate=validate.OneOf(
            list(ACTIVITY_KINDS), error="活动类型必须是以下之一 / kind must be one of: {choices}"
        ),
    )
    station = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    studio = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    date = fields.Date(required=True)
    slot = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(
            list(SLOTS), error="时段必须是以下之一 / slot must be one of: {choices}"
        ),
    )
    members = fields.List(
        fields.String(validate=validate.Length(min=1, max=40)),
        load_default=list,
        validate=validate.Length(
            max=MEMBERS_MAX,
            error=f"至多 {MEMBERS_MAX} 位委员 / at most {MEMBERS_MAX} members",
        ),
    )
    people_served = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(
            min=0,
            max=PEOPLE_SERVED_MAX,
            error=f"服务人数须为 0–{PEOPLE_SERVED_MAX} / people_served must be 0-{PEOPLE_SERVED_MAX}",
        ),
    )
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    issues = fields.List(
        fields.Nested(ActivityIssueSchema),
        load_default=list,
        validate=validate.Length(
            max=ISSUES_MAX, error=f"至多 {ISSUES_MAX} 个问题 / at most {ISSUES_MAX} issues"
        ),
    )


class ActivityRecordedSchema(Schema):
    """Payload of ``intake.activity_recorded`` (reporting counts it): no personal data."""

    activity_id = fields.String()
    kind = fields.String()
    station = fields.String(allow_none=True)
    studio = fields.String(allow_none=True)
    date = fields.Date()
    slot = fields.String(allow_none=True)  # am / pm / day, or None (older senders)
    members = fields.List(fields.String())
    people_served = fields.Integer()
    issues_raised = fields.Integer()
    recorded_at = fields.AwareDateTime()
