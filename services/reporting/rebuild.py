"""Rebuild the monthly figures from the event store: ``python -m services.reporting.rebuild``.

``--part i/n`` runs one helper process of a partitioned rebuild (started by
``reporting.rebuild`` itself, the database URL in ``LIANXIN_REBUILD_DB_URL``)."""

from __future__ import annotations

import argparse
import os
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
        try:
            with Session(engine) as session, session.begin():
                n = reporting.rebuild(session, progress)
        except reporting.HelperFailed as error:  # rolled back: once more, in this process alone
            print(
                f"\n辅助进程失败，单进程重建 a helper failed, rebuilding alone: {error}",
                file=sys.stderr,
            )
            with Session(engine) as session, session.begin():
                n = reporting.rebuild(session, progress, workers=1)
    finally:
        engine.dispose()
    print(file=sys.stderr)
    return n


def helper(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", required=True)
    for name in ("upto", "total", "chunk"):
        parser.add_argument(f"--{name}", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    part, parts = (int(n) for n in args.part.split("/"))
    return reporting.helper_main(
        os.environ["LIANXIN_REBUILD_DB_URL"],
        part,
        parts,
        args.upto,
        args.total,
        args.chunk,
        args.out,
    )


if __name__ == "__main__":
    if "--part" in sys.argv:
        sys.exit(helper(sys.argv[1:]))
    print(f"{main(sys.argv[1] if len(sys.argv) > 1 else None)} events replayed")
