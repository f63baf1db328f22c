"""Full-text search over the citizen's words of a case (description and place, as intake masked
them: a phone or identity number typed into them is never searchable), through a real index.

- **SQLite** (the embedded default): the FTS5 table ``case_search`` with the trigram tokenizer,
  kept by triggers on ``cases`` (same transaction as the case's row; migration a7c3f19e5d20).
  A query of 3 characters or more is an FTS5 phrase: ``"路灯不亮"`` matches any text containing
  it, in the middle of a sentence too (Chinese has no spaces; trigrams need none).
- **PostgreSQL**: a pg_trgm GIN index on the same words; the query is an ``ILIKE '%…%'`` on the
  indexed expression, which the planner answers from the index.
- **Short queries** (1 or 2 characters: no trigram to look up) fall back to a bounded ``LIKE``:
  only over the newest :data:`SHORT_SCAN` cases the other filters leave (and the caller's
  scope). The page and the JSON say so (``short_query``).

:func:`condition` gives the SQL condition; the rest of the query (filters, scope, sort, paging)
is :mod:`services.routing.office`'s.
"""

from __future__ import annotations

from sqlalchemy import func, literal_column, select, text
from sqlalchemy.sql.elements import ColumnElement

from services.routing.models import Case

QUERY_MAX = 50  # characters of a search string
TRIGRAM = 3  # the shortest query the index can answer
SHORT_SCAN = 5000  # the newest cases a 1–2 character query looks through

# The words as the PostgreSQL index holds them: this exact expression (migration a7c3f19e5d20).
WORDS = (
    func.coalesce(Case.description, literal_column("''"))
    .op("||")(literal_column("' '"))
    .op("||")(func.coalesce(Case.place, literal_column("''")))
)


def is_short(q: str) -> bool:
    return len(q) < TRIGRAM


def _like_pattern(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def condition(dialect: str, q: str, many: bool = False) -> ColumnElement[bool]:
    """Cases whose words contain ``q`` (3+ characters: through the index). ``many``: the caller
    knows there are many matches and reads them newest first: on SQLite the case's number is
    then looked up in the matches (``number || ''`` keeps the planner on the receipt index, which
    stops after a page) instead of fetching and sorting every match."""
    if dialect == "sqlite":
        phrase = '"' + q.replace('"', '""') + '"'
        hits = (
            select(text("tracking_number"))
            .select_from(text("case_search"))
            .where(text("case_search MATCH :phrase").bindparams(phrase=phrase))
        )
        number = (
            Case.tracking_number.op("||")(literal_column("''")) if many else Case.tracking_number
        )
        return number.in_(hits)
    return WORDS.ilike(_like_pattern(q), escape="\\")


def index_count(session, dialect: str, q: str) -> int | None:
    """How many cases' words contain ``q``, from the index alone (SQLite FTS5: cheap, it reads
    no case); None where the index cannot say it cheaply (PostgreSQL)."""
    if dialect != "sqlite":
        return None
    phrase = '"' + q.replace('"', '""') + '"'
    return session.scalar(
        text("SELECT count(*) FROM case_search WHERE case_search MATCH :phrase"),
        {"phrase": phrase},
    )


def short_condition(q: str) -> ColumnElement[bool]:
    """A 1–2 character query: a plain LIKE (the caller bounds the rows it scans)."""
    return WORDS.ilike(_like_pattern(q), escape="\\")
