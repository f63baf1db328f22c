"""The last reconciliation (对账), kept with the time it was made.

Reconciliation asks intake and routing for their counts, which takes as long as the slower of
them (up to ``peer_timeout_s`` when one is down). The dashboard never asks: a timer of the
service (:data:`EVERY_S`) and every ``GET /reconciliation`` store their answer here, and the
page shows the last one and its age (docs/statistics.md, "Reconciliation").

One snapshot per service process (a nameko dependency shared by its workers); a process that
has just started has none yet, and the page says so.
"""

from __future__ import annotations

from datetime import UTC, datetime

from nameko.extensions import DependencyProvider

EVERY_S = 60  # how often the timer reconciles
# How soon it tries again when the last answer was not "holds" (a peer not up yet at start,
# or down, or something in flight): the timer's own interval.
RETRY_S = 5


class Snapshot:
    def __init__(self):
        self.result: dict | None = None
        self.at: datetime | None = None

    def store(self, result: dict, at: datetime | None = None) -> None:
        self.result, self.at = result, at or datetime.now(UTC)

    def last(self) -> tuple[dict | None, datetime | None]:
        return self.result, self.at

    def due(self, now: datetime | None = None) -> bool:
        """Whether the timer should reconcile again: never yet, every :data:`EVERY_S`, and
        every :data:`RETRY_S` while the last answer did not hold."""
        if self.at is None:
            return True
        age = ((now or datetime.now(UTC)) - self.at).total_seconds()
        return age >= EVERY_S or (self.result.get("holds") is not True and age >= RETRY_S)


class ReconciliationSnapshot(DependencyProvider):
    def setup(self):
        self.snapshot = Snapshot()

    def get_dependency(self, worker_ctx):
        return self.snapshot
