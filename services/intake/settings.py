"""Intake's settings (its section of the deployment file), parsed once at start.

Every default intake falls back to lives here and nowhere else (``deploy/config/*.yaml`` name
the same ones). The nameko class declares ``settings = Settings(IntakeSettings.from_config)``
(``services.kernel.settings``): a bad value stops the service at start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from services.intake.stations import StationSelection, station_selection
from services.kernel.delivery import DeliverySettings

# Public forms (QR form, Open311 POST): submissions per client address, per QR code and per
# Open311 api_key in the window (services/intake/throttle.py).
DEFAULT_LIMITS = MappingProxyType(
    {
        "limit_window_s": 600,
        "limit_per_address": 20,
        "limit_per_code": 300,
        "limit_per_api_key": 3000,
    }
)
# How long an HTTP channel waits for the station's intake worker before answering "received".
DEFAULT_WAIT_S = 5.0
# Notices to citizens wait for the end of these hours (Beijing time, services/intake/notices.py);
# ``notice_quiet_hours: none`` sends at any hour.
DEFAULT_QUIET = ("21:00", "08:00")
_HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


def quiet_hours(value) -> tuple[str, str] | None:
    """``"21:00-08:00"`` → ("21:00", "08:00"); empty → the default; ``none`` → None."""
    text = str(value or "").strip()
    if not text:
        return DEFAULT_QUIET
    if text.lower() == "none":
        return None
    if not _HOURS.match(text):
        raise ValueError(f"notice_quiet_hours must be HH:MM-HH:MM or none, not {text!r}")
    start, end = text.split("-")
    return start, end


@dataclass(frozen=True)
class IntakeSettings:
    stations: StationSelection = field(default_factory=StationSelection)
    http_wait_s: float = DEFAULT_WAIT_S
    open311_api_keys: frozenset[str] = frozenset()
    limits: Mapping[str, int] = field(default_factory=lambda: DEFAULT_LIMITS)
    # notices to citizens: the channels (the same ``notify`` names as routing's), quiet hours
    notify: DeliverySettings = field(default_factory=DeliverySettings)
    notice_quiet: tuple[str, str] | None = DEFAULT_QUIET

    @classmethod
    def from_config(cls, config: dict) -> IntakeSettings:
        """From the flattened nameko config (intake's own section is ``SERVICE``)."""
        own = config.get("SERVICE") or {}
        wait = own.get("http_wait_s")
        keys = own.get("open311_api_keys") or ""
        return cls(
            stations=station_selection(own.get("stations")),
            http_wait_s=DEFAULT_WAIT_S if wait is None else float(wait),
            open311_api_keys=frozenset(k.strip() for k in str(keys).split(",") if k.strip()),
            limits=MappingProxyType({k: int(own.get(k) or v) for k, v in DEFAULT_LIMITS.items()}),
            notify=DeliverySettings.from_section(own.get("notify")),
            notice_quiet=quiet_hours(own.get("notice_quiet_hours")),
        )
