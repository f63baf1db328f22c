"""Routing's settings, typed, with every default in one place; parsed once at start.

``RoutingSettings.from_config(config)`` reads the service's section (``SERVICE`` in the
flattened nameko config) of the deployment file; the service class declares
``settings = Settings(RoutingSettings.from_config)`` (:mod:`services.kernel.settings`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from services.kernel import backdating
from services.kernel.delivery import DeliverySettings


@dataclass(frozen=True)
class NotifySettings(DeliverySettings):
    """How notices reach members (``services.routing.notify``): the kernel's delivery settings
    (SMTP, an SMS/WeChat gateway, the retries), and the hour of the daily digest."""

    digest_hour: int = 8

    @classmethod
    def from_section(cls, section: dict | None) -> NotifySettings:
        """From the ``notify`` section; an empty value (``${SMTP_HOST:}``) is the default."""
        delivery = DeliverySettings.from_section(section)
        hour = (section or {}).get("digest_hour")
        return cls(
            **{f.name: getattr(delivery, f.name) for f in fields(DeliverySettings)},
            digest_hour=int(hour) if hour not in (None, "") else cls.digest_hour,
        )


@dataclass(frozen=True)
class RoutingSettings:
    reopen_window_days: int = 15  # a citizen may reopen a resolved or closed case this long
    reopen_on_unsatisfied: bool = True  # a 不满意 rating reopens the case
    due_soon_hours: float = 24  # yellow when a deadline is this close
    deadline_check_s: float = 60  # how often the deadline check runs
    notify_interval_s: float = 5  # how often due notices are sent
    notify: NotifySettings = field(default_factory=NotifySettings)
    # the office may date an action in the past (``at``): operator-only, a replay deployment's
    # (``security.backdating``; services/kernel/backdating.py)
    backdating: bool = False

    @classmethod
    def from_config(cls, config: dict) -> RoutingSettings:
        """From the flattened nameko config (its ``SERVICE`` section; ``security.backdating``)."""
        return replace(
            cls.from_section(config.get("SERVICE")), backdating=backdating.enabled(config)
        )

    @classmethod
    def from_section(cls, section: dict | None) -> RoutingSettings:
        s, d = section or {}, cls()
        return cls(
            int(s.get("reopen_window_days", d.reopen_window_days)),
            bool(s.get("reopen_on_unsatisfied", d.reopen_on_unsatisfied)),
            float(s.get("due_soon_hours", d.due_soon_hours)),
            float(s.get("deadline_check_s", d.deadline_check_s)),
            float(s.get("notify_interval_s", d.notify_interval_s)),
            NotifySettings.from_section(s.get("notify")),
        )
