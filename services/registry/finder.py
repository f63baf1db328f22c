"""The public station finder (``GET /finder``) and each place's reception-day calendar
(``GET /<stations|studios>/<code>/reception.ics``): no sign-in, phone first, Chinese first.

What they show is what the QR poster already shows in public: a station's or studio's name,
district, street or location, its QR page, and the reception days (委员接待日) of the rosters
with the names and sectors of the members on duty. No phone number, no account, nothing of a
citizen. Everything the page needs is in the page (its style, its script and an inline SVG map
of the points, projected from WGS-84 into the box): no tile server, no script from elsewhere.

"离我最近 / nearest to me" asks the browser for its location only when tapped (the browser asks
the person first); the page's script sorts the list by great-circle distance, in the browser:
the location is never sent to us.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, time, timedelta
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.kernel.dates import CHINA, day_en, day_zh
from services.kernel.http import ApiError
from services.registry import qr
from services.registry.models import (
    Member,
    Membership,
    RosterDay,
    Sector,
    Station,
    Studio,
    StudioSector,
)
from services.registry.schemas import DISTRICTS, SLOT_NAMES

NEXT_DAYS = 3  # reception days shown per place on the page
MAX_SECTORS_SHOWN = 8  # a station's members' sectors named on the page (all filter it)
HORIZON_DAYS = 366  # how far ahead the page and the calendar look
# When a reception day's slot is held, Beijing time (the calendar's DTSTART/DTEND)
SLOT_HOURS = {"am": (time(9), time(12)), "pm": (time(14, 30), time(17, 30))}
SLOT_HOURS["day"] = (time(9), time(17, 30))
SLOT_EN = {"am": "morning", "pm": "afternoon", "day": "all day"}


def today() -> date:
    """Today in Beijing: the first day the finder and the calendars show."""
    return datetime.now(CHINA).date()


# -- what is shown ------------------------------------------------------------------------------


def _days(session: Session, today: date, station=None, studio=None) -> dict:
    """(kind, code) → the active reception days from ``today`` on, each with who is on duty
    (active members: name and sector name), in date and slot order."""
    sectors = dict(session.execute(select(Sector.code, Sector.name)).all())
    members = {
        code: {"name": name, "sector": sectors.get(sector, sector)}
        for code, name, sector in session.execute(
            select(Member.code, Member.name, Member.sector_code).where(Member.active)
        )
    }
    query = select(RosterDay).where(
        RosterDay.active,
        RosterDay.day >= today,
        RosterDay.day <= today + timedelta(days=HORIZON_DAYS),
    )
    if station:
        query = query.where(RosterDay.station_code == station)
    if studio:
        query = query.where(RosterDay.studio_code == studio)
    found: dict = {}
    order = list(SLOT_HOURS)
    for r in session.scalars(query.order_by(RosterDay.day, RosterDay.code)):
        key = ("station", r.station_code) if r.station_code else ("studio", r.studio_code)
        on_duty = [members[d.member_code] for d in r.duties if d.member_code in members]
        found.setdefault(key, []).append(
            {"code": r.code, "day": r.day, "slot": r.slot, "members": on_duty}
        )
    for days in found.values():
        days.sort(key=lambda d: (d["day"], order.index(d["slot"]) if d["slot"] in order else 9))
    return found


def places(session: Session, today: date) -> list[dict]:
    """Every active station and studio as the finder shows it, stations first, by district."""
    sectors = dict(session.execute(select(Sector.code, Sector.name)).all())
    days = _days(session, today)
    station_sectors: dict[str, set] = {}
    for station, sector in session.execute(
        select(Membership.station_code, Member.sector_code)
        .join(Member, Member.code == Membership.member_code)
        .where(Member.active)
    ):
        station_sectors.setdefault(station, set()).add(sector)
    studio_sectors: dict[str, set] = {}
    for studio, sector in session.execute(
        select(StudioSector.studio_code, StudioSector.sector_code)
    ):
        studio_sectors.setdefault(studio, set()).add(sector)
    found = []
    for s in session.scalars(select(Station).where(Station.active).order_by(Station.code)):
        found.append(_place("station", s, s.street, station_sectors))
    for s in session.scalars(select(Studio).where(Studio.active).order_by(Studio.code)):
        found.append(_place("studio", s, s.location, studio_sectors))
    for p in found:
        p["sector_names"] = [sectors.get(c, c) for c in p["sectors"]]
        p["next"] = days.get((p["kind"], p["code"]), [])[:NEXT_DAYS]
    rank = {d: i for i, d in enumerate(DISTRICTS)}
    found.sort(key=lambda p: (p["kind"] != "station", rank.get(p["district"], 99), p["code"]))
    return found


def _place(kind: str, row, address: str, sectors: dict) -> dict:
    return {
        "kind": kind,
        "code": row.code,
        "name": row.name,
        "district": row.district,
        "address": address,
        "lat": row.lat,
        "lng": row.lng,
        "sectors": sorted(sectors.get(row.code, ())),
    }


# -- the page -----------------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:0;background:#f5f5f5;
color:#222}header{background:#b71c1c;color:#fff;padding:12px 16px}h1{font-size:1.15em;margin:0}
.en{color:#777;font-size:.85em}header .en{color:#ffd}main{padding:12px;max-width:640px;margin:auto}
.filters{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:10px}
.filters label{flex:1 1 140px;font-size:.9em}
select,button{width:100%;box-sizing:border-box;font-size:1em;padding:9px;margin-top:4px}
button{border:0;border-radius:6px;background:#1565c0;color:#fff}
#status{font-size:.9em;color:#555;min-height:1.2em;margin:4px 0}
#map{width:100%;height:auto;background:#e8eef3;border-radius:8px;display:block}
#map .labels{font-size:9px;text-anchor:middle;fill:#333;stroke:#fff;stroke-width:2.5px;
paint-order:stroke}#map .station{fill:#b71c1c}#map .studio{fill:#1565c0}#map .me{fill:#2e7d32;stroke:#fff}
.legend{font-size:.8em;color:#555;margin:4px 0 10px}.dot{display:inline-block;width:9px;height:9px;
border-radius:50%;margin:0 3px 0 8px}
ol{list-style:none;padding:0;margin:0}li.place{background:#fff;border-radius:8px;padding:10px 12px;
margin-bottom:10px}li.place h2{font-size:1.02em;margin:0 0 4px}.kind{font-size:.75em;color:#fff;
border-radius:4px;padding:1px 5px;margin-right:6px;vertical-align:middle}
.kind.station{background:#b71c1c}.kind.studio{background:#1565c0}
.meta{font-size:.88em;color:#444;margin:2px 0}.days{font-size:.88em;margin:6px 0;padding-left:1em}
.links a{display:inline-block;margin:6px 12px 0 0;color:#1565c0}.distance{color:#2e7d32;
font-weight:bold}.none{color:#777;font-size:.88em}[hidden]{display:none!important}
"""

