"""Typed settings, parsed once when a service starts.

Each service describes what it reads from its section of the deployment file (``SERVICE`` in the
flattened nameko config, see :func:`services.kernel.config.service_config`) as a frozen
dataclass with a ``from_config(config)`` classmethod; the defaults live there and nowhere else.
The nameko class declares ``settings = Settings(TheSettings.from_config)``: the dependency
parses the config once, at container setup (a bad value stops the service at start, not at the
first request), and hands every worker the same object.
"""

from __future__ import annotations

from collections.abc import Callable

from nameko.extensions import DependencyProvider


class Settings(DependencyProvider):
    """Injects the settings ``parse(container.config)`` made once at setup."""

    def __init__(self, parse: Callable[[dict], object]):
        self.parse = parse
        self.value = None

    def setup(self):
        self.value = self.parse(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.value
