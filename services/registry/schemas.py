"""What the registry accepts and what its events carry (plain JSON).

Every text field has a length cap and refuses control characters; every list a length cap;
every date lies in 2000–2100 (docs/security.md, "Registry inputs and sign-out"). A value of the
wrong type (a list where text is expected, text where a number is) is a field error.
"""

from __future__ import annotations

import re
from datetime import date

from marshmallow import Schema as BaseSchema
from marshmallow import ValidationError, fields, validate, validates_schema

from services.registry.args import FIRST_YEAR, LAST_YEAR, plain_text

DISTRICTS = (
    "城关区",
    "七里河区",
    "西固区",
    "安宁区",
    "红古区",
    "永登县",
    "皋兰县",
    "榆中县",
    "兰州新区",
)
STATION_KINDS = ("street", "township", "community", "enterprise", "park")
STATION_KIND_NAMES = {
    "street": "街道",
    "township": "乡镇",
    "community": "社区",
    "enterprise": "企业",
    "park": "园区",
}
LEVELS = ("national", "provincial", "municipal", "county")  # 全国 / 省 / 市 / 县区
LEVEL_NAMES = {"national": "全国", "provincial": "省", "municipal": "市", "county": "县区"}
ROLES = ("lead", "member")
ROLE_NAMES = {"lead": "负责人", "member": "成员"}
SLOTS = ("am", "pm", "day")  # 上午 / 下午 / 全天
SLOT_NAMES = {"am": "上午", "pm": "下午", "day": "全天"}

INVALID = "格式不正确 / invalid"
CODE = validate.Regexp(
    r"^[a-z0-9][a-z0-9-]{0,39}\Z",
    error="只能用小写字母、数字和连字符 / lowercase letters, digits and '-' only",
)
# A mainland mobile number, or a landline with its area code (0931 is Lanzhou's).
PHONE = validate.Regexp(r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})?\Z", error=INVALID)  # or empty
TERM = validate.Regexp(r"^([0-9]{4}-[0-9]{4})?\Z", error="应为 起始年-结束年 / must be YYYY-YYYY")
# How many of each a record may list: far above any real one, low enough to bound the work.
MAX_PLACES = 50  # stations or studios a member serves at; sectors of a studio
MAX_EXPERTISE = 20
MAX_ON_DUTY = 50  # members on duty at one place on one day
DATES = validate.Range(
    min=date(FIRST_YEAR, 1, 1),
    max=date(LAST_YEAR, 12, 31),
    error=f"应在{FIRST_YEAR}–{LAST_YEAR}年之间 / must lie in {FIRST_YEAR}–{LAST_YEAR}",
)


def text(maximum: int, minimum: int = 0):
    """A length cap (and a floor) and no control characters."""
    return [validate.Length(min=minimum, max=maximum), plain_text]


def at_most(n: int, minimum: int = 0, error: str | None = None):
    return validate.Length(min=minimum, max=n, error=error or f"最多{n}项 / at most {n} items")


# marshmallow's own messages, said in Chinese first (the one error format's rule)
BILINGUAL = {
    "Missing data for required field.": "必填 / required",
    "Field may not be null.": "不能为空 / may not be null",
    "Invalid value.": "无效 / invalid",
    "Not a valid string.": "应为文本 / must be a string",
    "Not a valid utf-8 string.": "应为文本 / must be a string",
    "Not a valid list.": "应为列表 / must be a list",
    "Not a valid boolean.": "应为 true 或 false / must be true or false",
    "Not a valid date.": "日期无效 / not a date",
    "Invalid type.": "应为对象 / must be an object",
    "Invalid input type.": "应为对象 / must be an object",
    "Unknown field.": "未知字段 / unknown field",
}
LENGTHS = (
    (re.compile(r"Shorter than minimum length (\d+)\."), "长度至少为{0} / length at least {0}"),
    (re.compile(r"Longer than maximum length (\d+)\."), "长度最多为{0} / length at most {0}"),
    (
        re.compile(r"Length must be between (\d+) and (\d+)\."),
        "长度应为{0}到{1} / length {0} to {1}",
    ),
)


