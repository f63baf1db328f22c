"""The merge chain, walked once for every service that keeps one.

A merged case (or issue) names the case it follows (its 主案件) in ``merged_into``; that case may
follow another in turn. Intake, routing and reporting each keep ``merged_into`` in their own
tables, so each passes its own look-up; the walk itself, with its guards against a loop in a
hand-edited database and against a runaway chain, is written here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

MAX_CHAIN = 50  # merge_refusal never builds a longer chain; a longer one is a damaged database
MAX_FOLLOWERS = 10_000


def chain(start: str, next_of: Callable[[str], str | None], limit: int = MAX_CHAIN) -> list[str]:
    """``start`` and the cases it follows, in order: a merged case → its main → … → the root.

    ``next_of(number)`` is the case ``number`` follows, or None (not merged, or unknown)."""
    found = [start]
    while len(found) < limit:
        following = next_of(found[-1])
        if not following or following in found:
            break  # the root; or a loop, which no merge makes: do not walk it forever
        found.append(following)
    return found


def followers(
    start: str, followers_of: Callable[[list[str]], Iterable[str]], limit: int = MAX_FOLLOWERS
) -> list[str]:
    """Every case that follows ``start``, directly or through others, nearest first.

    ``followers_of(numbers)`` gives the cases whose ``merged_into`` is one of ``numbers``, in
    the order the caller wants them listed (oldest first, say)."""
    found: list[str] = []
    frontier = [start]
    while frontier and len(found) < limit:
        frontier = [n for n in followers_of(frontier) if n not in found and n != start]
        found += frontier
    return found
