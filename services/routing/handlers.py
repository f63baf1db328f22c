"""What routing does with each event it consumes (``routing.events``): registry announcements
keep its copy of the registry; ``intake.issue_received`` opens a case."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.kernel import copies, logs, sessions
from services.routing import opening, registry_copy
from services.routing.models import CopyRevisions

HANDLERS = {**registry_copy.HANDLERS, "intake.issue_received": opening.on_issue_received}


def handle_event(session: Session, event: dict) -> None:
    logs.bind(
        event_id=str(event["event_id"]), tracking_number=event["payload"].get("tracking_number")
    )
    sessions.on_event(session, event)  # an account's sessions ended early (the registry's)
    handler = HANDLERS.get(event["type"])
    if handler is not None:
        if event["type"] in registry_copy.HANDLERS:
            copies.bump(session, CopyRevisions, "registry")  # forget what was read of it
        handler(session, event)
