"""How figures are keyed: by Beijing month and by breakdown (docs/statistics.md defines every
figure).

Months are calendar months in Beijing time (Asia/Shanghai), the office's own calendar.
A figure is kept per (month, metric, dimension, key); ``city``/``-`` is the whole city.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from services.kernel.http import ApiError

CHINA = ZoneInfo("Asia/Shanghai")
CITY = ("city", "-")
UNKNOWN_DISTRICT = "未知区县"  # a place the registry has not announced (yet)

# Every breakdown the monthly report offers, in the order of the workbook's sheets.
DIMENSIONS = {
    "city": ("全市", "City"),
    "district": ("区县", "District"),
    "station": ("委员工作站", "Station"),
    "sector": ("界别", "Sector"),
    "level": ("委员层级", "Member level"),
    "member": ("委员", "Member"),
    "channel": ("渠道", "Channel"),
    "category": ("问题类别", "Category"),
    "studio": ("委员工作室", "Studio"),
    "kind": ("活动类型", "Activity kind"),
    "leader": ("联系领导", "Liaison leader"),  # 领导对口联系: leader_visits only
}


def month_of(when: str | datetime) -> str:
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    local = when.astimezone(CHINA)
    return f"{local.year:04d}-{local.month:02d}"  # (strftime is several times slower)


def issue_breakdowns(fact) -> list[tuple[str, str]]:
    """Where an issue's figures go: the city, its place, channel and category, and (once
    assigned) its member with the member's level and sector."""
    keys = issue_place_breakdowns(fact.station, fact.district, fact.channel, fact.category)
    if fact.member:
        keys += member_breakdowns(fact.member, fact.member_level, fact.member_sector)
    return keys


def issue_place_breakdowns(station, district, channel, category) -> list[tuple[str, str]]:
    return [
        CITY,
        ("district", district),
        ("station", station),
        ("channel", channel),
        ("category", category),
    ]


def member_breakdowns(member, level, sector) -> list[tuple[str, str]]:
    return [("member", member), ("level", level or "?"), ("sector", sector or "?")]


def place_breakdowns(station: str, district: str) -> list[tuple[str, str]]:
    return [CITY, ("district", district), ("station", station)]


def breakdown(value: str | None) -> str | None:
    """A ``breakdown`` query argument: one of :data:`DIMENSIONS` (or None), else ApiError."""
    if value is not None and value not in DIMENSIONS:
        raise ApiError(
            "invalid",
            "未知的分类维度",
            "unknown breakdown",
            fields={"breakdown": [f"可选 / one of: {', '.join(DIMENSIONS)}"]},
        )
    return value
