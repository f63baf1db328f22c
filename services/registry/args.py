"""What the entrypoints read from a request's query or body, checked field by field before any
of it is used: whole numbers strictly (ASCII digits only) and within documented bounds, text of
bounded length without control characters, JSON bodies of bounded size and depth. Each raises
the one ``invalid`` answer naming the field (or ``bad_json`` / ``too_large`` for the body).

The bounds (docs/security.md, "Registry inputs and sign-out"):

=====================  =========================================================
``limit``              1–1000 members a page (no ``limit``: every match)
``offset``             0–100000
``per_day``            1–20 members on duty a day (the rotation)
``weekdays``           1–7 distinct whole numbers 0–6 (0 = Monday)
``month``              YYYY-MM, years 2000–2100
a date                 YYYY-MM-DD, years 2000–2100
a query's text         at most 100 characters, no control characters
a JSON body            at most 64 KiB, nested at most 8 deep
an import file         at most 5 MiB
=====================  =========================================================
"""

from __future__ import annotations

import re
from datetime import date

from werkzeug.exceptions import RequestEntityTooLarge

from services.kernel.http import flag_arg, int_arg, invalid, read_json, too_large

MEMBER_FILTERS = ("q", "level", "sector", "district", "station", "studio", "expertise")

MAX_PAGE = 1000
MAX_OFFSET = 100_000
MAX_PER_DAY = 20
FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_QUERY_TEXT = 100
MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 8
MAX_IMPORT_BYTES = 5 * 1024 * 1024

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
NO_CONTROL = "不能含控制字符 / must not contain control characters"


# -- numbers ------------------------------------------------------------------------------------


def whole(value, name: str, default=None, minimum: int = 0, maximum: int = MAX_OFFSET):
    """A bounded whole number from a query argument: ASCII digits only (not ``1e3``, ``+5``,
    ``1_000``, ``٥`` or ``-1``), ``minimum``–``maximum``; ``default`` when missing or empty."""
    if value is None or value == "":
        return default
    return int_arg(value, name, default, minimum=minimum, maximum=maximum)


def not_an_integer(name: str, minimum: int, maximum: int):
    zh, en = f"应为{minimum}到{maximum}的整数", f"must be an integer {minimum}–{maximum}"
    return invalid({name: [f"{zh} / {en}"]})


def json_whole(data: dict, name: str, default: int, minimum: int, maximum: int) -> int:
    """A bounded whole number from a JSON body: a JSON number without a fraction, not a string
    (``"3"``), a boolean or a float."""
    value = data.get(name, default)
    if type(value) is not int:
        raise not_an_integer(name, minimum, maximum)
    return int_arg(str(value), name, default, minimum=minimum, maximum=maximum)


# -- text ---------------------------------------------------------------------------------------


def text_arg(value, name: str, limit: int = MAX_QUERY_TEXT) -> str | None:
    """A query's text filter: None when missing or empty; at most ``limit`` characters and
    no control characters (PostgreSQL refuses a NUL in a string), else a field error."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise invalid({name: [f"最多{limit}个字符 / at most {limit} characters"]})
    if _CONTROL.search(value):
        raise invalid({name: [NO_CONTROL]})
    return value


def plain_text(value) -> None:
    """A marshmallow validator: no control characters in a free-text field."""
    from marshmallow import ValidationError

    if isinstance(value, str) and _CONTROL.search(value):
        raise ValidationError(NO_CONTROL)


def date_arg(value, name: str, required: bool = False) -> date | None:
    """An ISO date (YYYY-MM-DD) of the years 2000–2100; None when missing and not ``required``."""
    if not value:
        if required:
            raise invalid({name: ["必填 / required"]})
        return None
    try:
        day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise invalid({name: ["日期无效，应为 YYYY-MM-DD（2000–2100年） / not a date (2000–2100)"]})
    return day


# -- bodies -------------------------------------------------------------------------------------


def body(request) -> dict:
    """The request's JSON object through the kernel's input layer (``http.read_json``), at most
    64 KiB and nested at most 8 deep (the registry's deepest body, a member with its
    memberships, nests 3), else a 4xx in the one format."""
    request.max_content_length = MAX_JSON_BYTES
    return read_json(request, max_depth=MAX_JSON_DEPTH)


def upload(request) -> bytes:
    """An import's file (a form's ``file`` or the raw body), at most 5 MiB (the entrypoint's
    ``max_body``)."""
    try:
        found = request.files.get("file")
        data = found.read(MAX_IMPORT_BYTES + 1) if found is not None else request.get_data()
    except RequestEntityTooLarge as exc:
        raise too_large(MAX_IMPORT_BYTES) from exc
    if len(data) > MAX_IMPORT_BYTES:  # a page's form may carry a little more than the file
        raise too_large(MAX_IMPORT_BYTES)
    return data


def strings(data: dict, *names: str) -> None:
    """Refuses a body whose ``names`` are present but not strings (a list, an object, a number)."""
    wrong = {
        n: ["应为文本 / must be a string"] for n in names if not isinstance(data.get(n, ""), str)
    }
    if wrong:
        raise invalid(wrong)


# -- the entrypoints' queries and bodies --------------------------------------------------------


def member_filters(args) -> dict:
    """``/members``' query: the filters, ``active``, and the page (``limit``, ``offset``)."""
    filters = {k: text_arg(args.get(k), k) for k in MEMBER_FILTERS}
    filters["active"] = flag_arg(args.get("active"), "active")
    filters["limit"] = whole(args.get("limit"), "limit", minimum=1, maximum=MAX_PAGE)
    filters["offset"] = whole(args.get("offset"), "offset", default=0, maximum=MAX_OFFSET)
    return filters


