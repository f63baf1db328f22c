"""Intake tables: every submission as received, the issues made from them, a station copy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kernel.models import BigId, UtcDateTime, utcnow


class Base(DeclarativeBase):
    pass


class KnownStation(Base):
    """Intake's copy of the registry's stations, kept by ``registry.station_saved`` events."""

    __tablename__ = "known_stations"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer)


class KnownCategory(Base):
    """Intake's copy of routing's dispatch catalogue, kept by ``routing.catalogue_published``."""

    __tablename__ = "known_categories"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Submission(Base):
    """Every message that reached a station queue, good or bad; nothing is thrown away."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    submission_id: Mapped[str | None] = mapped_column(String(64), index=True)
    queue: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # accepted | duplicate | rejected
    errors: Mapped[str | None] = mapped_column(Text)  # JSON, field → messages
    raw_body: Mapped[bytes] = mapped_column(LargeBinary)
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
    contact_name: Mapped[str | None] = mapped_column(String(100))
    contact_phone: Mapped[str | None] = mapped_column(String(40))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
