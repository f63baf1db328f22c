"""The full demo registry shaped like Lanzhou's 2024 figures, generated for a seed.

126 workstations, 133 studios and about 2,200 members of four levels over the 30 sectors of a
municipal CPPCC and the 9 districts and counties, with a year of reception-day rosters; and the
city CPPCC's leaders (领导对口联系: a chair, five vice-chairs, a secretary-general), each linked
to a few stations, with a handful of their visits dated this year (never 2024, the replay's
year). Place names follow docs/reference/lanzhou.md; every person, phone number and most sites are
invented (演示数据，人员均为虚构 / demo data, the people are fictitious). The small demo set
(``demo.py``: stations gwm, jnl, jql, ytl, sp; members m001–m014) is part of it unchanged, so
the README's examples work against either. The same seed and year give the same registry.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from services.registry import demo, leaders, roster, rotation
from services.registry.members import save_member
from services.registry.places import save_sector, save_station, save_studio
from services.registry.saving import preload

SEED = 2024
SECTORS = [
    ("zhonggong", "中国共产党"),
    ("minge", "民革"),
    ("minmeng", "民盟"),
    ("minjian", "民建"),
    ("minjin", "民进"),
    ("nonggong", "农工党"),
    ("zhigong", "致公党"),
    ("jiusan", "九三学社"),
    ("wudangpai", "无党派人士"),
    ("qingnian", "共青团和青联"),
    ("zonggonghui", "总工会"),
    ("fulian", "妇联"),
    ("gongshanglian", "工商联"),
    ("kexie", "科协"),
    ("tailian", "台联"),
    ("qiaolian", "侨联"),
    ("wenhua", "文化艺术"),
    ("kexue", "科学技术"),
    ("shehuikexue", "社会科学"),
    ("jingji", "经济"),
    ("nongye", "农业"),
    ("jiaoyu", "教育"),
    ("tiyu", "体育"),
    ("xinwen", "新闻出版"),
    ("yiyao", "医药卫生"),
    ("duiwai", "对外友好"),
    ("shebao", "社会福利和社会保障"),
    ("shaoshu", "少数民族"),
    ("zongjiao", "宗教"),
    ("teyao", "特邀"),
]

# Streets (街道) and townships (镇/乡) per district or county; one station each, then more.
PLACES = {
    "城关区": "广武门 酒泉路 张掖路 白银路 皋兰路 东岗西路 临夏路 雁南 雁北 拱星墩 东岗 "
    "团结新村 伏龙坪 靖远路 草场街 火车站 五泉 铁路东村 铁路西村 渭源路 嘉峪关路 焦家湾 盐场路 "
    "青白石 高新区",
    "七里河区": "西园 西湖 建兰路 敦煌路 西站 秀川 龚家湾 土门墩 晏家坪 八里镇 彭家坪镇 阿干镇 "
    "西果园镇 魏岭乡 黄峪镇",
    "西固区": "陈坪 先锋路 福利路 西固城 四季青 临洮街 西柳沟 新城镇 东川镇 河口镇 达川镇 柳泉镇 金沟乡",
    "安宁区": "培黎 西路 沙井驿 十里店 孔家崖 银滩路 刘家堡 安宁堡",
    "红古区": "窑街 下窑 矿区 华龙 海石湾镇 花庄镇 平安镇 红古镇",
    "永登县": "城关镇 红城镇 中堡镇 武胜驿镇 河桥镇 连城镇 苦水镇 大同镇 龙泉寺镇 树屏镇",
    "皋兰县": "石洞镇 忠和镇 什川镇 九合镇 水阜镇 黑石镇",
    "榆中县": "城关镇 夏官营镇 高崖镇 金崖镇 和平镇 甘草店镇 青城镇 定远镇 连搭镇 新营镇 来紫堡乡",
    "兰州新区": "秦川镇 中川镇 上川镇 西岔镇",
}
DISTRICT_WEIGHT = {
    "城关区": 30,
    "七里河区": 15,
    "西固区": 11,
    "安宁区": 11,
    "红古区": 6,
    "永登县": 8,
    "皋兰县": 5,
    "榆中县": 9,
    "兰州新区": 5,
}
STATION_COUNT, STUDIO_COUNT, MEMBER_COUNT = 126, 133, 2200
# about 2,200 members of four levels in scope; county/district members are the most
LEVEL_COUNTS = {"national": 18, "provincial": 152, "municipal": 480, "county": 1550}
EXPERTISE = {
    "yiyao": ["义诊", "慢病管理", "中医", "儿科", "公共卫生"],
    "jiaoyu": ["校园安全", "假期课堂", "职业教育", "学前教育"],
    "jingji": ["企业经营", "营商环境", "金融"],
    "gongshanglian": ["企业经营", "民营经济", "营商环境"],
    "shehuikexue": ["基层协商", "社区治理", "法律咨询"],
    "kexie": ["科普", "安全隐患", "工程技术"],
    "kexue": ["科普", "工程技术", "数字化"],
    "shaoshu": ["民族团结", "特色产业", "民族美食"],
    "shebao": ["结对帮扶", "养老服务", "残疾人服务"],
    "nongye": ["乡村振兴", "农技推广", "特色种植"],
    "qingnian": ["青年就业", "志愿服务", "文体活动"],
    "fulian": ["家庭教育", "妇女儿童权益", "子女假期看护"],
    "zonggonghui": ["职工权益", "劳动保障"],
    "wenhua": ["非遗传承", "文艺演出"],
    "tiyu": ["全民健身", "青少年体育"],
}
GENERAL = ["物业管理服务", "环境卫生整治", "小区亮化绿化", "水电气暖保障", "法律咨询"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅志新海燕玉春晓东文斌鹏辉婷宇浩凯佳欣怡晨阳雪琳瑞博宁安兴福荣德"
TERMS = {
    "national": "2023-2028",
    "provincial": "2023-2028",
    "municipal": "2022-2027",
    "county": "2021-2026",
}
SLOTS = ("am", "pm")


# Where each district's stations are put: a box (lat from–to, lng from–to, WGS-84) around the
# district's built-up centre, so every demo point lies inside its district (approximate centres:
# 城关区 36.06N 103.83E, 七里河区 36.07N 103.78E, 西固区 36.09N 103.63E, 安宁区 36.10N 103.72E,
# 红古区 36.34N 102.86E, 永登县 36.74N 103.26E, 皋兰县 36.33N 103.95E, 榆中县 35.85N 104.11E,
# 兰州新区 36.50N 103.67E).
DISTRICT_BOXES = {
    "城关区": (36.045, 36.072, 103.80, 103.92),
    "七里河区": (35.98, 36.065, 103.745, 103.79),
    "西固区": (36.075, 36.115, 103.58, 103.68),
    "安宁区": (36.092, 36.118, 103.69, 103.76),
    "红古区": (36.31, 36.37, 102.80, 102.92),
    "永登县": (36.68, 36.79, 103.20, 103.31),
    "皋兰县": (36.29, 36.37, 103.91, 104.00),
    "榆中县": (35.81, 35.89, 104.04, 104.17),
    "兰州新区": (36.46, 36.55, 103.61, 103.72),
}


def place(code: str, district: str, seed: int = SEED) -> tuple[float, float]:
    """A demo point for ``code`` inside ``district``'s box: the same for the same seed and code,
    whatever else the generator draws (its own random stream)."""
    rng = random.Random(f"{seed}-place-{code}")
    lat_lo, lat_hi, lng_lo, lng_hi = DISTRICT_BOXES[district]
    return round(rng.uniform(lat_lo, lat_hi), 5), round(rng.uniform(lng_lo, lng_hi), 5)


def _placed(specs: list[dict], seed: int) -> None:
    """Coordinates for every spec: the small set's known points, a point in its district else."""
    for spec in specs:
        known = demo.POINTS.get(spec["code"]) if "sectors" not in spec else None
        spec["lat"], spec["lng"] = known or place(spec["code"], spec["district"], seed)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _extra_stations(rng: random.Random, specs: list[dict]) -> None:
    """The rest, up to STATION_COUNT: communities, enterprises and parks in the bigger districts."""
    extra = [("community", "社区"), ("enterprise", "企业"), ("park", "产业园")]
    districts = list(DISTRICT_WEIGHT)
    weights = [DISTRICT_WEIGHT[d] for d in districts]
    n = 0
    while len(specs) < STATION_COUNT:
        n += 1
        district = rng.choices(districts, weights)[0]
        kind, word = extra[n % 3]
        place = rng.choice(PLACES[district].split())
        street = place if place.endswith(("镇", "乡")) else f"{place}街道"
        specs.append(
            {
                "name": f"{place}第{n}{word}委员工作站",
                "district": district,
                "kind": kind,
                "street": street,
            }
        )


