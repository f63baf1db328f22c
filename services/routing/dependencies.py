"""Routing's nameko extensions beside the kernel's: the catalogue announced at start, and
timers whose interval is a setting."""

from __future__ import annotations

from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from services.kernel.db import SharedEngine
from services.routing import catalogue, replicas
from services.routing.settings import RoutingSettings


class CatalogueAnnouncer(DependencyProvider):
    """At start, announces the dispatch catalogue if its content changed since last time."""

    db = SharedEngine()

    def start(self):
        with self.db.transaction() as session:
            replicas.wait_turn(session, "catalogue")  # another replica may be announcing it
            catalogue.publish(session)

    def get_dependency(self, worker_ctx):
        return None


class ConfiguredTimer(Timer):
    """A nameko timer whose interval is the ``RoutingSettings`` field ``key``."""

    def __init__(self, key: str, **kwargs):
        self.key = key
        super().__init__(interval=getattr(RoutingSettings(), key), **kwargs)

    def setup(self):
        self.interval = getattr(RoutingSettings.from_config(self.container.config), self.key)
