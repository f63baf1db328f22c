"""Rebuild the monthly figures from the event store: ``python -m services.reporting.rebuild``."""

from __future__ import annotations

import sys

from sqlalchemy.orm import Session

from services.kernel import config
from services.kernel.db import make_engine
from services.reporting import reporting


def main(db_url: str | None = None) -> int:
    url = db_url or config.load()["services"]["reporting"]["db_url"]
    engine = make_engine(url)

    def progress(done, total):
        if done == total or done % 1000 == 0:
            width = 30
            filled = width * done // max(total, 1)
            print(
                f"\r重建 rebuilding [{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
                end="",
                file=sys.stderr,
                flush=True,
            )

    try:
        with Session(engine) as session, session.begin():
            n = reporting.rebuild(session, progress)
    finally:
        engine.dispose()
    print(file=sys.stderr)
    return n


if __name__ == "__main__":
    print(f"{main(sys.argv[1] if len(sys.argv) > 1 else None)} events replayed")