def _station_specs(rng: random.Random) -> list[dict]:
    small = {code: (name, district, kind) for code, name, district, kind in demo.STATIONS}
    specs = [
        {"code": code, "name": name, "district": district, "kind": kind, "street": ""}
        for code, (name, district, kind) in small.items()
    ]
    taken = {"广武门", "酒泉路", "银滩路", "培黎", "树屏镇"}
    for district, names in PLACES.items():
        for place in names.split():
            if place in taken:
                continue
            township = place.endswith(("镇", "乡"))
            street = place if township else f"{place}街道"
            specs.append(
                {
                    "name": f"{street}委员工作站",
                    "district": district,
                    "kind": "township" if township else "street",
                    "street": street,
                }
            )
    _extra_stations(rng, specs)
    for i, spec in enumerate(specs[len(small) :], start=len(small) + 1):
        spec["code"] = f"st{i:03d}"
    return specs[:STATION_COUNT]


# The real studios of the newspaper account, first and unchanged.
FIRST_STUDIOS = [
    {
        "code": "sd001",
        "name": "民建·社会科学·科协界别委员工作室",
        "district": "安宁区",
        "location": "培黎街道建宁路社区",
        "sectors": ["kexie", "minjian", "shehuikexue"],
    },
    {
        "code": "sd002",
        "name": "少数民族界别委员工作室",
        "district": "城关区",
        "location": "酒泉路街道南关民族风味一条街",
        "sectors": ["shaoshu"],
    },
    {
        "code": "sd003",
        "name": "经济·工商联界别“玫好协商”委员工作室",
        "district": "永登县",
        "location": "树屏产业园",
        "sectors": ["gongshanglian", "jingji"],
    },
    {
        "code": "sd004",
        "name": "共青团和青联界别“舞动青春”委员工作室",
        "district": "城关区",
        "location": "广武门街道",
        "sectors": ["qingnian"],
    },
    {
        "code": "sd005",
        "name": "教育界别委员工作室",
        "district": "西固区",
        "location": "兰炼二小",
        "sectors": ["jiaoyu"],
    },
    {
        "code": "sd006",
        "name": "医药卫生界别义诊委员工作室",
        "district": "城关区",
        "location": "广武门街道社区卫生服务中心",
        "sectors": ["yiyao"],
    },
]


