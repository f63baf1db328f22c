"""Which open cases a new report may be the same problem as (是否与以下问题相同?).

Intake knows every issue it made and, from routing's events (``issue_steps``,
``routing.issue_merged``), which are still open and which follow another. A candidate is an
issue that is the main case of its problem (never merged into another, nor waiting for routing to
merge it as its citizen chose), not closed, at the same
station or another station of the same district (区县), in the same category, received in the
last ``WINDOW_DAYS``; candidates are scored by ``similar``. Citizens see a masked snippet of
each (never a name or phone number); staff see the whole text and the score.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.intake import progress, similar
from services.intake.intake import CHINA
from services.intake.models import Issue, IssueStep, KnownStation

WINDOW_DAYS = 180
POOL = 500  # the most recent candidates compared; older open cases are rare and the office's


def stations_near(session: Session, station: str) -> list[str]:
    """The station and the other stations of its district (just the station if unknown)."""
    row = session.get(KnownStation, station)
    if row is None or not row.district:
        return [station]
    near = session.scalars(
        select(KnownStation.code).where(KnownStation.district == row.district, KnownStation.active)
    ).all()
    return sorted(set(near) | {station})


def open_cases(
    session: Session, station: str, category: str, exclude: str | None = None
) -> list[Issue]:
    """Main cases (not merged into another) that are still open, near ``station``."""
    since = datetime.now(UTC) - timedelta(days=WINDOW_DAYS)
    query = (
        select(Issue)
        .where(
            Issue.station_code.in_(stations_near(session, station)),
            Issue.category == category,
            Issue.merged_into.is_(None),
            Issue.tracking_number.is_not(None),
            Issue.received_at >= since,
        )
        .order_by(Issue.id.desc())
        .limit(POOL)
    )
    if exclude:
        query = query.where(Issue.tracking_number != exclude)
    issues = session.scalars(query).all()
    if not issues:
        return []
    steps: dict[str, list[str]] = {}
    for number, step in session.execute(
        select(IssueStep.tracking_number, IssueStep.step)
        .where(IssueStep.tracking_number.in_([i.tracking_number for i in issues]))
        .order_by(IssueStep.occurred_at, IssueStep.id)
    ):
        steps.setdefault(number, []).append(step)
    return [i for i in issues if _open_main(i, steps.get(i.tracking_number, []))]


def _open_main(issue: Issue, steps: list[str]) -> bool:
    if progress.is_closed(steps):
        return False
    # A report whose citizen chose "same as" another follows it as soon as routing merges it;
    # until routing has said otherwise (assigned it on its own: the merge was refused), it is
    # not offered, so the next citizen is pointed at the main case and not at a follower.
    return issue.same_as is None or bool(
        {"routing.issue_assigned", "routing.issue_waiting"} & set(steps)
    )


def text_of(description: str, place: str | None) -> str:
    return f"{description} {place or ''}".strip()


def similar_cases(
    session: Session,
    station: str,
    category: str,
    description: str,
    place: str | None = None,
    exclude: str | None = None,
) -> list[dict]:
    """The open cases most like this report, best first, each with its score."""
    pool = [
        {"issue": i, "text": text_of(i.description, i.place)}
        for i in open_cases(session, station, category, exclude)
    ]
    found = similar.suggest(text_of(description, place), pool)
    return [{"issue": c["issue"], "score": c["score"]} for c in found]


def reporters(session: Session, number: str) -> int:
    return 1 + len(progress.followers(session, number))


def for_citizen(session: Session, message: dict) -> list[dict]:
    """What the QR page offers: the candidate's number (to choose it), a masked snippet, the
    station's name and the day it arrived, and how many have reported it. Nothing for a form
    sent again (a double tap, a reload): it already is an issue, and answers with its number."""
    sent = message.get("submission_id")
    if sent and session.scalar(select(Issue.id).where(Issue.submission_id == sent)) is not None:
        return []
    out = []
    for c in similar_cases(
        session,
        message["station"],
        message["category"],
        message["description"],
        message.get("place"),
    ):
        issue = c["issue"]
        station = session.get(KnownStation, issue.station_code)
        out.append(
            {
                "tracking_number": issue.tracking_number,
                "snippet": similar.snippet(issue.description),
                "station_name": station.name if station else issue.station_code,
                "received_on": f"{issue.received_at.astimezone(CHINA):%Y-%m-%d}",
                "reporters": reporters(session, issue.tracking_number),
            }
        )
    return out


def for_staff(session: Session, number: str) -> list[dict] | None:
    """Candidates for an issue already made (staff decide and merge in routing); None if the
    tracking number is unknown. Never contact data."""
    issue = session.scalar(select(Issue).where(Issue.tracking_number == number))
    if issue is None:
        return None
    return [
        {
            "tracking_number": c["issue"].tracking_number,
            "score": c["score"],
            "station": c["issue"].station_code,
            "category": c["issue"].category,
            "description": c["issue"].description,
            "place": c["issue"].place,
            "received_at": c["issue"].received_at.isoformat(),
            "reporters": reporters(session, c["issue"].tracking_number),
        }
        for c in similar_cases(
            session,
            issue.station_code,
            issue.category,
            issue.description,
            issue.place,
            exclude=number,
        )
        if c["issue"].tracking_number != issue.merged_into
    ]
