"""The one event envelope every service publishes and consumes.

``{"event_id": UUID, "type": "intake.issue_received", "occurred_at": ISO 8601 UTC,
"version": 1, "source": "intake", "payload": {...}}``; the payload holds plain JSON types only
(a service dumps it through its own marshmallow schema first), so any consumer can read it
without kombu's type tags.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from marshmallow import Schema, ValidationError, fields, validate

EVENT_TYPE = validate.Regexp(
    r"^[a-z]+\.[a-z][a-z0-9_]*$", error="must look like 'service.event_name' / 格式应为 服务.事件名"
)


class EnvelopeSchema(Schema):
    event_id = fields.UUID(required=True)
    type = fields.String(required=True, validate=EVENT_TYPE)
    occurred_at = fields.AwareDateTime(required=True, default_timezone=UTC)
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    source = fields.String(required=True)
    payload = fields.Dict(required=True)


_schema = EnvelopeSchema()


def new_event(
    event_type: str,
    payload: dict,
    source: str,
    version: int = 1,
    occurred_at: datetime | None = None,
) -> dict:
    """Build an envelope as plain JSON types; refuses a payload that JSON cannot carry."""
    json.dumps(payload)  # raises TypeError on datetimes, UUIDs, Decimals...
    envelope = {
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "occurred_at": (occurred_at or datetime.now(UTC)).astimezone(UTC).isoformat(),
        "version": version,
        "source": source,
        "payload": payload,
    }
    errors = _schema.validate(envelope)
    if errors:
        raise ValidationError(errors)
    return envelope


def parse_event(body: bytes | str | dict) -> dict:
    """Load and validate an envelope; raises ``marshmallow.ValidationError`` field by field."""
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError as exc:
            raise ValidationError({"_body": [f"not JSON / 不是有效的 JSON: {exc}"]}) from exc
    if not isinstance(body, dict):
        raise ValidationError({"_body": ["must be a JSON object / 必须是 JSON 对象"]})
    return _schema.load(body)