def _studio_specs(rng: random.Random, stations: list[dict]) -> list[dict]:
    codes = [c for c, _ in SECTORS]
    names = dict(SECTORS)
    specs = [dict(s, sectors=list(s["sectors"])) for s in FIRST_STUDIOS]
    while len(specs) < STUDIO_COUNT:
        i = len(specs) + 1
        sectors = sorted(rng.sample(codes, rng.choice((1, 1, 1, 2, 2, 3))))
        host = rng.choice(stations)
        label = "·".join(names[s] for s in sectors)
        specs.append(
            {
                "code": f"sd{i:03d}",
                "name": f"{label}界别委员工作室（{host['street'] or host['name'][:4]}）",
                "district": host["district"],
                "location": host["street"] or host["name"],
                "sectors": sectors,
            }
        )
    return specs


def _small_members() -> list[dict]:
    """The small demo set's members, as the generator writes members."""
    return [
        {
            "code": code,
            "name": name,
            "level": level,
            "sector": sector,
            "district": district,
            "stations": [{"station": s, "role": r} for s, r in places],
        }
        for code, name, level, sector, district, places in demo.MEMBERS
    ]


def _generated_member(
    rng: random.Random, i: int, level: str, at_gwm: bool, by_district: dict, studios_by_sector: dict
) -> dict:
    """Member ``i`` of ``level``: a sector, a district and its stations, maybe a studio."""
    sector = rng.choice([c for c, _ in SECTORS])
    if at_gwm:
        district, places = "城关区", [{"station": "gwm", "role": "member"}]
    else:
        districts = list(DISTRICT_WEIGHT)
        district = rng.choices(districts, [DISTRICT_WEIGHT[d] for d in districts])[0]
        first = rng.choice(by_district[district])
        places = [{"station": first, "role": "member"}]
        if rng.random() < 0.1:
            second = rng.choice(by_district[district])
            if second != first:
                places.append({"station": second, "role": "member"})
    in_studios = []
    if rng.random() < 0.45 and sector in studios_by_sector:
        in_studios = [{"studio": rng.choice(studios_by_sector[sector])["code"]}]
    tags = EXPERTISE.get(sector, []) + GENERAL
    return {
        "code": f"m{i:04d}",
        "name": _name(rng),
        "level": level,
        "sector": sector,
        "district": district,
        "phone": f"139{rng.randrange(10**8):08d}",
        "expertise": sorted(rng.sample(tags, rng.choice((1, 2, 2, 3)))),
        "term": TERMS[level],
        "stations": places,
        "studios": in_studios,
    }