SCRIPT = r"""
(function(){
var list=document.getElementById('places'),district=document.getElementById('district'),
sector=document.getElementById('sector'),status=document.getElementById('status');
function filter(){var d=district.value,s=sector.value,n=0;
 Array.prototype.forEach.call(list.children,function(li){
  var show=(!d||li.dataset.district===d)&&(!s||(' '+li.dataset.sectors+' ').indexOf(' '+s+' ')>=0);
  li.hidden=!show;if(show)n++;
  var dot=document.getElementById('pt-'+li.dataset.kind+'-'+li.dataset.code);
  if(dot)dot.style.display=show?'':'none';});
 document.getElementById('count').textContent=n;}
district.addEventListener('change',filter);sector.addEventListener('change',filter);
function km(a,b,c,d){var r=Math.PI/180,x=Math.sin((c-a)*r/2),y=Math.sin((d-b)*r/2);
 var h=x*x+Math.cos(a*r)*Math.cos(c*r)*y*y;return 2*6371.0088*Math.asin(Math.min(1,Math.sqrt(h)));}
document.getElementById('nearest').addEventListener('click',function(){
 if(!navigator.geolocation){status.textContent='此浏览器不能定位，请选择区县 / no location here: choose a district';return;}
 status.textContent='正在获取位置… / finding where you are…';
 navigator.geolocation.getCurrentPosition(function(pos){
  var lat=pos.coords.latitude,lng=pos.coords.longitude,items=Array.prototype.slice.call(list.children);
  items.forEach(function(li){var d=li.dataset.lat?km(lat,lng,+li.dataset.lat,+li.dataset.lng):Infinity;
   li.dataset.km=d;var el=li.querySelector('.distance');
   el.textContent=isFinite(d)?'约'+d.toFixed(1)+'公里 / '+d.toFixed(1)+' km':'';});
  items.sort(function(a,b){return a.dataset.km-b.dataset.km;});
  items.forEach(function(li){list.appendChild(li);});
  district.value='';filter();
  var me=document.getElementById('me'),p=project(lat,lng);
  if(p){me.setAttribute('cx',p[0]);me.setAttribute('cy',p[1]);me.style.display='';}
  status.textContent='已按距离排序，最近的在最前 / sorted by distance, nearest first';
 },function(){status.textContent='未能获取位置，请选择区县 / location not available: choose a district';},
 {enableHighAccuracy:false,timeout:15000,maximumAge:60000});});
var box=JSON.parse(document.getElementById('map').dataset.box);
function project(lat,lng){var x=(lng-box.w)*box.k+box.px,y=(box.n-lat)*box.ky+box.py;
 if(x<0||y<0||x>box.W||y>box.H)return null;return[x.toFixed(1),y.toFixed(1)];}
filter();})();
"""

