"""JSON over HTTP: one response helper and one error format for every service.

An error body is always ``{"error": {"code", "message_zh", "message", "fields"}}``; ``fields``
maps each bad field to its messages (Chinese first, English after the slash).
"""

from __future__ import annotations

import json

from werkzeug.wrappers import Response

JSON = "application/json; charset=utf-8"


def json_response(data, status: int = 200) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False, default=str),
        status=status,
        mimetype="application/json",
        content_type=JSON,
    )


class ApiError(Exception):
    """An error the caller can act on; ``status`` is the HTTP status it maps to."""

    status = 400

    def __init__(self, code: str, message_zh: str, message: str, fields=None, status=None):
        super().__init__(message)
        self.code, self.message_zh, self.message = code, message_zh, message
        self.fields = fields or {}
        if status is not None:
            self.status = status

    def response(self) -> Response:
        return json_response(
            {
                "error": {
                    "code": self.code,
                    "message_zh": self.message_zh,
                    "message": self.message,
                    "fields": self.fields,
                }
            },
            self.status,
        )


def not_found(what: str) -> ApiError:
    return ApiError("not_found", f"未找到: {what}", f"not found: {what}", status=404)


def read_json(request) -> dict:
    """The request body as a JSON object, or an ApiError that says why not."""
    try:
        data = json.loads(request.get_data(as_text=True) or "null")
    except ValueError as exc:
        raise ApiError("bad_json", "请求内容不是有效的 JSON", f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError("bad_json", "请求内容必须是 JSON 对象", "body must be a JSON object")
    return data
