"""JSON over HTTP: one input layer, one response helper and one error format for every service.

An error body is always ``{"error": {"code", "message_zh", "message", "fields"}}``; ``fields``
maps each bad field to its messages (Chinese first, English after the slash).

The input layer (every ``@http`` entrypoint passes through it, via :func:`answering`, which
:func:`services.kernel.auth.guard` and :func:`~services.kernel.auth.public` apply):

- a body is read at most ``max_body`` bytes (:data:`MAX_BODY_BYTES` unless the entrypoint says
  otherwise: an Excel import, say); more answers 413 ``too_large``;
- a JSON body (:func:`read_json`, :func:`decode_json`) is decoded only in a charset of
  :data:`CHARSETS` (UTF-8 when none is named), nested at most :data:`MAX_JSON_DEPTH` levels, with
  no ``NaN``/``Infinity``, and must be an object; else 400 with the reason under ``_body``;
- whole numbers in the address (:func:`int_arg`) are ASCII digits within bounds
  (at most :data:`INT_MAX` unless the caller says less);
- werkzeug's own refusals (a malformed form, say) keep their 4xx status in the one format;
- anything else is our fault: logged with its traceback, answered 500 ``internal`` in the one
  format, with nothing of the exception in the body.
"""

from __future__ import annotations

import codecs
import functools
import json
import logging
import math
import re

from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
"""The default cap of a request body: far above any form or JSON a person sends."""
MAX_JSON_DEPTH = 16
"""The deepest nesting a JSON body may have (our deepest schema needs 3)."""
INT_MAX = 2**31 - 1
"""The largest whole number :func:`int_arg` takes unless told a smaller bound."""
CHARSETS = frozenset({"utf-8", "utf-16", "gbk", "gb2312", "gb18030", "big5", "ascii", "latin-1"})
"""Charsets a body may name (by Python's canonical codec name): the UTF forms and the Chinese
national ones. ``rot13``, ``base64``, ``zlib`` and the like are codecs, not charsets: refused."""

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


WERKZEUG_ZH = {
    404: "找不到这个地址",
    405: "这个地址不接受这种请求方法",
    413: "请求内容过大",
    415: "不支持的内容类型",
}


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
    if isinstance(exc, RequestEntityTooLarge):
        return too_large(MAX_BODY_BYTES)
    if isinstance(exc, HTTPException) and exc.code is not None and 400 <= exc.code < 500:
        zh = WERKZEUG_ZH.get(exc.code, "请求有误")
        return ApiError(
            re.sub(r"\W+", "_", exc.name.lower()).strip("_"),
            zh,
            f"{exc.name.lower()}: {exc.description or exc.name}",
            status=exc.code,
        )
    return None


def answering(fn, page=None, max_body: int | None = None):
    """Wraps an ``@http`` handler in the input layer (module docstring): its body is capped at
    ``max_body`` bytes, and whatever it raises leaves in the one error format, a client's
    mistake as 4xx, our own fault as a logged 500 ``internal``. ``page(err, request, self)``,
    when given, answers a refusal as a page instead of JSON.

    :func:`services.kernel.auth.guard` and :func:`~services.kernel.auth.public` apply it: no
    entrypoint writes its own ``try/except`` for that."""
    cap = MAX_BODY_BYTES if max_body is None else max_body

    @functools.wraps(fn)
    def wrapper(self, request, *args, **kwargs):
        request.max_content_length = cap
        try:
            return fn(self, request, *args, **kwargs)
        except Exception as exc:
            if isinstance(exc, RequestEntityTooLarge):
                err = too_large(request.max_content_length or cap)
            else:
                err = as_api_error(exc)
            if err is None:
                log.exception("%s %s failed", request.method, request.path)
                err = internal()
            return page(err, request, self) if page is not None else err.response()

    return wrapper


def internal() -> ApiError:
    return ApiError(
        "internal",
        "服务内部出错，已记录，请稍后再试",
        "internal error, logged; try again later",
        status=500,
    )


def too_large(limit: int) -> ApiError:
    return ApiError(
        "too_large",
        f"请求内容过大（上限 {limit} 字节）",
        f"request body too large (limit {limit} bytes)",
        fields={"_body": [f"内容过大，上限 {limit} 字节 / body larger than {limit} bytes"]},
        status=413,
    )