MAP_W, MAP_H, MAP_PAD = 320, 240, 14
BELOW = ("七里河区", "西固区")  # their labels go under their points, clear of 城关区's and 安宁区's


def _map(found: list[dict]) -> str:
    """An inline SVG of the placed points: longitude scaled by cos(latitude) so the city keeps
    its shape; the box's projection is in ``data-box`` for the page's "you are here" dot."""
    placed = [p for p in found if p["lat"] is not None]
    if not placed:
        return ""
    lats, lngs = [p["lat"] for p in placed], [p["lng"] for p in placed]
    south, north, west, east = min(lats), max(lats), min(lngs), max(lngs)
    squeeze = math.cos(math.radians((south + north) / 2))
    span_x = max((east - west) * squeeze, 1e-6)
    span_y = max(north - south, 1e-6)
    scale = min((MAP_W - 2 * MAP_PAD) / span_x, (MAP_H - 2 * MAP_PAD) / span_y)
    # the points' box centred in the map's
    pad_x = (MAP_W - span_x * scale) / 2
    pad_y = (MAP_H - span_y * scale) / 2
    box = {"w": west, "n": north, "k": scale * squeeze, "ky": scale, "px": pad_x, "py": pad_y}
    box |= {"W": MAP_W, "H": MAP_H}
    dots = []
    for p in placed:
        x = (p["lng"] - west) * box["k"] + pad_x
        y = (north - p["lat"]) * scale + pad_y
        dots.append(
            f'<circle id="pt-{p["kind"]}-{escape(p["code"])}" class={p["kind"]} cx="{x:.1f}" '
            f'cy="{y:.1f}" r="{4 if p["kind"] == "station" else 3}">'
            f"<title>{escape(p['name'])}</title></circle>"
        )
    labels = []  # each district's name above its points (below for the two west of 城关区's)
    for district in DISTRICTS:
        mine = [p for p in placed if p["district"] == district]
        if not mine:
            continue
        lng = sum(p["lng"] for p in mine) / len(mine)
        x = (lng - west) * box["k"] + pad_x
        if district in BELOW:
            y = (north - min(p["lat"] for p in mine)) * scale + pad_y + 14
        else:
            y = (north - max(p["lat"] for p in mine)) * scale + pad_y - 6
        labels.append(
            f'<text x="{min(max(x, 24), MAP_W - 24):.1f}" y="{min(max(y, 10), MAP_H - 3):.1f}">'
            f"{district}</text>"
        )
    return (
        f'<svg id=map viewBox="0 0 {MAP_W} {MAP_H}" role=img data-box="{escape(json.dumps(box))}"'
        ' aria-label="工作站和工作室的位置 / where the stations and studios are">'
        + "".join(dots)
        + "<g class=labels>"
        + "".join(labels)
        + "</g>"
        + '<circle id=me class=me r="6" cx="0" cy="0" style="display:none"><title>我的位置 / you'
        "</title></circle></svg>"
        '<p class=legend><span class=dot style="background:#b71c1c"></span>委员工作站 station'
        '<span class=dot style="background:#1565c0"></span>委员工作室 studio'
        '<span class=dot style="background:#2e7d32"></span>我 you</p>'
    )


