"""What the registry accepts and what its events carry (plain JSON)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

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
LEVELS = ("national", "provincial", "municipal", "county")  # 全国 / 省 / 市 / 县区
ROLES = ("lead", "member")

CODE = validate.Regexp(
    r"^[a-z0-9][a-z0-9-]{0,39}$",
    error="只能用小写字母、数字和连字符 / lowercase letters, digits and '-' only",
)


def one_of(choices):
    return validate.OneOf(choices, error="必须是以下之一 / must be one of: {choices}")


class SectorSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class StationSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    district = fields.String(required=True, validate=one_of(DISTRICTS))
    kind = fields.String(required=True, validate=one_of(STATION_KINDS))
    active = fields.Boolean(load_default=True)


class MembershipSchema(Schema):
    station = fields.String(required=True, validate=CODE)
    role = fields.String(load_default="member", validate=one_of(ROLES))


class MemberSchema(Schema):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    level = fields.String(required=True, validate=one_of(LEVELS))
    sector = fields.String(required=True, validate=CODE)
    district = fields.String(required=True, validate=one_of(DISTRICTS))
    active = fields.Boolean(load_default=True)
    stations = fields.List(fields.Nested(MembershipSchema), load_default=list)