def int_arg(value, name: str, default=None, minimum: int = 0, maximum: int | None = None):
    """A whole number from a query argument or a path part, or an ``invalid`` answer naming
    ``name``; ``default`` when it is missing or empty. Only ASCII digits (an optional minus),
    between ``minimum`` and ``maximum`` (:data:`INT_MAX` when not given): ``1e3``, ``abc``,
    ``10^20`` and ``-1`` for a limit are refused, never passed on to SQL."""
    if value is None or value == "":
        return default
    top = INT_MAX if maximum is None else maximum
    text = str(value)
    number = int(text) if re.fullmatch(r"-?[0-9]{1,12}", text) else None
    if number is None or number < minimum or number > top:
        raise invalid({name: [f"应为{minimum}到{top}的整数 / must be an integer {minimum}–{top}"]})
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


def read_json(request, max_depth: int = MAX_JSON_DEPTH) -> dict:
    """The request body as a JSON object (:func:`decode_json`), or an ApiError that says why
    not. The size cap is the entrypoint's (:func:`answering` sets it)."""
    try:
        raw = request.get_data()
    except RequestEntityTooLarge as exc:
        raise too_large(request.max_content_length or MAX_BODY_BYTES) from exc
    data = decode_json(raw, request.content_type, len(raw), max_depth)
    if not isinstance(data, dict):
        raise bad_body("内容必须是 JSON 对象", "body must be a JSON object")
    return data


def bad_body(zh: str, en: str) -> ApiError:
    """A body that is not a JSON object we can read: 400 ``bad_json``, the reason under
    ``_body``."""
    return ApiError(
        "bad_json",
        f"请求内容有误：{zh}",
        f"bad request body: {en}",
        fields={"_body": [f"{zh} / {en}"]},
    )


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a content type (``application/json; charset=gbk`` → gbk)."""
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"').lower()
    return None


def _not_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is out of range")
    return number


# JSON strings (with their escapes), which may hold brackets that nest nothing.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def nesting_depth(raw: bytes | str, stop_above: int | None = None) -> int:
    """How deep the arrays and objects of JSON text nest, read from the text without parsing it
    (iterative: no recursion, whatever the input). Stops counting once past ``stop_above``.

    Runs before ``json.loads``, whose C scanner recurses (a body nested a few thousand levels
    raises ``RecursionError``, which is no ``ValueError``). Text that is not JSON gives some
    number; the parser says what is wrong with it afterwards."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    depth = deepest = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    return deepest
        else:
            depth -= 1
    return deepest


def decode_json(
    raw: bytes,
    content_type: str | None,
    max_bytes: int = MAX_BODY_BYTES,
    max_depth: int = MAX_JSON_DEPTH,
):
    """``raw`` as JSON, decoded in the charset ``content_type`` names (UTF-8 if none); or an
    ApiError with the reason under ``_body``: larger than ``max_bytes`` (413), a charset not in
    :data:`CHARSETS`, bytes not in that charset, not JSON, ``NaN``/``Infinity``, or nested deeper
    than ``max_depth``. HTTP bodies and AMQP messages (intake's station queues) both go
    through here."""

    def refuse(zh: str, en: str):
        return bad_body(zh, en)

    if len(raw) > max_bytes:
        raise too_large(max_bytes)
    named = charset_of(content_type)
    charset = "utf-8"
    if named is not None:
        try:
            charset = codecs.lookup(named).name
        except LookupError:
            charset = None
        if charset not in CHARSETS:
            raise refuse(
                f"未知字符集 {named}（可用 UTF-8、GBK、GB18030 等）",
                f"unknown or unsupported charset {named} (use UTF-8, GBK, GB18030…)",
            )
    try:
        text = raw.decode(charset)
    except UnicodeDecodeError as exc:
        if named is None:
            raise refuse(
                "内容不是 UTF-8，且消息未声明字符集",
                "body is not UTF-8 and names no charset (send 'application/json; charset=gbk')",
            ) from exc
        raise refuse(f"内容不是有效的 {named} 编码", f"body is not valid {named}") from exc
    if nesting_depth(text, stop_above=max_depth) > max_depth:
        raise refuse(
            f"内容嵌套过深（上限 {max_depth} 层）", f"body nested deeper than {max_depth} levels"
        )
    try:
        return json.loads(text or "null", parse_constant=_not_constant, parse_float=_finite)
    except ValueError as exc:
        raise refuse("内容不是有效的 JSON", f"body is not JSON: {exc}") from exc
