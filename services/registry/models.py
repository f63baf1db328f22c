"""Registry tables. Every row has a public ``code`` and a ``revision`` bumped on each change."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


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
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)


class Member(Base):  # 政协委员
    __tablename__ = "members"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    sector_code: Mapped[str] = mapped_column(ForeignKey("sectors.code"))
    district: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    memberships: Mapped[list[Membership]] = relationship(
        cascade="all, delete-orphan", order_by="Membership.station_code", lazy="selectin"
    )


class Membership(Base):
    """A member serving at a station, as its lead (站长) or as a member."""

    __tablename__ = "memberships"

    member_code: Mapped[str] = mapped_column(ForeignKey("members.code"), primary_key=True)
    station_code: Mapped[str] = mapped_column(ForeignKey("stations.code"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), default="member")
