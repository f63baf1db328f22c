"""Routing tables: the case, each assignment, and a local copy of the registry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


class Case(Base):
    """An issue as routing follows it (案件): who has it and where it stands."""

    __tablename__ = "cases"

    tracking_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    station_code: Mapped[str] = mapped_column(String(40), index=True)
    category: Mapped[str] = mapped_column(String(40))
    member_hint: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), index=True)  # waiting | assigned
    member_code: Mapped[str | None] = mapped_column(String(40), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


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
