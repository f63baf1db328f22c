"""What routing does with each event it consumes (``routing.events``): registry announcements
keep its copy of the registry; ``intake.issue_received`` opens a case.

Several routing processes may share the queue: a batch first takes the assignment locks of the
stations it may assign at (``replicas.py``), so assignments at one station are made one after
the other whichever process makes them.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.kernel import copies, logs, sessions
from services.kernel.events import parse_event
from services.routing import opening, registry_copy, replicas
from services.routing.models import CopyRevisions

HANDLERS = {**registry_copy.HANDLERS, "intake.issue_received": opening.on_issue_received}


def handle_event(session: Session, event: dict) -> None:
    logs.bind(
        event_id=str(event["event_id"]), tracking_number=event["payload"].get("tracking_number")
    )
    sessions.on_event(session, event)  # an account's sessions ended early (the registry's)
    handler = HANDLERS.get(event["type"])
    if handler is not None:
        replicas.lock_stations(session, replicas.stations_of([event]))  # held already in a batch
        if event["type"] in registry_copy.HANDLERS:
            copies.bump(session, CopyRevisions, "registry")  # forget what was read of it
        handler(session, event)


def batch_handler(deliveries):
    """The handler of one delivery of the batch ``deliveries``: its transaction's first call
    locks the stations of the whole batch at once (in code order: two batches cannot deadlock),
    then each delivery is handled by :func:`handle_event`."""

    def handle(session: Session, delivery) -> None:
        if not session.info.get("lx_batch_locked"):
            session.info["lx_batch_locked"] = True
            replicas.lock_batch(session, [d.body for d in deliveries])
        handle_event(session, parse_event(delivery.body))

    return handle
