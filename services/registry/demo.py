"""The demo registries: the small one here, the full Lanzhou-shaped one in ``lanzhou.py``.

The small set (5 stations, 10 sectors, 14 members) is what the end-to-end tests assert against.
Stations and sectors are real names from the newspaper account; the members are invented
(名字为虚构的演示数据 / the names are fictitious). Loading twice changes nothing.

``python -m services.registry.demo [--set small|lanzhou] [--seed N] [--year YYYY] [--if-empty]
[DB_URL]`` loads one into the registry database (default: the full ``lanzhou`` set, into the
deployment's registry database); ``--if-empty`` loads only into a registry with no station,
which is what `make run` does.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import func, select

from services.kernel.db import make_engine
from services.registry.members import save_member
from services.registry.models import Station
from services.registry.places import save_sector, save_station

SETS = ("small", "lanzhou")

SECTORS = [
    ("minjian", "民建"),
    ("shehuikexue", "社会科学"),
    ("kexie", "科协"),
    ("jingji", "经济"),
    ("gongshanglian", "工商联"),
    ("qingnian", "共青团和青联"),
    ("jiaoyu", "教育"),
    ("yiyao", "医药卫生"),
    ("shaoshu", "少数民族"),
    ("shebao", "社会福利和社会保障"),
]

STATIONS = [
    ("gwm", "广武门街道委员工作站", "城关区", "street"),
    ("jnl", "培黎街道建宁路社区委员工作站", "安宁区", "community"),
    ("jql", "酒泉路街道委员工作站", "城关区", "street"),
    ("ytl", "银滩路街道委员工作站", "安宁区", "street"),
    ("sp", "树屏产业园委员工作站", "永登县", "park"),
]
# Approximate WGS-84 points of those streets and the park (demo data, a few hundred metres off)
POINTS = {
    "gwm": (36.0585, 103.8470),
    "jnl": (36.1020, 103.7250),
    "jql": (36.0570, 103.8290),
    "ytl": (36.0890, 103.7480),
    "sp": (36.4000, 103.6400),
}

# code, name, level, sector, district, [(station, role)]
MEMBERS = [
    ("m001", "王建国", "municipal", "jingji", "城关区", [("gwm", "lead")]),
    ("m002", "李红梅", "provincial", "jiaoyu", "城关区", [("gwm", "member")]),
    ("m003", "张志强", "county", "yiyao", "城关区", [("gwm", "member"), ("jql", "member")]),
    ("m004", "刘芳", "municipal", "shebao", "城关区", [("gwm", "member")]),
    ("m005", "陈立新", "municipal", "minjian", "安宁区", [("jnl", "lead")]),
    ("m006", "杨静", "county", "shehuikexue", "安宁区", [("jnl", "member")]),
    ("m007", "赵海涛", "municipal", "kexie", "安宁区", [("jnl", "member"), ("ytl", "member")]),
    ("m008", "马玉兰", "municipal", "shaoshu", "城关区", [("jql", "lead")]),
    ("m009", "孙伟", "county", "jiaoyu", "城关区", [("jql", "member")]),
    ("m010", "周晓燕", "provincial", "shebao", "安宁区", [("ytl", "lead")]),
    ("m011", "吴刚", "county", "yiyao", "安宁区", [("ytl", "member")]),
    ("m012", "郑凯", "municipal", "gongshanglian", "永登县", [("sp", "lead")]),
    ("m013", "冯丽", "county", "jingji", "永登县", [("sp", "member")]),
    ("m014", "韩磊", "national", "qingnian", "城关区", [("gwm", "member")]),
]


def load(session) -> int:
    """Save the demo registry through the registry's own rules; returns how many rows changed."""
    changed = 0
    for code, name in SECTORS:
        changed += save_sector(session, {"code": code, "name": name})[1]
    for code, name, district, kind in STATIONS:
        lat, lng = POINTS[code]
        record = {"code": code, "name": name, "district": district, "kind": kind}
        changed += save_station(session, record | {"lat": lat, "lng": lng})[1]
    for code, name, level, sector, district, stations in MEMBERS:
        changed += save_member(
            session,
            {
                "code": code,
                "name": name,
                "level": level,
                "sector": sector,
                "district": district,
                "stations": [{"station": s, "role": r} for s, r in stations],
            },
        )[1]
    return changed


def load_into(
    db_url: str, which: str = "small", seed: int | None = None, year=None, if_empty=False
) -> int | None:
    """Load a demo set into a registry database; None when ``if_empty`` found it in use."""
    from sqlalchemy.orm import Session

    from services.registry import lanzhou

    engine = make_engine(db_url)
    try:
        with Session(engine) as session, session.begin():
            if if_empty and session.scalar(select(func.count()).select_from(Station)):
                return None
            if which == "small":
                return load(session)
            return lanzhou.load(session, seed=lanzhou.SEED if seed is None else seed, year=year)
    finally:
        engine.dispose()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="load a demo registry / 载入演示数据")
    parser.add_argument("db_url", nargs="?", help="registry database (default: from the config)")
    parser.add_argument("--set", dest="which", choices=SETS, default="lanzhou")
    parser.add_argument("--seed", type=int, default=None, help="the full set's seed")
    parser.add_argument("--year", type=int, default=None, help="rosters for this year (now)")
    parser.add_argument("--if-empty", action="store_true", help="only into an empty registry")
    args = parser.parse_args(argv)
    url = args.db_url
    if url is None:
        from services.kernel import config

        url = config.load()["services"]["registry"]["db_url"]
    written = load_into(url, args.which, args.seed, args.year, args.if_empty)
    if written is None:
        print("demo registry: not empty, left as it is / 委员信息库已有数据，未载入")
    else:
        print(f"demo registry ({args.which}): {written} records written / 条记录已写入")
    return 0


if __name__ == "__main__":
    sys.exit(main())
