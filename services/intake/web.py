"""HTTP helpers of intake's JSON channels: capped and charset-aware bodies, and the answer to a
submission staff sent; errors in the kernel's one format (``services.kernel.http.ApiError``)."""

from __future__ import annotations

from services.intake import duplicates, intake
from services.intake.schemas import Invalid
from services.kernel import http
from services.kernel.http import json_response


def read_body(request) -> dict:
    """A JSON request body through the kernel's input layer (:func:`http.read_json`: charset,
    depth, an object), capped at intake's :data:`intake.MAX_BODY_BYTES` as on the queue."""
    request.max_content_length = intake.MAX_BODY_BYTES
    return http.read_json(request)


def submission_answer(db, result: dict):
    """What staff get for a submission: 201 with the tracking number and the open cases it may
    be the same problem as, 202 while the station's worker has not answered, 400 if rejected."""
    if result["status"] == "rejected":
        raise Invalid(result["errors"])
    if result.get("tracking_number"):
        with db.transaction() as session:
            result["similar"] = duplicates.for_staff(session, result["tracking_number"])
    return json_response(result, 202 if result["status"] == "pending" else 201)
