"""Typed settings, parsed once when a service starts.

Each service describes what it reads from its section of the deployment file (``SERVICE`` in the
flattened nameko config, see :func:`services.kernel.config.service_config`) as a frozen
dataclass with a ``from_config(config)`` classmethod; the defaults live there and nowhere else.
The nameko class declares ``settings = Settings(TheSettings.from_config)``: the dependency
parses the config once, at container setup (a bad value stops the service at start, not at the
first request), and hands every worker the same object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class KernelSettings:
    """What the kernel's own extensions read from the shared part of the deployment file
    (``retry``, ``consume``, ``outbox``, ``inbox``, ``max_workers``); every default is here."""

    retry_delays_ms: tuple[int, ...] = (1000, 5000, 30000, 120000)
    requeue_delay_s: float = 2.0
    keep_processed_days: float = 30.0
    prefetch: int = 200
    batch_size: int = 100
    ack_delay_ms: float = 20.0
    linger_ms: Mapping[str, float] = field(default_factory=dict)  # queue name → ms
    outbox_poll_interval_s: float = 0.5
    outbox_batch_size: int = 200
    max_workers: int = 10

    @classmethod
    def from_config(cls, config: dict) -> KernelSettings:
        d = cls()
        retry = config.get("retry") or {}
        consume = config.get("consume") or {}
        outbox = config.get("outbox") or {}
        inbox = config.get("inbox") or {}
        return cls(
            retry_delays_ms=tuple(int(ms) for ms in retry.get("delays_ms") or d.retry_delays_ms),
            requeue_delay_s=float(_given(retry, "requeue_delay_s", d.requeue_delay_s)),
            keep_processed_days=float(_given(inbox, "keep_processed_days", d.keep_processed_days)),
            prefetch=int(_given(consume, "prefetch", d.prefetch)),
            batch_size=int(_given(consume, "batch_size", d.batch_size)),
            ack_delay_ms=float(_given(consume, "ack_delay_ms", d.ack_delay_ms)),
            linger_ms={q: float(ms) for q, ms in (consume.get("linger_ms") or {}).items()},
            outbox_poll_interval_s=float(
                _given(outbox, "poll_interval_s", d.outbox_poll_interval_s)
            ),
            outbox_batch_size=int(_given(outbox, "batch_size", d.outbox_batch_size)),
            max_workers=int(_given(config, "max_workers", d.max_workers)),
        )


def _given(section: dict, key: str, default):
    """``section[key]`` unless it is missing or empty (an unset ``${ENV:}``)."""
    value = section.get(key)
    return default if value is None or value == "" else value


def kernel_settings(config: dict) -> KernelSettings:
    """The kernel settings of a (flattened) config; extensions call it once, at setup."""
    return KernelSettings.from_config(config)
