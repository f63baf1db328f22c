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


def invalid(messages: dict) -> ApiError:
    """A field-level refusal: ``messages`` maps each bad field to its messages."""
    return ApiError(
        "invalid", "输入有误，请检查标出的字段", "invalid input, see fields", fields=messages
    )


def as_api_error(exc: Exception) -> ApiError | None:
    """The one error format for what a client got wrong, or None for a fault of ours.

    An :class:`ApiError` (a service's own refusals subclass it) is itself; marshmallow's
    ``ValidationError`` is an ``invalid`` answer with its fields. Anything else is not the
    client's mistake and is left to raise (a 500 and a log line)."""
    from marshmallow import ValidationError

    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ValidationError):
        messages = exc.messages if isinstance(exc.messages, dict) else {"_body": exc.messages}
        return invalid(messages)
    return None


def answering(fn):
    """Wraps an ``@http`` handler so that a client's mistake leaves in the one error format.

    :func:`services.kernel.auth.guard` and :func:`~services.kernel.auth.public` apply it: no
    entrypoint writes its own ``try/except`` for that."""
    import functools

    @functools.wraps(fn)
    def wrapper(self, request, *args, **kwargs):
        try:
            return fn(self, request, *args, **kwargs)
        except Exception as exc:
            err = as_api_error(exc)
            if err is None:
                raise
            return err.response()

    return wrapper


def int_arg(value, name: str, default=None, minimum: int = 0, maximum: int | None = None):
    """A whole number from a query argument or a path part, or an ``invalid`` answer naming
    ``name``; ``default`` when it is missing or empty."""
    if value is None or value == "":
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        number = None
    if number is None or number < minimum or (maximum is not None and number > maximum):
        bound = f"{minimum}–{maximum}" if maximum is not None else f"≥ {minimum}"
        zh = f"{minimum}到{maximum}" if maximum is not None else f"不小于{minimum}"
        raise invalid({name: [f"应为{zh}的整数 / must be an integer {bound}"]})
    return number


def flag_arg(value, name: str) -> bool | None:
    """``true``/``false`` (or 1/0, yes/no) from a query argument; None when missing."""
    if value is None or value == "":
        return None
    if str(value).lower() in ("1", "true", "yes"):
        return True
    if str(value).lower() in ("0", "false", "no"):
        return False
    raise invalid({name: ["应为 true 或 false / must be true or false"]})


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