def _fill_empty_studios(rng: random.Random, members: list[dict], generated: int, studios):
    """A studio nobody joined by chance takes two generated members of its sectors (those
    from index ``generated`` on)."""
    joined = {p["studio"] for m in members for p in m.get("studios", [])}
    for studio in studios:
        if studio["code"] not in joined:
            fits = [m for m in members[generated:] if m["sector"] in studio["sectors"]]
            for m in rng.sample(fits, min(2, len(fits))):
                m["studios"].append({"studio": studio["code"]})


def _member_specs(rng: random.Random, stations: list[dict], studios: list[dict]) -> list[dict]:
    by_district = {}
    for s in stations:
        if s["code"] != "gwm":  # gwm's members are counted out below
            by_district.setdefault(s["district"], []).append(s["code"])
    studios_by_sector = {}
    for s in studios:
        for sector in s["sectors"]:
            studios_by_sector.setdefault(sector, []).append(s)
    small = _small_members()
    levels = [lv for lv, n in LEVEL_COUNTS.items() for _ in range(n)]
    for m in small:
        levels.remove(m["level"])
    rng.shuffle(levels)
    # the newspaper's 广武门: members of three levels, 75 of them, receive residents there
    gwm_extra = 75 - sum(1 for m in small if any(p["station"] == "gwm" for p in m["stations"]))
    members = list(small)
    for i, level in enumerate(levels, start=len(small) + 1):
        at_gwm = gwm_extra > 0 and level != "national"
        gwm_extra -= at_gwm
        members.append(_generated_member(rng, i, level, at_gwm, by_district, studios_by_sector))
    _fill_empty_studios(rng, members, len(small), studios)
    _name_leads(members, "stations", "station")
    _name_leads(members, "studios", "studio")
    return members


def _name_leads(members: list[dict], key: str, field: str) -> None:
    """Every station or studio without a lead gets its most senior member as lead."""
    seniority = {"national": 0, "provincial": 1, "municipal": 2, "county": 3}
    led = {p[field] for m in members for p in m.get(key, []) if p.get("role") == "lead"}
    candidates = {}
    for m in members:
        for p in m.get(key, []):
            if p[field] not in led:
                candidates.setdefault(p[field], []).append((seniority[m["level"]], m["code"], p))
    for options in candidates.values():
        min(options)[2]["role"] = "lead"


def generate(seed: int = SEED) -> dict:
    """The whole demo registry as plain records, the same for the same seed."""
    rng = random.Random(seed)
    stations = _station_specs(rng)
    studios = _studio_specs(rng, stations)
    members = _member_specs(rng, stations, studios)
    _placed(stations, seed)  # after the draws above: the same registry as before, now placed
    _placed(studios, seed)
    return {
        "sectors": [{"code": c, "name": n} for c, n in SECTORS],
        "stations": stations,
        "studios": studios,
        "members": members,
    }


def roster_plan(data: dict, year: int, seed: int = SEED) -> list[dict]:
    """A year of reception days: each station one a month, each studio one a quarter,
    spread over their members by the rotation rule, two on duty a day."""
    rng = random.Random(f"{seed}-{year}")
    serving = {}
    for m in data["members"]:
        for p in m["stations"]:
            serving.setdefault(("station", p["station"]), []).append(m["code"])
        for p in m.get("studios", []):
            serving.setdefault(("studio", p["studio"]), []).append(m["code"])
    days = []
    places = [("station", s["code"]) for s in data["stations"]]
    places += [("studio", s["code"]) for s in data["studios"]]
    for kind, code in places:
        members = serving.get((kind, code))
        if not members:
            continue
        weekday, slot = rng.randrange(5), rng.choice(SLOTS)
        months = range(1, 13) if kind == "station" else (3, 6, 9, 12)
        dates = []
        for month in months:
            candidates = rotation.month_days(f"{year}-{month:02d}", (weekday,))
            dates.append(candidates[rng.randrange(len(candidates))])
        for day, on_duty in rotation.plan_rotation(members, dates, per_day=2).items():
            days.append({"date": day.isoformat(), "slot": slot, kind: code, "members": on_duty})
    return days


