"""The registry's settings, parsed once when the service starts (``kernel.settings.Settings``).

Every default is here (the throttle's in :class:`~services.registry.throttle.Throttle`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.kernel import auth
from services.registry.throttle import Throttle


@dataclass(frozen=True)
class RegistrySettings:
    intake_url: str = ""  # public_urls.intake: where the QR codes point
    routing_url: str = ""  # public_urls.routing: the duty pages people land on
    reporting_url: str = ""  # public_urls.reporting: the office's dashboard
    throttle: Throttle = field(default_factory=Throttle)
    session_s: int = 8 * 3600  # the session cookie's life (security.session_hours, as tokens)
    secure_cookies: bool = False  # security.secure_cookies: cookies only over HTTPS

    @classmethod
    def from_config(cls, config: dict) -> RegistrySettings:
        security = auth.security(config)
        limits = Throttle()
        return cls(
            intake_url=auth.public_url(config, "intake"),
            routing_url=auth.public_url(config, "routing"),
            reporting_url=auth.public_url(config, "reporting"),
            session_s=auth.session_seconds(config),
            secure_cookies=bool(security.get("secure_cookies")),
            throttle=Throttle(
                int(security.get("sign_in_max_failures", limits.max_failures)),
                int(
                    security.get(
                        "sign_in_max_failures_per_address", limits.max_failures_per_address
                    )
                ),
                int(security.get("sign_in_window_s", limits.window_s)),
            ),
        )
