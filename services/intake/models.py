"""Intake tables: every submission as received, the issues made from them, activities, and the
copies (stations, members, studios, categories, case progress) fed by other services' events."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kernel.copies import revision_table
from services.kernel.models import BigId, UtcDateTime, utcnow
from services.kernel.sealed import SealedBytes, SealedText


class Base(DeclarativeBase):
    pass


class KnownStation(Base):
    """Intake's copy of the registry's stations, kept by ``registry.station_saved`` events."""

    __tablename__ = "known_stations"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer)
    # 区县: where duplicate suggestions look (the station and the other stations of its district)
    district: Mapped[str | None] = mapped_column(String(40))
    # WGS-84, as announced; None until the registry places it (an Open311 location's nearest)
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)


class KnownCategory(Base):
    """Intake's copy of routing's dispatch catalogue, kept by ``routing.catalogue_published``."""

    __tablename__ = "known_categories"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


# The revision of each copy kept here ("catalogue"), for memos between transactions.
CopyRevisions = revision_table(Base.metadata)


class Submission(Base):
    """Every message that reached a station queue, good or bad; nothing is thrown away."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    submission_id: Mapped[str | None] = mapped_column(String(64), index=True)
    queue: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # accepted | duplicate | rejected
    errors: Mapped[str | None] = mapped_column(Text)  # JSON, field → messages
    raw_body: Mapped[bytes] = mapped_column(SealedBytes)  # may hold a name and phone: sealed
    tracking_number: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Issue(Base):
    """A citizen's issue (问题), known to the citizen by its tracking number (受理编号)."""

    __tablename__ = "issues"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tracking_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    lookup_code: Mapped[str] = mapped_column(String(12))
    submission_id: Mapped[str] = mapped_column(String(64), unique=True)
    station_code: Mapped[str] = mapped_column(String(40), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    place: Mapped[str | None] = mapped_column(String(200))
    member_code: Mapped[str | None] = mapped_column(String(40))
    studio_code: Mapped[str | None] = mapped_column(String(40))
    activity_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # Personal data (个人信息): sealed at rest, shown masked, whole only through the audit log.
    contact_name: Mapped[str | None] = mapped_column(SealedText)
    contact_phone: Mapped[str | None] = mapped_column(SealedText)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # the open case the citizen said it is the same problem as (routing merges it if it can)
    same_as: Mapped[str | None] = mapped_column(String(32))
    # set by routing.issue_merged: the case this one follows; its progress is this one's
    merged_into: Mapped[str | None] = mapped_column(String(32), index=True)
    # the office account that back-dated it (received_at = its submitted_at), operator-only:
    # services/kernel/backdating.py; None for every issue received as it came
    backdated_by: Mapped[str | None] = mapped_column(String(64))


class KnownMember(Base):
    """Intake's copy of the registry's members (委员), kept by ``registry.member_saved``.

    Only what a member's QR page and the scope rules need: the public name and the stations and
    studios the member serves.
    """

    __tablename__ = "known_members"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer)
    stations: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [station code, ...]
    studios: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [studio code, ...]
    # what the printed poster shows besides: the level (national, provincial, municipal,
    # county) and the sector (界别); None until the registry announces the member again
    level: Mapped[str | None] = mapped_column(String(20))
    sector: Mapped[str | None] = mapped_column(String(40))


class KnownSector(Base):
    """Intake's copy of the registry's sectors (界别), kept by ``registry.sector_saved``."""

    __tablename__ = "known_sectors"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer)


class KnownDutyDay(Base):
    """Intake's copy of the registry's duty days (值班表), kept by ``registry.roster_saved``:
    the member's QR page shows the member's next one."""

    __tablename__ = "known_duty_days"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date, index=True)
    slot: Mapped[str] = mapped_column(String(10))  # am, pm, day
    station_code: Mapped[str | None] = mapped_column(String(40))
    studio_code: Mapped[str | None] = mapped_column(String(40))
    members: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [member code, ...]


