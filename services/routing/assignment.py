"""Who gets an issue: deterministic rules, each decision with its reason (no I/O here).

In order:
1. the member whose own QR code the citizen scanned (``own_code``);
2. members on duty at the station that day whose sector the catalogue names (``on_duty``);
3. the station's members of those sectors (``sector``);
4. members of a studio of those sectors in the station's district (``studio``);
5. the station's lead (``station_lead``);
6. nobody yet: the case waits (``waiting``) and is assigned when a member arrives.
Inactive members are skipped everywhere. Ties go to the member with the fewest open cases,
then the one who waited longest since an assignment, then by code.
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
    station_members: list[Candidate],
    sectors: list[str],
    own: Candidate | None = None,
    on_duty: list[Candidate] = (),
    studio_members: list[Candidate] = (),
) -> Decision:  # long because it is the whole ladder of rules, read top to bottom as documented
    """``own``: the member whose personal QR code was scanned; ``on_duty``: members on the
    station's roster that day; ``studio_members``: members of the district's studios of
    ``sectors``."""
    if own is not None and own.active:
        return Decision(
            own.code,
            "own_code",
            f"群众扫描了委员本人的二维码 / the member's own QR code ({own.code})",
        )
    duty = [c for c in on_duty if c.active and c.sector in sectors]
    if duty:
        pick = _fairest(duty)
        return Decision(
            pick.code,
            "on_duty",
            f"当日值班的{pick.sector}界别委员 / on duty today, sector {pick.sector}, "
            f"{pick.open_cases} open cases",
        )
    matching = [c for c in station_members if c.active and c.sector in sectors]
    if matching:
        pick = _fairest(matching)
        return Decision(
            pick.code,
            "sector",
            f"本站{pick.sector}界别委员，在办案件最少 / station member of sector "
            f"{pick.sector} with the fewest open cases ({pick.open_cases})",
        )
    studio = [c for c in studio_members if c.active]
    if studio:
        pick = _fairest(studio)
        return Decision(
            pick.code,
            "studio",
            f"本区对口界别委员工作室成员 / member of a studio of sectors "
            f"{', '.join(sectors)} in the district",
        )
    leads = [c for c in station_members if c.active and c.role == "lead"]
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
