"""Merged reports, as reporting sees them: a resolved matter serves every report merged into it.

Two questions about merges: which reports a matter serves (the case and everything that
follows it, walked by :func:`services.kernel.merges.followers` over the projections' state),
and, for a rebuild split between processes, which cases must stay in one process (every case
linked to another by merges: a grouping of the whole store, not a walk from one case).
"""

from __future__ import annotations

from collections.abc import Iterable

from services.kernel.merges import followers


def served_group(facts, main) -> list:
    """``main`` and every case merged into it, directly or through another."""
    numbers = followers(
        main.tracking_number,
        lambda frontier: [f.tracking_number for f in facts.merged_into(frontier)],
    )
    return [main, *map(facts.case, numbers)]


def merge_groups(merges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Cases linked by ``merges`` (pairs of a merged case and the case it went into), each
    mapped to one case of its group (union-find): a group's events must go to one process of a
    split rebuild, since serving a matter's reporters walks the whole group."""
    parent: dict[str, str] = {}

    def root(n):
        while parent.get(n, n) != n:
            n = parent[n]
        return n

    for a, b in merges:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[ra] = rb
    return {n: root(n) for n in parent} | {r: r for r in set(parent.values())}