class KnownStudio(Base):
    """Intake's copy of the registry's studios (委员工作室), kept by ``registry.studio_saved``."""

    __tablename__ = "known_studios"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer)
    station_code: Mapped[str | None] = mapped_column(String(40))  # where its issues go


class IssueStep(Base):
    """A step in a case's progress as routing announced it: what the status page shows."""

    __tablename__ = "issue_steps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tracking_number: Mapped[str] = mapped_column(String(32), index=True)
    step: Mapped[str] = mapped_column(String(60))  # the routing event type
    # the member the event names (who has the case): who may call the citizen back
    member_code: Mapped[str | None] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answer: Mapped[str | None] = mapped_column(Text)  # the member's reply, result or reason


class Activity(Base):
    """A duty activity (履职活动) staff recorded: a reception day, a free clinic, a visit…"""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    activity_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    station_code: Mapped[str | None] = mapped_column(String(40), index=True)
    studio_code: Mapped[str | None] = mapped_column(String(40), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    slot: Mapped[str | None] = mapped_column(String(10))  # am / pm / day; None: not recorded
    members: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [member code, ...]
    people_served: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ContactView(Base):
    """The audit log (审计日志): each time someone was shown a citizen's name or phone whole."""

    __tablename__ = "contact_views"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(20))
    tracking_number: Mapped[str] = mapped_column(String(32), index=True)
    fields: Mapped[str] = mapped_column(String(100))  # comma-separated: name,phone
    reason: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(64))
    viewed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Photo(Base):
    """A photo a citizen attached (``photos``): re-encoded without EXIF, sealed at rest, kept
    under its submission id by the web process before the submission is published."""

    __tablename__ = "photos"
    __table_args__ = (UniqueConstraint("submission_id", "position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(String(64), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1, 2, 3 as attached
    data: Mapped[bytes] = mapped_column(SealedBytes)  # JPEG, long side ≤ 2048 px
    thumb: Mapped[bytes] = mapped_column(SealedBytes)  # JPEG, long side ≤ 320 px
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ThrottleHit(Base):
    """One counted attempt (a wrong lookup code, a public submission) for rate limiting.

    In the database, not in memory, so the limits hold across every intake process.
    """

    __tablename__ = "throttle_hits"
    __table_args__ = (Index("ix_throttle_hits_bucket_key_at", "bucket", "key", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(30))  # e.g. lookup_number, qr_address
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# -- notices to citizens (services/intake/notices.py) ---------------------------------------------


class NoticeConsent(Base):
    """A citizen's tick on the form: tell me when my issue is answered, reopened or closed.

    Keyed by the submission it came with (the issue made from it has the same id). SMS goes to
    the issue's own sealed phone; the e-mail, given only for notices, is sealed here."""

    __tablename__ = "notice_consents"

    submission_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sms: Mapped[bool] = mapped_column(Boolean, default=False)
    email: Mapped[str | None] = mapped_column(SealedText)
    given_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class CitizenNotice(Base):
    """A notice to a citizen, written with the routing event that caused it; ``key`` (kind,
    issue, channel, event id) unique, so a replayed event gives no second notice. The address
    is read from the issue or the consent when it is sent, never copied here."""

    __tablename__ = "citizen_notices"
    __table_args__ = (Index("ix_citizen_notices_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    tracking_number: Mapped[str] = mapped_column(String(32), index=True)
    submission_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))  # answered | reopened | closed
    channel: Mapped[str] = mapped_column(String(10))  # sms | email
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CaseReport(Base):
    """A case a member wrote into a 社情民意 report (``routing.report_submitted`` /
    ``report_reviewed``): the citizen's status page says so, with the office's outcome once
    reviewed. One row per case and report; ``outcome`` None until reviewed."""

    __tablename__ = "case_reports"

    tracking_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    report_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(20))
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
