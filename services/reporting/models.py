"""Reporting tables: the append-only event store and the figures projected from it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kernel.models import BigId, UtcDateTime, utcnow


class Base(DeclarativeBase):
    pass


class StoredEvent(Base):
    """Every event reporting consumed, once (by event id), in the order it arrived."""

    __tablename__ = "event_store"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    source: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    payload: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MonthlyFigure(Base):
    """One figure of one month for one breakdown (``city``/``-``, ``station``/``gwm`` ...)."""

    __tablename__ = "monthly_figures"
    # A month's report reads only this index, in the order it groups by (dimension, key): no
    # table look-up per figure, no sort.
    __table_args__ = (
        Index("ix_monthly_figures_report", "month", "dimension", "key", "metric", "value"),
    )

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # 2026-11, Beijing time
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class MonthlyRollup(Base):
    """A month's figures of one breakdown key as one JSON object (``{"issues_received": 12,
    ...}``): the figures of ``monthly_figures`` again, changed in the same statements' transaction
    by the same increments, so a month's report reads one row per key rather than aggregating
    some 40,000 figures."""

    __tablename__ = "monthly_rollups"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    figures: Mapped[str] = mapped_column(Text)  # JSON text: {metric: value}


class CaseFact(Base):
    """What reporting knows of one issue: where it belongs, and its milestones.

    Rates are counted by the month the issue arrived (its cohort): a response in December to an
    issue of November raises November's response rate. The breakdown attributes are the case's
    current ones when each event arrives (a transfer moves later events to the new station).
    """

    __tablename__ = "case_facts"
    # The month's response times in order, from the index alone: the median is one seek.
    __table_args__ = (
        Index("ix_case_facts_month_minutes", "received_month", "first_response_minutes"),
    )

    tracking_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    received_month: Mapped[str] = mapped_column(String(7))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    station: Mapped[str] = mapped_column(String(40))
    district: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40))
    member: Mapped[str | None] = mapped_column(String(40))
    member_level: Mapped[str | None] = mapped_column(String(20))
    member_sector: Mapped[str | None] = mapped_column(String(40))
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    rated: Mapped[bool] = mapped_column(Boolean, default=False)
    handled: Mapped[bool] = mapped_column(Boolean, default=False)  # counted as a matter handled
    # merged (合并办理): the case this report follows; its reporter is served by that matter
    merged_into: Mapped[str | None] = mapped_column(String(32), index=True)
    served: Mapped[bool] = mapped_column(Boolean, default=False)  # counted in reporters_served
    # counted in cohort_closed_unresolved (an issue closed unresolved twice counts once)
    closed_unresolved: Mapped[bool] = mapped_column(Boolean, default=False)


class StationDim(Base):
    """Stations as the registry announced them: the district a station's figures roll up to."""

    __tablename__ = "station_dims"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    lat: Mapped[float | None] = mapped_column(Float)  # WGS-84; None: unknown (not on the map)
    lng: Mapped[float | None] = mapped_column(Float)


class MemberDim(Base):
    __tablename__ = "member_dims"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    sector: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class StudioDim(Base):
    __tablename__ = "studio_dims"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    district: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    lat: Mapped[float | None] = mapped_column(Float)  # WGS-84; None: unknown (not on the map)
    lng: Mapped[float | None] = mapped_column(Float)


class ActivityFact(Base):
    """An activity (履职活动) as intake announced it, once per activity id."""

    __tablename__ = "activity_facts"

    activity_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    people_served: Mapped[int] = mapped_column(Integer)


class LeaderDim(Base):
    """A city CPPCC leader of the liaison system (领导对口联系) as the registry announced them."""

    __tablename__ = "leader_dims"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(100), default="")  # 职务, e.g. 副主席
    stations: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of station codes
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class SectorDim(Base):
    """A sector (界别) as the registry announced it: its name, for the dashboard's rows."""

    __tablename__ = "sector_dims"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class PracticeFact(Base):
    """One record of the practice as last saved: a leader's visit (``visit``), a consultation
    (``consultation``) or a 社情民意 report (``report``), with what it is counted in now.

    ``counted`` is the JSON list of ``[month, metric, dimension, key, n]`` the record added to
    the figures: when the record is saved again (re-saved, withdrawn, reviewed again) those are
    taken back and its new ones added, so each record counts once, as it last stands
    (practice.py)."""

    __tablename__ = "practice_facts"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    revision: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(Text)  # JSON: what a later event of the record needs
    counted: Mapped[str] = mapped_column(Text)  # JSON: [[month, metric, dimension, key, n], …]
