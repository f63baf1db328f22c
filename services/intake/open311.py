"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2/) over intake: the plain rules.

Services are the dispatch catalogue's categories (``service_code`` = category code). Each
service has one attribute, ``station``: the member workstation the report goes to (a list of
the stations intake knows); ``jurisdiction_id`` may name it instead. It is optional: a report
with ``lat``/``long`` and no station goes to the nearest active station (``nearest``), and its
``place`` says so (``就近分配 / nearest station <code>, <km> km``); an ``address_string`` alone
is refused (no geocoder offline). A POSTed request becomes a
station message (channel ``open311``) like any other channel's; its ``service_request_id`` is the
tracking number, and the submission id doubles as the ``token`` when the number is not made yet.

Privacy: the name, phone and e-mail a client sends are kept in intake only; GET answers never
carry them. Without an api_key, GET answers leave out the description and the address too.

Photos (``services.intake.photos``): a POST may carry up to 3 image files, multipart, as
FixMyStreet sends them: the field ``media``, repeated, or ``media``, ``media2``, ``media3``. A bad
one is a 400 naming its field (``media2: 照片 2（x.jpg）：不是可识别的照片… / photo 2 (x.jpg): not a photo…``), and
nothing of the request is kept. GET's ``media_url`` is the address of the first photo on intake's
guarded route ``/issues/<number>/photos/1``: it answers only a signed-in office, the case's
station admin or the member who has the case, never the public.
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake import nearest, photos, progress
from services.intake.models import Issue, IssueStep
from services.intake.schemas import SubmissionSchema, bilingual
from services.intake.submissions import submission_result

FORMATS = ("json", "xml")
POST_FIELDS = {
    "api_key",
    "jurisdiction_id",
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "email",
    "device_id",
    "account_id",
    "first_name",
    "last_name",
    "phone",
    "description",
    "media_url",
    "attribute[station]",
    "attribute[notify]",  # notices by e-mail, with email (services/intake/notices.py)
}
DEFAULT_DAYS, MAX_RESULTS = 90, 1000


