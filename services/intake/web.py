"""HTTP helpers of intake's JSON channels: capped and charset-aware bodies, and the answer to a
submission staff sent; errors in the kernel's one format (``services.kernel.http.ApiError``)."""

from __future__ import annotations

from werkzeug.exceptions import RequestEntityTooLarge

from services.intake import duplicates, intake
from services.intake.schemas import Invalid
from services.kernel.http import ApiError, json_response


def too_large() -> ApiError:
    return ApiError(
        "too_large",
        f"请求内容过大（上限 {intake.MAX_BODY_BYTES} 字节）",
        f"request body too large (limit {intake.MAX_BODY_BYTES} bytes)",
        status=413,
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
        raise Invalid(errors)
    return data


def submission_answer(db, result: dict):
    """What staff get for a submission: 201 with the tracking number and the open cases it may
    be the same problem as, 202 while the station's worker has not answered, 400 if rejected."""
    if result["status"] == "rejected":
        raise Invalid(result["errors"])
    if result.get("tracking_number"):
        with db.transaction() as session:
            result["similar"] = duplicates.for_staff(session, result["tracking_number"])
    return json_response(result, 202 if result["status"] == "pending" else 201)
