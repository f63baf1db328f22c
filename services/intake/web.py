"""HTTP helpers of intake's JSON channels: bodies capped at intake's size and read by the kernel's
input layer; errors in the kernel's one format (``services.kernel.http.ApiError``)."""

from __future__ import annotations

from services.intake import intake
from services.kernel import http


def read_body(request) -> dict:
    """A JSON request body through the kernel's input layer (:func:`http.read_json`: charset,
    depth, an object), capped at intake's :data:`intake.MAX_BODY_BYTES` as on the queue."""
    request.max_content_length = intake.MAX_BODY_BYTES
    return http.read_json(request)
