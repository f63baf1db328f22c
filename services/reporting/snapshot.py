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


class Snapshot:
    def __init__(self):
        self.result: dict | None = None
        self.at: datetime | None = None

    def store(self, result: dict, at: datetime | None = None) -> None:
        self.result, self.at = result, at or datetime.now(UTC)

    def last(self) -> tuple[dict | None, datetime | None]:
        return self.result, self.at


class ReconciliationSnapshot(DependencyProvider):
    def setup(self):
        self.snapshot = Snapshot()

    def get_dependency(self, worker_ctx):
        return self.snapshot
