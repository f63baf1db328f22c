"""The kernel's own tables, present in every service's database: outbox, inbox, parked."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator):
    """A timestamp kept in UTC and always read back zone-aware, on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give a zone (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class KernelBase(DeclarativeBase):
    pass


class OutboxMessage(KernelBase):
    """An event written in the same transaction as the change that caused it (发件箱)."""

    __tablename__ = "kernel_outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    exchange: Mapped[str] = mapped_column(String(100))
    routing_key: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)


class ProcessedMessage(KernelBase):
    """A message a consumer has handled; written in the handler's own transaction.

    ``body_hash`` (hex SHA-256 of the body) tells a redelivery (same body) from another message
    sent under the same id (a conflict); None on records made before it was kept."""

    __tablename__ = "kernel_processed"

    consumer: Mapped[str] = mapped_column(String(200), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    body_hash: Mapped[str | None] = mapped_column(String(64))


class ParkedMessage(KernelBase):
    """A message whose handler kept failing (``kind`` failed), or one that reused a handled
    message's id with another body (``kind`` conflict): kept whole with its error, to list and
    replay or discard. A discard keeps the row, with who, when and why."""

    __tablename__ = "kernel_parked"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(String(200), index=True)
    queue: Mapped[str] = mapped_column(String(200))
    exchange: Mapped[str] = mapped_column(String(100), default="")
    routing_key: Mapped[str] = mapped_column(String(200), default="")
    message_id: Mapped[str | None] = mapped_column(String(100))
    content_type: Mapped[str | None] = mapped_column(String(100))
    headers: Mapped[str] = mapped_column(Text, default="{}")
    body: Mapped[bytes] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text)
    parked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(20), default="failed", server_default="failed")
    body_hash: Mapped[str | None] = mapped_column(String(64))
    discarded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    discarded_by: Mapped[str | None] = mapped_column(String(100))
    discard_reason: Mapped[str | None] = mapped_column(Text)


class SessionEnd(KernelBase):
    """An account whose sessions ended before their tokens expire (``kernel/sessions.py``): a
    token issued at or before ``ended_ms`` is refused."""

    __tablename__ = "kernel_sessions_ended"

    login: Mapped[str] = mapped_column(String(100), primary_key=True)
    ended_ms: Mapped[int] = mapped_column(BigInteger)  # unix milliseconds
