"""The submission message every channel sends to ``station.<code>`` (docs/messages.md)."""

from __future__ import annotations

from datetime import UTC

from marshmallow import Schema, fields, validate

CHANNELS = ("qr", "staff", "phone", "letter", "visit", "open311", "amqp")


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
    description = fields.String(
        required=True,
        validate=validate.Length(
            min=1, max=5000, error="问题描述须为 1–5000 字 / description must be 1-5000 characters"
        ),
    )
    place = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    member = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    submitted_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=UTC)
    contact = fields.Nested(ContactSchema, load_default=None, allow_none=True)


class IssueReceivedSchema(Schema):
    """Payload of ``intake.issue_received``: what routing and reporting need, no personal data."""

    tracking_number = fields.String()
    station = fields.String(attribute="station_code")
    channel = fields.String()
    category = fields.String()
    member = fields.String(attribute="member_code", allow_none=True)
    submitted_at = fields.AwareDateTime()
    received_at = fields.AwareDateTime()
