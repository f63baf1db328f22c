"""Each kind's columns: field, Chinese header, required; and the check of a file's header row."""

from __future__ import annotations

from dataclasses import dataclass

from services.kernel.http import ApiError

KINDS = ("sectors", "stations", "studios", "members", "rosters")


@dataclass(frozen=True)
class Column:
    field: str
    header: str
    required: bool = False


def _columns(*specs: str) -> list[Column]:
    """``"code 编号 *"``: field, header, and ``*`` when the column is required."""
    return [Column(*spec.split()[:2], spec.endswith("*")) for spec in specs]


# WGS-84 decimal degrees, the header in both languages (an office copying from a GPS app)
PLACED = [Column("lat", "纬度 lat"), Column("lng", "经度 lng")]

COLUMNS = {
    "sectors": _columns("code 编号 *", "name 名称 *"),
    "stations": _columns(
        "code 编号 *",
        "name 名称 *",
        "district 区县 *",
        "kind 类型 *",
        "street 街道乡镇",
        "active 状态",
    )
    + PLACED,
    "studios": _columns(
        "code 编号 *",
        "name 名称 *",
        "district 区县 *",
        "location 地点",
        "sectors 界别 *",
        "active 状态",
    )
    + PLACED,
    "members": _columns(
        "code 编号 *",
        "name 姓名 *",
        "level 层级 *",
        "sector 界别 *",
        "district 区县 *",
        "phone 电话",
        "expertise 专长",
        "term 届期",
        "stations 工作站",
        "studios 工作室",
        "active 状态",
    ),
    "rosters": _columns(
        "date 日期 *",
        "slot 时段 *",
        "station 工作站",
        "studio 工作室",
        "members 值班委员 *",
        "active 状态",
    ),
}
FILE_NAMES = {
    "sectors": "界别",
    "stations": "委员工作站",
    "studios": "委员工作室",
    "members": "委员",
    "rosters": "值班表",
}


def _header_problems(kind: str, headers: list[str]) -> tuple[list[str], list[str]]:
    """What is wrong with a header row, in Chinese and in English (empty when nothing)."""
    known = {c.header for c in COLUMNS[kind]}
    found = {
        ("缺少列", "missing columns"): [
            c.header for c in COLUMNS[kind] if c.required and c.header not in headers
        ],
        ("不认识的列", "unknown columns"): [h for h in headers if h and h not in known],
        ("重复的列", "repeated columns"): sorted(
            {h for h in headers if h and headers.count(h) > 1}
        ),
    }
    problems_zh = [f"{zh}：{'、'.join(v)}" for (zh, _), v in found.items() if v]
    problems = [f"{en}: {', '.join(v)}" for (_, en), v in found.items() if v]
    return problems_zh, problems


def check_headers(kind: str, header_row: list[str]) -> list[Column | None]:
    """Each column's meaning; wrong headers are one clear error naming what is wrong."""
    by_header = {c.header: c for c in COLUMNS[kind]}
    headers = [h.strip() for h in header_row]
    while headers and not headers[-1]:
        headers.pop()
    problems_zh, problems = _header_problems(kind, headers)
    if problems or not headers:
        expected = "、".join(c.header for c in COLUMNS[kind])
        raise ApiError(
            "wrong_headers",
            f"表头不正确（{'；'.join(problems_zh) or '没有表头'}）。第1行应为：{expected}",
            f"wrong headers ({'; '.join(problems) or 'no header row'}); row 1 must be: {expected}",
            fields={"headers": [f"{'；'.join(problems_zh)} / {'; '.join(problems)}"]},
        )
    return [by_header.get(h) for h in headers]