def load(session, seed: int = SEED, year: int | None = None) -> int:
    """Save the demo registry through the registry's own rules; returns how many rows changed."""
    data = generate(seed)
    preload(session)
    changed = 0
    for kind, save in (
        ("sectors", save_sector),
        ("stations", save_station),
        ("studios", save_studio),
        ("members", save_member),
    ):
        for record in data[kind]:
            changed += save(session, record)[1]
        session.flush()  # one kind at a time: the next refers to these rows
    for day in roster_plan(data, year or date.today().year, seed):
        changed += roster.save_roster(session, day)[1]
    session.flush()
    for record in leader_plan(data, seed):
        changed += leaders.save_leader(session, record)[1]
    session.flush()
    for leader, visit in visit_plan(data, leaders.today(), seed):
        changed += leaders.save_visit(session, leader, visit)[1]
    return changed


# -- leader liaison (领导对口联系): the city CPPCC's leaders and a few visits of this year ------------

# code, name (invented), title; the chair takes the three stations of the 2024 provincial showcase
LEADERS = [
    ("ldr-zhao", "赵振华", "主席", ["gwm", "jnl", "ytl"]),
    ("ldr-ma", "马丽君", "副主席", ["jql"]),
    ("ldr-liu", "刘向东", "副主席", ["sp"]),
    ("ldr-wang", "王立新", "副主席", ["gwm"]),
    ("ldr-sun", "孙秀兰", "副主席", ["jnl"]),
    ("ldr-yang", "杨志刚", "副主席", ["ytl"]),
    ("ldr-chen", "陈建平", "秘书长", ["jql"]),
]
PUSHED = [
    "现场推进“委员码上见”线上接待，查看群众扫码反映问题的办理情况",
    "调研委员工作站规范化建设，听取站长和驻站委员意见",
    "督导委员接待日制度落实，检查值班表和接待记录",
    "参加“有事好商量”协商议事会，推动小区雨污管网隐患整改",
    "走访界别群众，了解假期课堂和子女看护需求",
    "推进“一委员联系一企业”，召开企业家座谈会",
    "检查民族团结进步创建和特色街区建设情况",
    "推动委员工作室与社区共建，协调义诊进社区",
]
DEMO_VISITS = 8


def leader_plan(data: dict, seed: int = SEED) -> list[dict]:
    """The leaders, each linked to its named stations and two more drawn for the seed."""
    rng = random.Random(f"{seed}-leaders")
    others = sorted(s["code"] for s in data["stations"] if s["code"] not in SMALL_STATIONS)
    return [
        {
            "code": code,
            "name": name,
            "title": title,
            "stations": sorted(set(named) | set(rng.sample(others, 2))),
        }  # fmt: skip
        for code, name, title, named in LEADERS
    ]


SMALL_STATIONS = {code for code, *_ in demo.STATIONS}


def visit_plan(data: dict, today: date, seed: int = SEED) -> list[tuple[str, dict]]:
    """A handful of visits dated this year up to ``today`` (never another year: the 2024
    replay adds 2024's 46 and counts them exactly), with members of the station who came."""
    if today.year == 2024:  # the replay's year holds the replay's visits alone
        return []
    rng = random.Random(f"{seed}-visits-{today.year}")
    serving = {}
    for m in data["members"]:
        for p in m["stations"]:
            serving.setdefault(p["station"], []).append(m["code"])
    first = date(today.year, 1, 1)
    visits, plan = [], leader_plan(data, seed)
    for n in range(DEMO_VISITS):
        leader = plan[n % len(plan)]
        station = rng.choice(leader["stations"])
        day = first + timedelta(days=rng.randrange((today - first).days + 1))
        there = serving.get(station, [])
        came = sorted(rng.sample(there, min(2, len(there))))
        visit = {"visit_id": f"demo-{today.year}-{n + 1:02d}", "station": station,
                 "date": day.isoformat(), "purpose": PUSHED[n % len(PUSHED)], "members": came,
                 "others": "所在区县政协、街道负责同志"}  # fmt: skip
        visits.append((leader["code"], visit))
    return visits
