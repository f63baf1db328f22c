"""Writing many rows at once into empty tables (a rebuild): COPY on PostgreSQL, one plain
statement executed many times on SQLite, and the secondary indexes built after the rows.
"""

from __future__ import annotations

import io
from contextlib import contextmanager
from operator import attrgetter

from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex, DropIndex


@contextmanager
def indexes_after(session: Session, model):
    """Fill an empty table without its secondary indexes, then build them: one sort each
    instead of a B-tree insertion per row (the same indexes, by the model's definitions)."""
    conn = session.connection()
    indexes = sorted(model.__table__.indexes, key=attrgetter("name"))
    for index in indexes:
        conn.execute(DropIndex(index))
    yield
    for index in indexes:
        conn.execute(CreateIndex(index))


def bulk_insert(session: Session, model, columns, rows) -> None:
    """Insert many rows fast: COPY on PostgreSQL; on SQLite, executemany of one plain statement
    (values converted by each column's own type, as the ORM would store them)."""
    write_encoded(session, model, columns, encode(session.bind.dialect, model, columns, rows))


def encode(dialect, model, columns, rows, batch: int = 50_000) -> list:
    """``rows`` ready for :func:`write_encoded`, in batches: COPY text on PostgreSQL, tuples of
    values as each column's type stores them on SQLite (plain data: cheap to pickle)."""
    if dialect.name == "postgresql":
        out, lines, text = [], [], _text
        for row in rows:
            lines.append("\t".join(map(text, row)))
            if len(lines) >= 2 * batch:
                out.append("\n".join(lines) + "\n")
                lines = []
        if lines:
            out.append("\n".join(lines) + "\n")
        return out
    table = model.__table__
    convert = [
        (i, p)
        for i, p in enumerate(table.c[c].type.bind_processor(dialect) for c in columns)
        if p is not None
    ]
    out, chunk = [], []
    for row in rows:
        if convert:
            row = list(row)
            for i, p in convert:
                row[i] = p(row[i])
        chunk.append(tuple(row))
        if len(chunk) >= batch:
            out.append(chunk)
            chunk = []
    if chunk:
        out.append(chunk)
    return out


def write_encoded(session: Session, model, columns, encoded: list) -> None:
    """Store rows from :func:`encode`: COPY on PostgreSQL, executemany on SQLite."""
    table = model.__table__.name
    if session.bind.dialect.name == "postgresql":
        _copy(session, table, columns, encoded)
        return
    conn = session.connection()
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for chunk in encoded:
        conn.exec_driver_sql(sql, chunk)


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    return str(value)


def _copy(session: Session, table: str, columns, texts: list) -> None:
    """COPY each text. psycopg2 refuses COPY under a green wait callback (psycogreen), so the
    callback is off while it runs: a COPY blocks the process, which a rebuild may."""
    from psycopg2 import extensions

    cursor = session.connection().connection.dbapi_connection.cursor()
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    wait = extensions.get_wait_callback()
    extensions.set_wait_callback(None)
    try:
        for text in texts:
            cursor.copy_expert(sql, io.StringIO(text))
    finally:
        extensions.set_wait_callback(wait)
        cursor.close()