def _day_line(d: dict) -> str:
    names = "、".join(f"{m['name']}（{m['sector']}）" for m in d["members"]) or "待定 / to be set"
    return (
        f"<li>{escape(day_zh(d['day']))} {SLOT_NAMES.get(d['slot'], d['slot'])}"
        f" <span class=en>{escape(day_en(d['day']))}, {SLOT_EN.get(d['slot'], '')}</span>"
        f"：{escape(names)}</li>"
    )


def _item(p: dict, intake_url: str) -> str:
    kind_zh = "工作站" if p["kind"] == "station" else "工作室"
    qr_page = qr.target_url(intake_url, p["kind"], p["code"])
    ics = f"{p['kind']}s/{p['code']}/reception.ics"
    days = (
        "<ul class=days>" + "".join(_day_line(d) for d in p["next"]) + "</ul>"
        if p["next"]
        else "<p class=none>暂无排定的接待日 / no reception day scheduled</p>"
    )
    coords = f' data-lat="{p["lat"]}" data-lng="{p["lng"]}"' if p["lat"] is not None else ""
    sectors = "、".join(p["sector_names"][:MAX_SECTORS_SHOWN])
    if len(p["sector_names"]) > MAX_SECTORS_SHOWN:
        sectors += f" 等{len(p['sector_names'])}个 / {len(p['sector_names'])} in all"
    return (
        f'<li class=place data-kind={p["kind"]} data-code="{escape(p["code"])}"'
        f' data-district="{escape(p["district"])}" data-sectors="{escape(" ".join(p["sectors"]))}"'
        f"{coords}><h2><span class='kind {p['kind']}'>{kind_zh}</span>{escape(p['name'])}</h2>"
        f"<p class=meta>{escape(p['district'])}"
        + (f" · {escape(p['address'])}" if p["address"] else "")
        + " <span class=distance></span></p>"
        + (
            f"<p class=meta>界别 <span class=en>sectors</span>：{escape(sectors)}</p>"
            if sectors
            else ""
        )
        + "<p class=meta>近期委员接待日 <span class=en>next reception days</span></p>"
        + days
        + f'<p class=links><a class=qr href="{escape(qr_page)}">扫码反映问题 <span class=en>'
        f'write to the members</span></a><a class=ics href="{escape(ics)}">订阅接待日 <span '
        "class=en>calendar (.ics)</span></a></p></li>"
    )


