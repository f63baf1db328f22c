"""Reporting's settings (its section of the deployment file), parsed once at start.

Every default reporting falls back to lives here and nowhere else. The nameko class declares
``settings = Settings(ReportingSettings.from_config)`` (``services.kernel.settings``): a bad
value stops the service at start.
"""

from __future__ import annotations

from dataclasses import dataclass

# How long reconciliation waits for intake's and routing's own counts (RPC ``status``) before
# it says that service did not answer.
DEFAULT_PEER_TIMEOUT_S = 5.0
# How many months the dashboard's trend shows, the report's month last.
DEFAULT_TREND_MONTHS = 12


@dataclass(frozen=True)
class ReportingSettings:
    peer_timeout_s: float = DEFAULT_PEER_TIMEOUT_S
    trend_months: int = DEFAULT_TREND_MONTHS

    @classmethod
    def from_config(cls, config: dict) -> ReportingSettings:
        """From the flattened nameko config (reporting's own section is ``SERVICE``)."""
        own = config.get("SERVICE") or {}
        timeout, months = own.get("peer_timeout_s"), own.get("trend_months")
        return cls(
            peer_timeout_s=DEFAULT_PEER_TIMEOUT_S if timeout is None else float(timeout),
            trend_months=DEFAULT_TREND_MONTHS if months is None else int(months),
        )
