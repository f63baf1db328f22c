"""Registry tables. Every row has a public ``code`` and a ``revision`` bumped on each change."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.kernel.models import UtcDateTime


class Base(DeclarativeBase):
    pass


class Sector(Base):  # 界别
    __tablename__ = "sectors"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    revision: Mapped[int] = mapped_column(Integer, default=1)


class Station(Base):  # 委员工作站
    __tablename__ = "stations"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    # the street or township (街道/乡镇) the station sits in; empty for the old demo rows
    street: Mapped[str] = mapped_column(String(100), default="")
    # WGS-84 decimal degrees (GPS, not the GCJ-02 of Chinese web maps); both None: not placed yet
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)


class Studio(Base):  # 委员工作室: serves one sector or a group of sectors
    __tablename__ = "studios"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(40))
    location: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float | None] = mapped_column(Float)  # WGS-84, as a station's
    lng: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    sectors: Mapped[list[StudioSector]] = relationship(
        cascade="all, delete-orphan", order_by="StudioSector.sector_code", lazy="selectin"
    )


class StudioSector(Base):
    __tablename__ = "studio_sectors"

    studio_code: Mapped[str] = mapped_column(ForeignKey("studios.code"), primary_key=True)
    sector_code: Mapped[str] = mapped_column(ForeignKey("sectors.code"), primary_key=True)


class Member(Base):  # 政协委员
    __tablename__ = "members"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    sector_code: Mapped[str] = mapped_column(ForeignKey("sectors.code"), index=True)
    district: Mapped[str] = mapped_column(String(40))
    # personal data: served to the office over HTTP, never put in events or logs
    phone: Mapped[str] = mapped_column(String(20), default="")
    expertise: Mapped[list] = mapped_column(JSON, default=list)  # 专长 tags
    term: Mapped[str] = mapped_column(String(20), default="")  # 届期, e.g. "2022-2027"
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    memberships: Mapped[list[Membership]] = relationship(
        cascade="all, delete-orphan", order_by="Membership.station_code", lazy="selectin"
    )
    studio_memberships: Mapped[list[StudioMembership]] = relationship(
        cascade="all, delete-orphan", order_by="StudioMembership.studio_code", lazy="selectin"
    )


class Membership(Base):
    """A member serving at a station, as its lead (站长) or as a member."""

    __tablename__ = "memberships"

    member_code: Mapped[str] = mapped_column(ForeignKey("members.code"), primary_key=True)
    station_code: Mapped[str] = mapped_column(
        ForeignKey("stations.code"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(20), default="member")


class StudioMembership(Base):
    """A member of a studio, as its lead (领衔委员) or as a member."""

    __tablename__ = "studio_memberships"

    member_code: Mapped[str] = mapped_column(ForeignKey("members.code"), primary_key=True)
    studio_code: Mapped[str] = mapped_column(
        ForeignKey("studios.code"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(20), default="member")


class RosterDay(Base):
    """One reception duty (委员接待日值班): a date and time slot at a station or a studio."""

    __tablename__ = "roster_days"
    __table_args__ = (
        Index("ix_roster_station_date", "station_code", "day"),
        Index("ix_roster_studio_date", "studio_code", "day"),
    )

    code: Mapped[str] = mapped_column(String(100), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    slot: Mapped[str] = mapped_column(String(10))
    station_code: Mapped[str | None] = mapped_column(ForeignKey("stations.code"))
    studio_code: Mapped[str | None] = mapped_column(ForeignKey("studios.code"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    duties: Mapped[list[RosterDuty]] = relationship(
        cascade="all, delete-orphan", order_by="RosterDuty.member_code", lazy="selectin"
    )


class RosterDuty(Base):
    __tablename__ = "roster_duties"

    roster_code: Mapped[str] = mapped_column(ForeignKey("roster_days.code"), primary_key=True)
    member_code: Mapped[str] = mapped_column(
        ForeignKey("members.code"), primary_key=True, index=True
    )


class Account(Base):
    """Who may sign in (账号): the office, a station's or a studio's admin, or a member.

    ``stations`` / ``studios`` are the codes an admin looks after; ``member_code`` is the member
    a ``member`` account belongs to. Only the scrypt hash of the password is kept.
    """

    __tablename__ = "accounts"

    login: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    member_code: Mapped[str | None] = mapped_column(ForeignKey("members.code"))
    stations: Mapped[list] = mapped_column(JSON, default=list)
    studios: Mapped[list] = mapped_column(JSON, default=list)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revision: Mapped[int] = mapped_column(Integer, default=1)


class SignInFailure(Base):
    """A wrong password, kept for the throttle window: ``key`` is ``login:<x>`` or ``addr:<ip>``."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class Leader(Base):
    """A city CPPCC leader (市政协领导: 主席, 副主席, 秘书长) and the stations linked to him or her
    under the liaison system (领导对口联系)."""

    __tablename__ = "leaders"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(40))  # 职务, e.g. 副主席
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    stations: Mapped[list[LeaderStation]] = relationship(
        cascade="all, delete-orphan", order_by="LeaderStation.station_code", lazy="selectin"
    )


class LeaderStation(Base):
    __tablename__ = "leader_stations"

    leader_code: Mapped[str] = mapped_column(ForeignKey("leaders.code"), primary_key=True)
    station_code: Mapped[str] = mapped_column(
        ForeignKey("stations.code"), primary_key=True, index=True
    )


class LeaderVisit(Base):
    """A leader's field visit to a linked station (深入基层, 现场推进): what was pushed forward and
    who came. Withdrawn (``active`` false) rather than deleted, so its events stay true."""

    __tablename__ = "leader_visits"
    __table_args__ = (
        Index("ix_leader_visits_leader_day", "leader_code", "day"),
        Index("ix_leader_visits_station_day", "station_code", "day"),
    )

    visit_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    leader_code: Mapped[str] = mapped_column(ForeignKey("leaders.code"))
    station_code: Mapped[str] = mapped_column(ForeignKey("stations.code"))
    day: Mapped[date] = mapped_column(Date)
    purpose: Mapped[str] = mapped_column(String(500))
    others: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    members: Mapped[list[LeaderVisitMember]] = relationship(
        cascade="all, delete-orphan", order_by="LeaderVisitMember.member_code", lazy="selectin"
    )


class LeaderVisitMember(Base):
    """A member who came along on a leader's visit."""

    __tablename__ = "leader_visit_members"

    visit_id: Mapped[str] = mapped_column(ForeignKey("leader_visits.visit_id"), primary_key=True)
    member_code: Mapped[str] = mapped_column(
        ForeignKey("members.code"), primary_key=True, index=True
    )
