"""Routing tables: the case, each assignment, and a local copy of the registry."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kernel.copies import revision_table
from services.kernel.models import BigId, UtcDateTime, utcnow


class Base(DeclarativeBase):
    pass


class MemberCopy(Base):
    """The registry's member, as last announced (routing assigns while the registry is down)."""

    __tablename__ = "member_copies"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    sector: Mapped[str] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean)
    revision: Mapped[int] = mapped_column(Integer)


class MembershipCopy(Base):
    __tablename__ = "membership_copies"

    member_code: Mapped[str] = mapped_column(ForeignKey("member_copies.code"), primary_key=True)
    station_code: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20))


class StationCopy(Base):
    __tablename__ = "station_copies"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean)
    revision: Mapped[int] = mapped_column(Integer)


class SectorCopy(Base):
    """A sector (界别) as last announced: its name for the office list's picker."""

    __tablename__ = "sector_copies"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    revision: Mapped[int] = mapped_column(Integer)


class StudioCopy(Base):
    """A studio (委员工作室) as last announced; ``sectors`` is a comma-separated list."""

    __tablename__ = "studio_copies"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))  # None: announced before it was kept
    district: Mapped[str] = mapped_column(String(40), index=True)
    sectors: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)
    revision: Mapped[int] = mapped_column(Integer)


class StudioMembershipCopy(Base):
    __tablename__ = "studio_membership_copies"

    member_code: Mapped[str] = mapped_column(ForeignKey("member_copies.code"), primary_key=True)
    studio_code: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20))


class RosterCopy(Base):
    """A duty day (接待日值班) at a station or studio; ``members`` comma-separated."""

    __tablename__ = "roster_copies"

    code: Mapped[str] = mapped_column(String(80), primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    slot: Mapped[str] = mapped_column(String(20))
    station_code: Mapped[str | None] = mapped_column(String(40), index=True)
    studio_code: Mapped[str | None] = mapped_column(String(40))
    members: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)
    revision: Mapped[int] = mapped_column(Integer)


# The revision of each copy kept here ("registry"), for memos between transactions.
CopyRevisions = revision_table(Base.metadata)


class Case(Base):
    """An issue as routing follows it (案件): who has it, where it stands, when it is due.

    ``version`` rises with every change; an action that names an older version is refused
    (two people acting on one case at once), and concurrent writers fail instead of overwriting.
    """

    __tablename__ = "cases"

    tracking_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    station_code: Mapped[str] = mapped_column(String(40), index=True)
    category: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str | None] = mapped_column(String(20))
    # The citizen's words as intake announced them, phone and identity numbers masked
    # (kernel.masking.mask_text); None for a case announced before they travelled.
    description: Mapped[str | None] = mapped_column(Text)
    place: Mapped[str | None] = mapped_column(Text)
    # how many photos the citizen attached (intake keeps them; None: none, or an old event)
    photos: Mapped[int | None] = mapped_column(Integer)
    member_hint: Mapped[str | None] = mapped_column(String(40))
    # active_history: a change always knows the value before it (routing.loads counts on it)
    status: Mapped[str] = mapped_column(String(20), index=True, active_history=True)
    member_code: Mapped[str | None] = mapped_column(String(40), index=True, active_history=True)
    reason: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)  # the office's list
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    response_due: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolution_due: Mapped[datetime | None] = mapped_column(UtcDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    close_reason: Mapped[str | None] = mapped_column(Text)
    colour: Mapped[str] = mapped_column(String(10), default="green")  # green | yellow | red
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    handoffs: Mapped[int] = mapped_column(Integer, default=0)
    reopens: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[str | None] = mapped_column(String(20))
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # merged (已合并): the case it follows (its 主案件), which may itself follow another
    merged_into: Mapped[str | None] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class MemberLoad(Base):
    """Each member's open cases and last assignment, kept with every change to a case.

    The assignment rules balance on these two figures; counting them from ``cases`` and
    ``assignments`` each time costs more the longer the service runs, this stays one row per
    member. ``routing.loads`` keeps it: a flush that changes a case's member or status (into or
    out of the open ones) moves the counts in the same transaction; ``_give`` sets the time.
    """

    __tablename__ = "member_loads"

    member_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    open_cases: Mapped[int] = mapped_column(Integer, default=0)
    last_assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CaseEvent(Base):
    """The audit trail of a case: every transition, who, when, with their note."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tracking_number: Mapped[str] = mapped_column(ForeignKey("cases.tracking_number"), index=True)
    action: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(60))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Assignment(Base):
    """Every assignment ever made, with its reason: the audit of who got what and why."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    tracking_number: Mapped[str] = mapped_column(ForeignKey("cases.tracking_number"), index=True)
    member_code: Mapped[str] = mapped_column(String(40), index=True)
    rule: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PublishedCatalogue(Base):
    """Each catalogue content routing has announced, by digest: announce a change once."""

    __tablename__ = "published_catalogues"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class NotificationSetting(Base):
    """How a member wants to hear of cases: channel, address, quiet hours, daily digest.

    The address (e-mail or phone) is personal data: kept here for sending, never in an event.
    """

    __tablename__ = "notification_settings"

    member_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))  # email | sms | wechat | none
    address: Mapped[str] = mapped_column(String(200))
    quiet_from: Mapped[str | None] = mapped_column(String(5))  # "22:00", Beijing time
    quiet_to: Mapped[str | None] = mapped_column(String(5))  # "07:30"
    digest: Mapped[bool] = mapped_column(Boolean, default=False)


class Notice(Base):
    """One notice to one member, written with the change that caused it, then delivered."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)  # one notice per cause
    member_code: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    tracking_number: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), index=True)
    channel: Mapped[str | None] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OpinionReport(Base):
    """A 社情民意信息 (social-opinion report): a member's write-up of a recurring problem from its
    cases, sent up to the CPPCC office, which reviews it (services/routing/opinion_reports.py).

    ``status``: draft → submitted → received | adopted | forwarded (the office's outcome)."""

    __tablename__ = "opinion_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_code: Mapped[str] = mapped_column(String(40), index=True)
    sector: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    note: Mapped[str | None] = mapped_column(Text)  # the office's note with its outcome
    reviewed_by: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class OpinionReportCase(Base):
    """A case a 社情民意 report was drawn from."""

    __tablename__ = "opinion_report_cases"

    report_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("opinion_reports.id"), primary_key=True
    )
    tracking_number: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