def page(found: list[dict], intake_url: str) -> str:
    """The finder: filters, the map, the list (every place, filtered in the page)."""
    districts = "".join(
        f'<option value="{d}">{d}</option>'
        for d in DISTRICTS
        if any(p["district"] == d for p in found)
    )
    sector_names = {
        c: n for p in found for c, n in zip(p["sectors"], p["sector_names"], strict=True)
    }
    sectors = "".join(
        f'<option value="{escape(c)}">{escape(n)}</option>'
        for c, n in sorted(sector_names.items(), key=lambda x: x[0])
    )
    items = "".join(_item(p, intake_url) for p in found)
    return (
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        "<title>找委员 · 工作站和工作室 Find a member station · 连心</title>"
        f"<style>{STYLE}</style></head><body><header><h1>找委员：工作站和工作室 "
        "<span class=en>Find a member workstation or studio</span></h1></header><main>"
        "<div class=filters><label>区县 <span class=en>district</span>"
        f"<select id=district><option value=''>全部区县 / all</option>{districts}</select></label>"
        "<label>界别 <span class=en>sector</span>"
        f"<select id=sector><option value=''>全部界别 / all</option>{sectors}</select></label>"
        "<label>&nbsp;<button id=nearest type=button>离我最近 <span class=en style='color:#dde'>"
        "nearest to me</span></button></label></div>"
        "<p id=status>点“离我最近”时才会询问您的位置，位置只在本机使用 / your location is asked "
        "only when you tap “nearest to me”, and stays on your phone</p>"
        f"{_map(found)}"
        "<p class=meta>共 <b id=count></b> 处 <span class=en>places shown</span></p>"
        f"<ol id=places>{items}</ol></main><script>{SCRIPT}</script></body></html>"
    )


# -- the calendar (RFC 5545) ---------------------------------------------------------------------


def _ical_text(value: str) -> str:
    """A TEXT value escaped (RFC 5545 §3.3.11)."""
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """One content line folded at 75 octets (RFC 5545 §3.1), never inside a UTF-8 character:
    each further part starts with a space; the lines end in CRLF."""
    out, part, size = [], "", 0
    for ch in line:
        n = len(ch.encode("utf-8"))
        limit = 75 if not out else 74  # a continuation's leading space is one of its 75
        if size + n > limit:
            out.append(part)
            part, size = "", 0
        part += ch
        size += n
    out.append(part)
    return "\r\n ".join(out) + "\r\n"


def _utc(day: date, at: time) -> str:
    return datetime.combine(day, at, CHINA).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar(session: Session, kind: str, code: str, today: date, now: datetime) -> bytes:
    """The place's reception days from ``today`` on as an iCalendar file; 404 for a place that
    is unknown or no longer active."""
    model = Station if kind == "station" else Studio
    row = session.get(model, code)
    if row is None or not row.active:
        raise ApiError("not_found", f"未找到：{code}", f"no active {kind} {code}", status=404)
    days = _days(session, today, **{kind: code}).get((kind, code), [])
    where = " ".join(
        x for x in (row.district, row.street if kind == "station" else row.location) if x
    )
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Lianxin//Reception days 委员接待日//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_ical_text(row.name + ' 委员接待日')}",
        "X-WR-TIMEZONE:Asia/Shanghai",
    ]
    for d in days:
        start, end = SLOT_HOURS.get(d["slot"], SLOT_HOURS["day"])
        names = "、".join(f"{m['name']}（{m['sector']}）" for m in d["members"])
        on_duty = f"值班委员 members on duty: {names or '待定 / to be set'}"
        lines += [
            "BEGIN:VEVENT",
            f"UID:{d['code']}@lianxin",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{_utc(d['day'], start)}",
            f"DTEND:{_utc(d['day'], end)}",
            f"SUMMARY:{_ical_text(f'委员接待日 {row.name}')}",
            f"LOCATION:{_ical_text(where or row.name)}",
            f"DESCRIPTION:{_ical_text(on_duty)}",
        ]
        if row.lat is not None:
            lines.append(f"GEO:{row.lat};{row.lng}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "".join(fold(line) for line in lines).encode("utf-8")
