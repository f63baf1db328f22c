"""Who gets an issue: deterministic rules, each decision with its reason (no I/O here).

In order: the member whose own QR code was used; else the station's active members whose
sector the catalogue names for the category; else the station's lead. Ties go to the member
with the fewest open cases, then the one who waited longest since an assignment, then by code.
(Duty rosters and studios join these rules with the registry issue, #3/#5.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Candidate:
    code: str
    sector: str
    role: str  # lead | member
    active: bool
    open_cases: int = 0
    last_assigned_at: datetime | None = None


@dataclass(frozen=True)
class Decision:
    member: str | None
    rule: str
    reason: str


def _fairest(candidates: list[Candidate]) -> Candidate:
    never = datetime.min
    return min(
        candidates,
        key=lambda c: (c.open_cases, (c.last_assigned_at or never).replace(tzinfo=None), c.code),
    )


def choose(
    station_members: list[Candidate], sectors: list[str], own: Candidate | None = None
) -> Decision:
    """``own`` is the member whose personal QR code the citizen scanned, if any."""
    active = [c for c in station_members if c.active]
    if own is not None and own.active:
        return Decision(
            own.code, "own_code", f"群众扫描了委员本人的二维码 / member's own QR code ({own.code})"
        )
    matching = [c for c in active if c.sector in sectors]
    if matching:
        pick = _fairest(matching)
        return Decision(
            pick.code,
            "sector",
            f"本站{pick.sector}界别委员，在办案件最少 / station member of sector "
            f"{pick.sector} with the fewest open cases ({pick.open_cases})",
        )
    leads = [c for c in active if c.role == "lead"]
    if leads:
        pick = _fairest(leads)
        return Decision(
            pick.code,
            "station_lead",
            f"本站无对口界别委员，交站长 / no member of sectors {sectors or '-'} "
            f"at the station; its lead takes it",
        )
    return Decision(
        None,
        "waiting",
        "本站暂无在岗委员，待登记后派单 / no active member at the station yet; waiting",
    )
