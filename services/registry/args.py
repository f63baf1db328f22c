"""What the entrypoints read from a request's query or body, checked field by field
(whole numbers and flags through ``services.kernel.http``; dates and the rotation's weekdays
here). Each raises the one ``invalid`` answer naming the field."""

from __future__ import annotations

from datetime import date

from services.kernel.http import flag_arg, int_arg, invalid

MEMBER_FILTERS = ("q", "level", "sector", "district", "station", "studio", "expertise")


def date_arg(value, name: str, required: bool = False) -> date | None:
    """An ISO date (YYYY-MM-DD); None when missing and not ``required``."""
    if not value:
        if required:
            raise invalid({name: ["必填 / required"]})
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise invalid({name: ["日期无效，应为 YYYY-MM-DD / not a date"]}) from exc


def member_filters(args) -> dict:
    """``/members``' query: the filters, ``active``, and the page (``limit``, ``offset``)."""
    filters = {k: args.get(k) or None for k in MEMBER_FILTERS}
    filters["active"] = flag_arg(args.get("active"), "active")
    filters["limit"] = int_arg(args.get("limit"), "limit", minimum=1)
    filters["offset"] = int_arg(args.get("offset"), "offset", default=0)
    return filters


def roster_filters(args) -> dict:
    """``/rosters``' (and the roster export's) query, as ``roster.list_rosters`` takes it."""
    return {
        "station": args.get("station") or None,
        "studio": args.get("studio") or None,
        "member": args.get("member") or None,
        "date_from": date_arg(args.get("from"), "from"),
        "date_to": date_arg(args.get("to"), "to"),
    }


def weekdays(data: dict) -> tuple[int, ...]:
    """The rotation's weekdays (0 = Monday; Wednesday when not given)."""
    days = data.get("weekdays", [2])
    if not isinstance(days, list) or not all(isinstance(w, int) and 0 <= w <= 6 for w in days):
        raise invalid({"weekdays": ["应为0–6的整数列表 / a list of 0–6 (0 = Monday)"]})
    return tuple(days)


def rotation(data: dict, days: tuple[int, ...]) -> dict:
    """The rotation's plan, as ``rotation.generate_rotation`` takes it."""
    return {
        "month": str(data.get("month", "")),
        "station": data.get("station"),
        "studio": data.get("studio"),
        "weekdays": days,
        "slot": data.get("slot", "am"),
        "per_day": int_arg(str(data.get("per_day", 2)), "per_day", minimum=1),
    }


def on_duty(args) -> tuple[str, date, str | None]:
    """``/on-duty``'s query: (station, date, sector or None); station and date required."""
    if not args.get("station"):
        raise invalid({"station": ["必填 / required"]})
    return args["station"], date_arg(args.get("date"), "date", required=True), args.get("sector")