def bilingual(messages):
    """``messages`` (a ValidationError's, nested as they come) with marshmallow's English
    defaults said in Chinese and English; the registry's own messages are left as they are."""
    if isinstance(messages, dict):
        return {key: bilingual(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [bilingual(m) for m in messages]
    if not isinstance(messages, str) or " / " in messages:
        return messages
    if messages in BILINGUAL:
        return BILINGUAL[messages]
    for pattern, said in LENGTHS:
        found = pattern.fullmatch(messages)
        if found:
            return said.format(*found.groups())
    return f"无效 / {messages}"


class Schema(BaseSchema):
    """The registry's schemas: every refusal in Chinese and English."""

    def handle_error(self, error, data, *, many, **kwargs):
        raise ValidationError(bilingual(error.messages), data=data, valid_data=error.valid_data)


NOT_A_NUMBER = {"invalid": "应为数字 / must be a number", "special": "应为数字 / must be a number"}


def coordinate(low: float, high: float, name: str):
    """A WGS-84 latitude or longitude in decimal degrees, or null (not placed yet)."""
    return fields.Float(
        load_default=None,
        allow_none=True,
        error_messages=NOT_A_NUMBER,
        validate=validate.Range(
            min=low, max=high, error=f"{name}应在{low}到{high}之间 / must lie in {low} to {high}"
        ),
    )


class Placed(Schema):
    """``lat`` and ``lng`` (WGS-84, as a phone's GPS gives them): both or neither."""

    lat = coordinate(-90, 90, "纬度")
    lng = coordinate(-180, 180, "经度")

    @validates_schema
    def _both_or_neither(self, data, **kwargs):
        lat, lng = data.get("lat"), data.get("lng")
        if (lat is None) != (lng is None):
            missing = "lng" if lng is None else "lat"
            raise ValidationError(
                "纬度和经度须同时填写或同时留空 / give both lat and lng, or neither", missing
            )


def one_of(choices):
    return validate.OneOf(choices, error="必须是以下之一 / must be one of: {choices}")


class SectorSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=text(100, 1))


class StationSchema(Placed):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=text(200, 1))
    district = fields.String(required=True, validate=one_of(DISTRICTS))
    kind = fields.String(required=True, validate=one_of(STATION_KINDS))
    street = fields.String(load_default="", validate=text(100))
    active = fields.Boolean(load_default=True)


class StudioSchema(Placed):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=text(200, 1))
    district = fields.String(required=True, validate=one_of(DISTRICTS))
    location = fields.String(load_default="", validate=text(200))
    sectors = fields.List(
        fields.String(validate=CODE),
        required=True,
        validate=at_most(MAX_PLACES, 1, f"1到{MAX_PLACES}个界别 / 1 to {MAX_PLACES} sectors"),
    )
    active = fields.Boolean(load_default=True)


class MembershipSchema(Schema):
    station = fields.String(required=True, validate=CODE)
    role = fields.String(load_default="member", validate=one_of(ROLES))


class StudioMembershipSchema(Schema):
    studio = fields.String(required=True, validate=CODE)
    role = fields.String(load_default="member", validate=one_of(ROLES))


class MemberSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=text(100, 1))
    level = fields.String(required=True, validate=one_of(LEVELS))
    sector = fields.String(required=True, validate=CODE)
    district = fields.String(required=True, validate=one_of(DISTRICTS))
    phone = fields.String(load_default="", validate=PHONE)
    expertise = fields.List(
        fields.String(validate=text(40, 1)), load_default=list, validate=at_most(MAX_EXPERTISE)
    )
    term = fields.String(load_default="", validate=TERM)
    active = fields.Boolean(load_default=True)
    stations = fields.List(
        fields.Nested(MembershipSchema), load_default=list, validate=at_most(MAX_PLACES)
    )
    studios = fields.List(
        fields.Nested(StudioMembershipSchema), load_default=list, validate=at_most(MAX_PLACES)
    )


class RosterSchema(Schema):
    """A reception duty at exactly one place: a station or a studio."""

    date = fields.Date(
        required=True, validate=DATES, error_messages={"invalid": "日期无效 / not a date"}
    )
    slot = fields.String(load_default="am", validate=one_of(SLOTS))
    station = fields.String(load_default=None, allow_none=True, validate=CODE)
    studio = fields.String(load_default=None, allow_none=True, validate=CODE)
    members = fields.List(
        fields.String(validate=CODE), load_default=list, validate=at_most(MAX_ON_DUTY)
    )
    active = fields.Boolean(load_default=True)

    @validates_schema
    def _one_place(self, data, **kwargs):
        if bool(data.get("station")) == bool(data.get("studio")):
            raise ValidationError(
                "工作站和工作室须填且只填一个 / give exactly one of station or studio", "station"
            )
