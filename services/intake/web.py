"""HTTP helpers of intake's channels: HTML answers, capped and charset-aware JSON bodies,
Open311's formats; errors in the kernel's one format (``services.kernel.http.ApiError``)."""

from __future__ import annotations

from urllib.parse import quote

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from services.intake import intake, open311, qr_page
from services.kernel import auth
from services.kernel.http import ApiError, json_response


def html_response(text: str, status: int = 200) -> Response:
    return Response(text, status=status, content_type="text/html; charset=utf-8")


def too_large() -> ApiError:
    return ApiError(
        "too_large",
        f"请求内容过大（上限 {intake.MAX_BODY_BYTES} 字节）",
        f"request body too large (limit {intake.MAX_BODY_BYTES} bytes)",
        status=413,
    )


def too_large_page(request) -> Response:
    """413 for a browser: a page that says so (the form posts, the status page actions)."""
    lang = qr_page.language(request.args.get("lang"))
    text = qr_page.TEXT[lang]["too_large"] + f" ({intake.MAX_BODY_BYTES // 1024} KB)"
    return html_response(qr_page.render("message.html", lang, message=text, switch_url="?"), 413)


def set_csrf_cookie(response: Response, request, value: str) -> None:
    """The browser's half of the CSRF pair (``auth.csrf_pair``): script cannot read it."""
    response.set_cookie(
        auth.CSRF_COOKIE,
        value,
        httponly=True,
        samesite="Lax",
        secure=request.scheme == "https",
        path="/",
    )


def read_body(request) -> dict:
    """A JSON request body, decoded by its declared charset, capped in size; or an ApiError."""
    request.max_content_length = intake.MAX_BODY_BYTES
    try:
        raw = request.get_data()
    except RequestEntityTooLarge as exc:
        raise too_large() from exc
    data, errors = intake.decode_body(raw, request.content_type)
    if errors is None and not isinstance(data, dict):
        errors = {"_body": ["内容必须是 JSON 对象 / body must be a JSON object"]}
    if errors is not None:
        raise invalid(errors)
    return data


def open311_response(kind: str, data, fmt: str, status: int = 200) -> Response:
    if fmt == "xml":
        return Response(
            open311.to_xml(kind, data), status=status, content_type="text/xml; charset=utf-8"
        )
    return json_response(data, status)


def invalid(errors: dict) -> ApiError:
    return ApiError("invalid", "提交的内容有误", "invalid submission", fields=errors)


def switch_url(request, lang: str) -> str:
    """The same page in the other language."""
    args = request.args.to_dict()
    args["lang"] = "zh" if lang == "en" else "en"
    return request.path + "?" + "&".join(f"{k}={quote(v)}" for k, v in args.items())


def not_queued(note: str | None = None) -> ApiError:
    """503: the broker did not take the submission; nothing was queued, send it again."""
    fields = {"_body": [note]} if note else {}
    return ApiError(
        "not_queued",
        "暂时无法受理，请稍后重新提交",
        "could not queue the submission right now; please send it again",
        fields=fields,
        status=503,
    )