def roster_filters(args) -> dict:
    """``/rosters``' (and the roster export's) query, as ``roster.list_rosters`` takes it."""
    return {
        "station": text_arg(args.get("station"), "station"),
        "studio": text_arg(args.get("studio"), "studio"),
        "member": text_arg(args.get("member"), "member"),
        "date_from": date_arg(args.get("from"), "from"),
        "date_to": date_arg(args.get("to"), "to"),
    }


def weekdays(data: dict) -> tuple[int, ...]:
    """The rotation's weekdays (0 = Monday; Wednesday when not given): 1–7 distinct days."""
    days = data.get("weekdays", [2])
    if (
        not isinstance(days, list)
        or not 1 <= len(days) <= 7
        or len(set(days)) != len(days)
        or not all(type(w) is int and 0 <= w <= 6 for w in days)
    ):
        raise invalid(
            {"weekdays": ["应为0–6的不重复整数列表 / a list of distinct 0–6 (0 = Monday)"]}
        )
    return tuple(days)


def month(data: dict) -> str:
    """The rotation's month, YYYY-MM of the years 2000–2100."""
    value = data.get("month")
    found = _MONTH.fullmatch(value) if isinstance(value, str) else None
    if not (found and FIRST_YEAR <= int(found[1]) <= LAST_YEAR and 1 <= int(found[2]) <= 12):
        raise invalid({"month": ["应为 YYYY-MM（2000–2100年） / must be YYYY-MM (2000–2100)"]})
    return value


def rotation(data: dict) -> dict:
    """The rotation's plan, as ``rotation.generate_rotation`` takes it, every field checked:
    exactly one place (a station or a studio code), the month, weekdays, slot and ``per_day``."""
    from services.registry.schemas import CODE, SLOTS

    unknown = set(data) - {"month", "station", "studio", "weekdays", "slot", "per_day"}
    if unknown:
        raise invalid({k: ["未知字段 / unknown field"] for k in sorted(unknown)})
    strings(data, "station", "studio", "slot")
    errors = {}
    for place in ("station", "studio"):
        if data.get(place) and not CODE.regex.fullmatch(data[place]):
            errors[place] = [CODE.error]
    if bool(data.get("station")) == bool(data.get("studio")):
        errors["station"] = ["工作站和工作室须填且只填一个 / give exactly one of station or studio"]
    if data.get("slot", "am") not in SLOTS:
        errors["slot"] = [f"必须是以下之一 / must be one of: {', '.join(SLOTS)}"]
    if errors:
        raise invalid(errors)
    return {
        "month": month(data),
        "station": data.get("station") or None,
        "studio": data.get("studio") or None,
        "weekdays": weekdays(data),
        "slot": data.get("slot", "am"),
        "per_day": json_whole(data, "per_day", 2, 1, MAX_PER_DAY),
    }


def on_duty(args) -> tuple[str, date, str | None]:
    """``/on-duty``'s query: (station, date, sector or None); station and date required."""
    station = text_arg(args.get("station"), "station")
    if not station:
        raise invalid({"station": ["必填 / required"]})
    day = date_arg(args.get("date"), "date", required=True)
    return station, day, text_arg(args.get("sector"), "sector")


def path_code(value: str, pattern: re.Pattern) -> bool:
    """Whether a code in the path could be one (else the entrypoint answers 404 before any
    look-up: a NUL or a 10 KB segment never reaches the database)."""
    return isinstance(value, str) and bool(pattern.fullmatch(value))
