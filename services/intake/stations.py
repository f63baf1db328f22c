"""Which stations an intake process serves (``services.intake.stations``, ``INTAKE_STATIONS``)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class StationSelection:
    """Which stations an intake process serves: every one, a list, or a share of all.

    ``all``; ``gwm,jnl``; or ``shard:<i>/<n>``: the stations whose code hashes (CRC-32) to
    ``i`` modulo ``n``, so ``n`` processes with ``shard:0/n`` … ``shard:<n-1>/n`` split every
    station between them, stations created later included, each taken exactly once.
    """

    codes: tuple[str, ...] | None = None
    shard: tuple[int, int] | None = None

    def serves(self, code: str) -> bool:
        if self.codes is not None:
            return code in self.codes
        if self.shard is not None:
            index, count = self.shard
            return zlib.crc32(code.encode("utf-8")) % count == index
        return True


def station_selection(value) -> StationSelection:
    """Parse ``services.intake.stations`` (or ``INTAKE_STATIONS``)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "all")):
        return StationSelection()
    if isinstance(value, str) and value.strip().startswith("shard:"):
        index, _, count = value.strip().removeprefix("shard:").partition("/")
        index, count = int(index), int(count)
        if not 0 <= index < count:
            raise ValueError(f"bad station shard {value!r}: want shard:<i>/<n> with 0 <= i < n")
        return StationSelection(shard=(index, count))
    if isinstance(value, str):
        value = value.split(",")
    return StationSelection(codes=tuple(sorted({str(v).strip() for v in value if str(v).strip()})))
