"""Routing's settings, typed, with every default in one place; parsed once at start.

``RoutingSettings.from_config(config)`` reads the service's section (``SERVICE`` in the
flattened nameko config) of the deployment file; the service class declares
``settings = Settings(RoutingSettings.from_config)`` (:mod:`services.kernel.settings`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NotifySettings:
    """How notices reach members (``services.routing.notify``): SMTP, an SMS/WeChat gateway."""

    smtp_host: str | None = None
    smtp_port: int = 25
    sender: str = "lianxin@localhost"
    gateway_url: str | None = None
    gateway_token: str | None = None
    retry_s: tuple[int, ...] = (10, 60, 300, 1800)
    digest_hour: int = 8
    timeout_s: float = 10

    @classmethod
    def from_section(cls, section: dict | None) -> NotifySettings:
        """From the ``notify`` section; an empty value (``${SMTP_HOST:}``) is the default."""
        s = {k: v for k, v in (section or {}).items() if v not in (None, "", [], ())}
        d = cls()
        return cls(
            s.get("smtp_host", d.smtp_host),
            int(s.get("smtp_port", d.smtp_port)),
            s.get("sender", d.sender),
            s.get("gateway_url", d.gateway_url),
            s.get("gateway_token", d.gateway_token),
            tuple(int(x) for x in s.get("retry_s", d.retry_s)),
            int(s.get("digest_hour", d.digest_hour)),
            float(s.get("timeout_s", d.timeout_s)),
        )


@dataclass(frozen=True)
class RoutingSettings:
    reopen_window_days: int = 15  # a citizen may reopen a resolved or closed case this long
    reopen_on_unsatisfied: bool = True  # a 不满意 rating reopens the case
    due_soon_hours: float = 24  # yellow when a deadline is this close
    deadline_check_s: float = 60  # how often the deadline check runs
    notify_interval_s: float = 5  # how often due notices are sent
    notify: NotifySettings = field(default_factory=NotifySettings)

    @classmethod
    def from_config(cls, config: dict) -> RoutingSettings:
        """From the flattened nameko config (its ``SERVICE`` section)."""
        return cls.from_section(config.get("SERVICE"))

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
