"""Reporting tables: the append-only event store and the figures projected from it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
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

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # 2026-11, Beijing time
    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