class Open311Error(Exception):
    """An Open311 error: ``[{"code": status, "description": ...}]``."""

    def __init__(self, status: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after


def services(categories: list[dict]) -> list[dict]:
    return [
        {
            "service_code": c["code"],
            "service_name": c["name"],
            "description": f"{c['name']} / {c['name_en']}",
            "metadata": True,
            "type": "realtime",
            "keywords": c["name_en"],
            "group": "lianxin",
        }
        for c in categories
    ]


def service_definition(category: dict, stations: list[dict]) -> dict:
    return {
        "service_code": category["code"],
        "attributes": [
            {
                "variable": True,
                "code": "station",
                "datatype": "singlevaluelist",
                "required": False,  # with lat/long, the nearest active station
                "datatype_description": (
                    "委员工作站编号；可不填：提供 lat/long 时交给该点所在区县最近的在用工作站"
                    f"（{nearest.MAX_KM:.0f}公里内）/ code of the member workstation; optional: "
                    "with lat/long the report goes to the nearest active station of the point's "
                    f"district (within {nearest.MAX_KM:.0f} km)"
                ),
                "order": 1,
                "description": "委员工作站 / member workstation",
                "values": [{"key": s["code"], "name": s["name"]} for s in stations],
            }
        ],
    }


def _placed(value, placed: list[dict], problems: list[str]) -> tuple[str | None, str]:
    """The station nearest the POSTed ``lat``/``long`` and the note the place gets, or a
    problem naming the field."""
    if not (value("lat") or value("long")):
        problems.append(
            "attribute[station]: 须提供委员工作站或 lat/long（仅有地址无法定位）/ "
            "give attribute[station] or lat/long (an address alone cannot be placed)"
        )
        return None, ""
    point = nearest.parse_point(value("lat"), value("long"))
    if point is None:
        problems.append(
            "lat/long: 应为 WGS-84 十进制度数，如 lat=36.06&long=103.83 / "
            "must be WGS-84 decimal degrees, e.g. lat=36.06&long=103.83"
        )
        return None, ""
    found = nearest.nearest(placed, *point)
    if found is None:
        km = f"{nearest.MAX_KM:.0f}"
        problems.append(
            f"lat/long: 该位置不在兰州市各区县内（距所有委员工作站超过{km}公里）/ "
            f"the point is outside Lanzhou's districts (over {km} km from every station)"
        )
        return None, ""
    station, km = found
    return station["code"], f"（就近分配 / nearest station {station['code']}, {km:.1f} km）"


def submission_from_post(
    form, categories: list[dict], station_codes: set[str], placed: list[dict] | None = None
) -> dict:
    """The station message for a POSTed service request, or :class:`Open311Error` (400).

    ``placed``: the active stations with coordinates (``known.placed_stations``), for a report
    with ``lat``/``long`` and no station."""
    unknown = sorted(set(form.keys()) - POST_FIELDS)
    problems = [f"{k}: 未知字段 / unknown field" for k in unknown]

    def value(name):
        v = (form.get(name) or "").strip()
        return v or None

    station, note = value("attribute[station]") or value("jurisdiction_id"), ""
    if station is None:
        station, note = _placed(value, placed or [], problems)
    elif station not in station_codes:
        problems.append("attribute[station]: 未知的委员工作站 / unknown or missing station")
    if value("service_code") not in {c["code"] for c in categories}:
        problems.append("service_code: 未知的服务 / unknown or missing service_code")
    place = value("address_string")
    if place is None and value("lat") and value("long"):
        place = f"{value('lat')},{value('long')}"
    if place is None and value("address_id") is None:
        problems.append(
            "location: 须提供 lat/long、address_string 或 address_id / "
            "lat+long, address_string or address_id is required"
        )
    if note:  # the office reads why the report is at this station
        place = (place or value("address_id") or "")[: 200 - len(note)] + note
    name = " ".join(v for v in (value("last_name"), value("first_name")) if v) or None
    message = {
        "submission_id": str(uuid.uuid4()),
        "station": station or "",
        "channel": "open311",
        "category": value("service_code") or "",
        "description": (form.get("description") or "").strip(),
        "place": (place or value("address_id") or "")[:200],
        "contact": {"name": name, "phone": value("phone")} if (name or value("phone")) else None,
    }
    message = {k: v for k, v in message.items() if v is not None}
    for field, messages in bilingual(SubmissionSchema().validate(message)).items():
        if field in ("station", "category"):
            continue  # said above, in Open311's words
        problems.append(f"{field}: {json.dumps(messages, ensure_ascii=False)}")
    if problems:
        raise Open311Error(400, "; ".join(problems))
    return message


def photo_problems(errors: dict[str, list[str]]) -> list[str]:
    """``photos.read_all``'s field errors as Open311 problems, each naming its field."""
    return [f"{field}: {m}" for field, messages in errors.items() for m in messages]


def post_answer(result: dict) -> list[dict]:
    """What POST answers: the request id once made, else a token to ask with later."""
    if result["status"] in ("accepted", "duplicate"):
        return [
            {
                "service_request_id": result["tracking_number"],
                "service_notice": "已受理 / received",
                "account_id": None,
            }
        ]
    if result["status"] == "rejected":
        raise Open311Error(400, json.dumps(result["errors"], ensure_ascii=False))
    return [
        {
            "token": result["submission_id"],
            "service_notice": "已收到，正在受理 / received, being processed",
            "account_id": None,
        }
    ]


def token(session: Session, token_id: str) -> list[dict]:
    """What became of an Open311 POST, by the token it answered (a random UUID). Another
    channel's submission id (an activity's ``<activity_id>.<n>``, a QR form's) is no token:
    answered like one not yet processed, so nothing of that submission shows."""
    found = submission_result(session, token_id) if _is_token(token_id) else None
    if found is not None and found.get("tracking_number"):
        issue = session.scalar(
            select(Issue).where(Issue.tracking_number == found["tracking_number"])
        )
        if issue is None or issue.channel != "open311":
            found = None
    if found is None:
        return [{"token": token_id, "service_request_id": None}]
    if found["status"] == "rejected":
        raise Open311Error(400, json.dumps(found["errors"], ensure_ascii=False))
    return [{"token": token_id, "service_request_id": found["tracking_number"]}]


def _when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Open311Error(400, f"{name}: 不是 ISO 8601 时间 / not an ISO 8601 time") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def requests(
    session: Session, args, names: dict, full: bool, media_base: str | None = None
) -> list[dict]:
    """GET requests: by ``service_request_id`` (comma-separated), or filtered by
    ``service_code``, ``start_date``/``end_date`` (default the last 90 days) and ``status``.
    ``media_base``: intake's public address, for ``media_url`` (the guarded first photo)."""
    query = select(Issue).where(Issue.tracking_number.is_not(None))
    ids = [i.strip() for i in (args.get("service_request_id") or "").split(",") if i.strip()]
    if ids:
        query = query.where(Issue.tracking_number.in_(ids))
    else:
        end = _when(args.get("end_date"), "end_date") or datetime.now(UTC)
        start = _when(args.get("start_date"), "start_date") or end - timedelta(days=DEFAULT_DAYS)
        query = query.where(Issue.received_at >= start, Issue.received_at <= end)
        codes = [c.strip() for c in (args.get("service_code") or "").split(",") if c.strip()]
        if codes:
            query = query.where(Issue.category.in_(codes))
    wanted = args.get("status")
    if wanted not in (None, "", "open", "closed"):
        raise Open311Error(400, "status: 须为 open 或 closed / must be open or closed")
    issues = session.scalars(query.order_by(Issue.id.desc()).limit(MAX_RESULTS)).all()
    # a merged issue reports the progress of the case it follows (its 主案件)
    mains = {i.tracking_number: progress.main_of(session, i).tracking_number for i in issues}
    steps: dict[str, list[IssueStep]] = {}
    if issues:
        for s in session.scalars(
            select(IssueStep)
            .where(IssueStep.tracking_number.in_(set(mains.values())))
            .order_by(IssueStep.occurred_at, IssueStep.id)
        ):
            steps.setdefault(s.tracking_number, []).append(s)
    with_photos = photos.counts_of_issues(session, [i.submission_id for i in issues])
    found = [
        request_view(
            i,
            steps.get(mains[i.tracking_number], []),
            names,
            full,
            merged=mains[i.tracking_number] != i.tracking_number,
            media_url=(
                f"{media_base}/issues/{i.tracking_number}/photos/1"
                if media_base is not None and with_photos.get(i.submission_id)
                else None
            ),
        )
        for i in issues
    ]
    return [r for r in found if not wanted or r["status"] == wanted]


def request_view(
    issue: Issue,
    steps: list[IssueStep],
    names: dict,
    full: bool,
    merged: bool = False,
    media_url: str | None = None,
) -> dict:
    """``steps`` are the case's: the issue's own, or those of the case it was merged into."""
    shown = [s for s in steps if s.step not in progress.HIDDEN_STEPS]
    last = shown[-1] if shown else None
    label = progress.STEP_LABELS.get(
        last.step if last else "intake.issue_received", ("处理中", "in progress")
    )
    answers = [s.answer for s in shown if s.step in progress.ANSWER_STEPS and s.answer]
    notes = f"{label[0]} / {label[1]}"
    if answers and full:  # the answer may name people or places: with an api_key only
        notes += f": {answers[-1]}"
    return {
        "service_request_id": issue.tracking_number,
        "status": "closed" if progress.is_closed([s.step for s in shown]) else "open",
        "status_notes": notes,
        "service_name": names.get(issue.category, issue.category),
        "service_code": issue.category,
        "description": issue.description if full else None,
        "agency_responsible": issue.station_code,
        "service_notice": progress.STEP_LABELS["routing.issue_merged"][0] if merged else None,
        "requested_datetime": issue.submitted_at.isoformat(),
        "updated_datetime": (last.occurred_at if last else issue.received_at).isoformat(),
        "expected_datetime": None,
        "address": issue.place if full else None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": media_url,
    }


# -- formats --------------------------------------------------------------------------------------

XML_NAMES = {
    "services": ("services", "service"),
    "requests": ("service_requests", "request"),
    "errors": ("errors", "error"),
}


def to_xml(kind: str, data) -> bytes:
    """Open311's XML: a root element holding one element per item (lists become children)."""
    if kind == "service_definition":
        root = ET.Element("service_definition")
        _fill(root, data)
    else:
        root_name, item_name = XML_NAMES[kind]
        root = ET.Element(root_name)
        for item in data:
            _fill(ET.SubElement(root, item_name), item)
    return (
        b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="unicode").encode()
    )


_CHILD = {"attributes": "attribute", "values": "value"}


def _fill(element, item: dict) -> None:
    for key, value in item.items():
        child = ET.SubElement(element, key)
        if isinstance(value, list):
            for v in value:
                _fill(ET.SubElement(child, _CHILD.get(key, "item")), v)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            child.text = str(value)


def errors(exc: Open311Error) -> list[dict]:
    return [{"code": exc.status, "description": exc.description}]


def _is_token(token_id: str) -> bool:
    try:
        return str(uuid.UUID(token_id)) == token_id
    except ValueError:
        return False
