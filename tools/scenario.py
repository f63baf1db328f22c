"""The Lanzhou 2024 scenario: a year of activity replayed in 2024, whose ground truth is the city's
own 2024 figures (docs/reference/lanzhou.md), compared exactly.

``python -m tools.scenario [--scale 1.0] [--seed 2024]`` (``make scenario``) starts a stack of
its own (the four services on free ports, private SQLite databases in a new directory, a
private RabbitMQ vhost, the full Lanzhou demo registry), so no other traffic can disturb the
figures, and replays into it:

- reception days (委员接待日): ``round(1290 × scale)`` activities of kind ``reception_day``,
  dated through 2024, at the registry's stations, recorded by the office
  (``POST /staff/activities``), with ``round(7600 × scale)`` people served in all;
- matters handled (帮办实事): ``round(613 × scale)`` issues, each submitted on a day of 2024,
  sent over the AMQP channel as the operator's replay (the office's token in the
  ``lianxin-operator`` header: received at their ``submitted_at``), answered and resolved a few
  hours later (``POST /cases/<n>/actions/…`` with a back-dated ``at``): both are operator-only
  and only this stack allows them (``LIANXIN_BACKDATING``, docs/security.md "Back-dating").
  A tenth more are sent and left open, so resolved is not simply "everything";
- leader visits (领导走访): ``round(46 × scale)`` visits dated in 2024 (``POST
  /leaders/<code>/visits``), when the registry has leaders;
- stations, studios, members: what the registry holds (the full demo set: 126, 133, ~2,200 at
  four levels, per level as the registry counts them).

It then waits until the pipeline is idle (every queue empty, every outbox sent, reporting's
event store quiet), reads the 2024 yearly figures from the dashboard page, the JSON
(``/stats/yearly``) and the twelve monthly workbooks (``/stats/monthly.xlsx``, summed), rebuilds
reporting's figures from its event store and reads them again, and prints one row per figure
with ``=`` or ``≠``. The exit code is 0 only when every row is ``=``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pika
import requests
from pika.adapters.utils.connection_workflow import AMQPConnectorException

from services.kernel import auth, backdating
from services.kernel.config import ROOT

CHINA = ZoneInfo("Asia/Shanghai")
YEAR = 2024
GROUND_TRUTH = {
    "stations": 126,
    "studios": 133,
    "reception_days": 1290,
    "people_served": 7600,
    "matters_handled": 613,
    "leader_visits": 46,
    "members": 2200,  # "about 2,200": the registry's own count is compared, per level
}
CATEGORIES = [
    "property",
    "sanitation",
    "greening",
    "assistance",
    "utilities",
    "childcare",
    "health",
    "hazard",
    "ethnic",
    "business",
]
TOPICS = [  # a few grassroots consultations (有事好商量), each taking up two of the year's cases
    "建宁路社区护坡雨污水管道隐患协商",
    "老旧小区物业服务协商议事",
    "子女假期看护场地协商",
]
LEADERS = [  # the liaison leaders the replay records when the registry has none (职务)
    ("lz2024-ld-1", "市政协主席", "主席"),
    ("lz2024-ld-2", "市政协副主席甲", "副主席"),
    ("lz2024-ld-3", "市政协副主席乙", "副主席"),
    ("lz2024-ld-4", "市政协副主席丙", "副主席"),
    ("lz2024-ld-5", "市政协秘书长", "秘书长"),
]
LEVELS = {"national": "全国", "provincial": "省", "municipal": "市", "county": "县区"}
SERVICES = ("registry", "intake", "routing", "reporting")
RABBIT_HOST = os.environ.get("LIANXIN_RABBIT_HOST", "127.0.0.1")
RABBIT_MGMT = os.environ.get("LIANXIN_RABBIT_MGMT", f"http://{RABBIT_HOST}:15672")
RABBIT_AUTH = (
    os.environ.get("LIANXIN_RABBIT_USER", "guest"),
    os.environ.get("LIANXIN_RABBIT_PASSWORD", "guest"),
)


# -- the plan ----------------------------------------------------------------------------------


@dataclass
class Plan:
    activities: list[dict] = field(default_factory=list)
    issues: list[dict] = field(default_factory=list)  # station, category, text, times, resolve
    visits: list[dict] = field(default_factory=list)  # leader index, date, purpose
    consultations: list[dict] = field(default_factory=list)  # topic, the issues it took up

    @property
    def expected(self) -> dict:
        return {
            "reception_days": len(self.activities),
            "people_served": sum(a["people_served"] for a in self.activities),
            "matters_handled": sum(1 for i in self.issues if i["resolve"]),
            "leader_visits": len(self.visits),
            "consultations_held": len(self.consultations),
        }


def split(total: int, parts: int, rnd: random.Random) -> list[int]:
    """``total`` spread over ``parts`` shares that sum exactly to it."""
    if parts == 0:
        return []
    cuts = sorted(rnd.randrange(total + 1) for _ in range(parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


def _moment(rnd: random.Random, last_day: int = 355) -> datetime:
    """A working-hours moment of 2024 in Beijing (08:00–18:00), as UTC; by 20 December, so an
    answer a few days later still falls in 2024."""
    day = date(YEAR, 1, 1) + timedelta(days=rnd.randrange(last_day))
    local = datetime(day.year, day.month, day.day, 8, tzinfo=CHINA)
    return (local + timedelta(minutes=rnd.randrange(600))).astimezone(UTC)


def plan(stations: list[str], scale: float = 1.0, seed: int = 2024) -> Plan:
    """The deterministic plan for ``scale`` of Lanzhou's 2024 (same seed, same plan)."""
    rnd = random.Random(seed)
    days = round(GROUND_TRUTH["reception_days"] * scale)
    people = split(round(GROUND_TRUTH["people_served"] * scale), days, rnd)
    out = Plan()
    for i in range(days):
        out.activities.append(
            {
                "activity_id": f"lz2024-{seed}-rd-{i:05d}",
                "kind": "reception_day",
                "station": stations[i % len(stations)],
                "date": (date(YEAR, 1, 1) + timedelta(days=rnd.randrange(366))).isoformat(),
                "people_served": people[i],
                "members": [],
            }
        )
    matters = round(GROUND_TRUTH["matters_handled"] * scale)
    for i in range(matters + max(1, matters // 10)):
        submitted = _moment(rnd)
        responded = submitted + timedelta(minutes=rnd.randrange(30, 24 * 60))
        out.issues.append(
            {
                "submission_id": f"lz2024-{seed}-is-{i:05d}",
                "station": rnd.choice(stations),
                "category": rnd.choice(CATEGORIES),
                "text": f"2024年情景问题 第{i + 1}件",
                "submitted_at": submitted,
                "responded_at": responded,
                "resolved_at": responded + timedelta(minutes=rnd.randrange(30, 48 * 60)),
                "resolve": i < matters,
            }
        )
    for i in range(round(GROUND_TRUTH["leader_visits"] * scale)):
        out.visits.append(
            {
                "leader": i,  # the i-th leader (round robin over those the registry has)
                "date": (date(YEAR, 1, 2) + timedelta(days=rnd.randrange(360))).isoformat(),
                "purpose": f"2024年对口联系走访 第{i + 1}次：推动委员工作站建设",
            }
        )
    resolved = [i for i in out.issues if i["resolve"]]
    for k, topic in enumerate(TOPICS[: min(len(TOPICS), len(resolved) // 2)]):
        first, second = resolved[2 * k], resolved[2 * k + 1]
        held = max(first["submitted_at"], second["submitted_at"]).astimezone(CHINA).date()
        out.consultations.append(
            {"topic": topic, "issues": [2 * k, 2 * k + 1], "date": held.isoformat()}
        )
    return out


# -- a stack of its own ------------------------------------------------------------------------


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class PrivateStack:
    """The four services on free ports, SQLite databases in ``workdir``, a vhost of their own,
    back-dating on (operator-only: this stack is the replay's alone)."""

    def __init__(self, workdir: Path, broker_host: str = RABBIT_HOST):
        from tools.stack import Stack

        self.workdir = workdir
        self.vhost = f"lx-scenario-{uuid.uuid4().hex[:10]}"
        user, password = (quote(x, safe="") for x in RABBIT_AUTH)
        vhost = quote(self.vhost, safe="")
        self.amqp_uri = f"amqp://{user}:{password}@{broker_host}:5672/{vhost}"
        ports = free_ports(len(SERVICES))
        env = {
            "AMQP_URI": self.amqp_uri,
            "LIANXIN_SECRET_KEY": secrets.token_urlsafe(32),
            "LIANXIN_BACKDATING": "true",
            "LIANXIN_OUTBOX_POLL_S": "0.2",
        }
        self.db_urls = {}
        for service, port in zip(SERVICES, ports, strict=True):
            self.db_urls[service] = f"sqlite:///{workdir}/{service}.db"
            env[f"{service.upper()}_DB_URL"] = self.db_urls[service]
            env[f"{service.upper()}_PORT"] = str(port)
            env[f"{service.upper()}_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
        self.stack = Stack(env=env, log_dir=workdir / "log")

    def start(self, out=sys.stdout) -> None:
        vhost = quote(self.vhost, safe="")
        # A busy broker may take minutes to add a vhost (each holds quorum queues) and its
        # management API answers nothing after 60 s: ask, then wait until it is there.
        self._mgmt("put", f"/api/vhosts/{vhost}", lambda: self._mgmt_ok(f"/api/vhosts/{vhost}"))
        self._mgmt(
            "put",
            f"/api/permissions/{vhost}/{RABBIT_AUTH[0]}",
            lambda: self._mgmt_ok(f"/api/permissions/{vhost}/{RABBIT_AUTH[0]}"),
            json={"configure": ".*", "write": ".*", "read": ".*"},
        )
        print(
            f"  私有环境 private stack: {self.workdir} (vhost {self.vhost})", file=out, flush=True
        )
        self.stack.prepare(demo=True, demo_set="lanzhou")
        self.stack.start(timeout=120)

    @staticmethod
    def _mgmt_ok(path: str) -> bool:
        try:
            return requests.get(f"{RABBIT_MGMT}{path}", auth=RABBIT_AUTH, timeout=30).ok
        except requests.RequestException:
            return False

    @staticmethod
    def _mgmt(method: str, path: str, done, patience: float = 600, **kwargs) -> None:
        """A management API change, waited for until ``done()`` (at most ``patience`` s)."""
        try:
            r = requests.request(method, f"{RABBIT_MGMT}{path}", auth=RABBIT_AUTH, timeout=90,
                                 **kwargs)  # fmt: skip
            r.raise_for_status()
            return
        except requests.RequestException:
            pass  # slow: it may still be done; see below
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            if done():
                return
            time.sleep(2)
        raise TimeoutError(f"the broker did not do {method.upper()} {path} in {patience:.0f} s")

    def stop(self) -> None:
        self.stack.stop()
        quoted = quote(self.vhost, safe="")
        try:
            requests.delete(f"{RABBIT_MGMT}/api/vhosts/{quoted}", auth=RABBIT_AUTH, timeout=120)
        except requests.RequestException as exc:  # the figures stand; say what is left behind
            print(f"  vhost {self.vhost} not deleted ({exc.__class__.__name__})", file=sys.stderr)

    def urls(self) -> dict[str, str]:
        return {s: self.stack.url(s) for s in SERVICES}

    def config(self) -> dict:
        return self.stack.config()


# -- the replay --------------------------------------------------------------------------------


class Replay:
    """Drives a plan through the running services' public interfaces with the office's session
    (the operator's: back-dating is the office's, docs/security.md), signed with the stack's
    key as the services sign theirs."""

    def __init__(self, urls: dict[str, str], amqp_uri: str, config: dict, timeout: float = 600):
        self.urls, self.amqp_uri, self.timeout = urls, amqp_uri, timeout
        self.config = config
        self.token = auth.issue_token(auth.Principal("scenario-operator", "office"), config)
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def url(self, service: str, path: str) -> str:
        return self.urls[service].rstrip("/") + path

    def broker(self) -> pika.BlockingConnection:
        """A connection to the stack's vhost, patient with a busy broker (a shared machine)."""
        params = pika.URLParameters(self.amqp_uri)
        params.connection_attempts, params.retry_delay = 5, 2
        params.socket_timeout, params.stack_timeout = 30, 60
        params.blocked_connection_timeout = 120
        return pika.BlockingConnection(params)

    def get(self, service: str, path: str, **params) -> requests.Response:
        r = self.http.get(self.url(service, path), params=params, timeout=60)
        r.raise_for_status()
        return r

    def _wait(self, predicate, what: str, interval: float = 0.25):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f"timed out waiting for {what}")

    def wait_ready(self, stations: int) -> None:
        """Intake consumes every station's queue and routing knows the members (the registry
        announced them at start)."""
        self._wait(
            lambda: len(self.get("intake", "/health").json().get("stations", [])) >= stations,
            "intake to consume every station",
        )

    def station_members(self, station: str) -> list[str]:
        """The active members serving at ``station``, by code (the registry's list)."""
        found = self.get("registry", "/members", station=station, active="true", limit=1000)
        return sorted(m["code"] for m in found.json()["members"])

    def record_activities(self, p: Plan) -> None:
        """Each reception day, attended by two of its station's members (the k-th day of the
        plan names the station's k-th and k+1-th, in code order), so the members' 履职档案 of
        2024 have reception days to count."""
        serving: dict[str, list[str]] = {}
        for k, a in enumerate(p.activities):
            if a["station"] not in serving:
                serving[a["station"]] = self.station_members(a["station"])
            codes = serving[a["station"]]
            if codes and not a["members"]:
                a = a | {"members": sorted({codes[k % len(codes)], codes[(k + 1) % len(codes)]})}
            r = self.http.post(self.url("intake", "/staff/activities"), json=a, timeout=60)
            if r.status_code not in (200, 201):
                raise RuntimeError(f"activity {a['activity_id']}: {r.status_code} {r.text}")

    def send_issues(self, p: Plan) -> None:
        """Every planned issue over AMQP, each with the operator's token: received at its
        ``submitted_at`` (2024)."""
        with self.broker() as conn:
            channel = conn.channel()
            channel.confirm_delivery()
            for issue in p.issues:
                body = {
                    "submission_id": issue["submission_id"],
                    "station": issue["station"],
                    "channel": "amqp",
                    "category": issue["category"],
                    "description": issue["text"],
                    "submitted_at": issue["submitted_at"].isoformat(),
                }
                channel.basic_publish(
                    exchange="lianxin.intake",
                    routing_key=f"station.{issue['station']}",
                    body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                    mandatory=True,
                    properties=pika.BasicProperties(
                        content_type="application/json",
                        delivery_mode=2,
                        message_id=issue["submission_id"],
                        headers={backdating.OPERATOR_HEADER: self.token},
                    ),
                )

    def tracking_number(self, sid: str) -> str:
        def found():
            subs = self.get("intake", "/submissions", submission_id=sid).json()["submissions"]
            if subs and subs[0]["status"] == "rejected":
                raise RuntimeError(f"submission {sid} rejected: {subs[0]}")
            return subs[0]["tracking_number"] if subs and subs[0]["tracking_number"] else None

        return self._wait(found, f"submission {sid}")

    def resolve(self, number: str, issue: dict) -> None:
        """Answered, then resolved, by the office on the member's behalf, at the plan's times."""

        def assigned():
            r = self.http.get(self.url("routing", f"/cases/{number}"), timeout=30)
            return r.json() if r.status_code == 200 and r.json()["member"] else None

        self._wait(assigned, f"case {number} assigned")
        for action, note, at in (
            ("respond", "已联系群众，正在办理", issue["responded_at"]),
            ("resolve", "已办结", issue["resolved_at"]),
        ):
            r = self.http.post(
                self.url("routing", f"/cases/{number}/actions/{action}"),
                json={"note": note, "at": at.isoformat()},
                timeout=60,
            )
            if not r.ok:
                raise RuntimeError(f"{action} {number}: {r.status_code} {r.text}")

    def leaders(self, stations: list[str]) -> list[dict] | None:
        """The registry's active leaders with linked stations, or None when it has no leader
        API. A registry without any (the demo set has none) gets :data:`LEADERS`, each linked
        to a share of the stations, through the office's ``POST /leaders``."""
        r = self.http.get(self.url("registry", "/leaders"), timeout=30)
        if r.status_code == 404:
            return None
        r.raise_for_status()
        found = [x for x in r.json()["leaders"] if x.get("active", True) and x.get("stations")]
        if found:
            return found
        for n, (code, name, title) in enumerate(LEADERS):
            linked = stations[n :: len(LEADERS)]
            body = {"code": code, "name": name, "title": title, "stations": linked}
            r = self.http.post(self.url("registry", "/leaders"), json=body, timeout=60)
            if r.status_code not in (200, 201):
                raise RuntimeError(f"leader {code}: {r.status_code} {r.text}")
            found.append(body)
        return found

    def record_visits(self, p: Plan, leaders: list[dict], seed: int) -> None:
        for n, visit in enumerate(p.visits):
            leader = leaders[visit["leader"] % len(leaders)]
            stations = leader["stations"]
            station = stations[visit["leader"] // len(leaders) % len(stations)]
            station = station["code"] if isinstance(station, dict) else station
            r = self.http.post(
                self.url("registry", f"/leaders/{leader['code']}/visits"),
                json={
                    "visit_id": f"lz2024-{seed}-vs-{n:03d}",  # a retry makes no second visit
                    "station": station,
                    "date": visit["date"],
                    "purpose": visit["purpose"],
                    "members": [],
                    "others": "",
                },
                timeout=60,
            )
            if r.status_code not in (200, 201):
                raise RuntimeError(f"visit {visit}: {r.status_code} {r.text}")

    def record_consultations(self, p: Plan, numbers: list[str]) -> bool:
        """Each planned consultation, taking up its two cases (linked: they are resolved at
        their own 2024 times by the replay, not settled now); False when routing has no
        consultations API."""
        for c in p.consultations:
            cases = [numbers[i] for i in c["issues"]]
            first = self.get("routing", f"/cases/{cases[0]}").json()
            body = {
                "topic": c["topic"],
                "station": first["station"],
                "date": c["date"],
                "units_invited": ["街道办事处", "社区居委会", "市政管理所", "物业公司", "住户代表"],
                "units_present": ["街道办事处", "社区居委会", "市政管理所", "物业公司"],
                "members": [first["member"]],
                "agreement": "各方议定分工整改，限期完成并回访群众",
                "follow_up_owner": "社区居委会",
                "cases": cases,
                "settled": [],
            }
            r = self.http.post(self.url("routing", "/consultations"), json=body, timeout=60)
            if r.status_code == 404 and c is p.consultations[0]:
                return False  # no such route (yet)
            if r.status_code not in (200, 201):
                raise RuntimeError(f"consultation {c['topic']}: {r.status_code} {r.text}")
        return True

    # -- idle ----------------------------------------------------------------------------------

    def backlog(self, vhost: str | None) -> int:
        """What is still on its way: unsent outbox rows, and messages in the vhost's queues."""
        waiting = sum(self.get(s, "/health").json().get("outbox_backlog", 0) for s in SERVICES)
        if vhost:
            try:
                r = requests.get(
                    f"{RABBIT_MGMT}/api/queues/{quote(vhost, safe='')}",
                    auth=RABBIT_AUTH,
                    timeout=30,
                )
                r.raise_for_status()
            except requests.RequestException:  # a busy broker: not idle yet, asked again
                return 1
            waiting += sum(q.get("messages", 0) or 0 for q in r.json())
            waiting += self._ready(r.json())
        return waiting

    def _ready(self, queues: list[dict]) -> int:
        """Ready messages asked of the broker now (the management figures lag a few seconds);
        not the exclusive reply queues (another connection's: the broker refuses to say)."""
        try:
            with self.broker() as conn:
                channel = conn.channel()
                return sum(
                    channel.queue_declare(q["name"], passive=True).method.message_count
                    for q in queues
                    if not q.get("exclusive") and not q["name"].startswith("amq.")
                )
        except (pika.exceptions.AMQPError, OSError, AMQPConnectorException):
            # a reply queue went meanwhile, or a busy broker did not answer in time
            return 1  # not idle yet: asked again in a second

    def wait_idle(self, vhost: str | None, quiet_s: float = 6.0) -> None:
        """Until nothing is on its way and reporting's event store has not grown for
        ``quiet_s`` seconds (longer than the broker's statistics lag)."""
        last, since = None, time.monotonic()
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            events = self.get("reporting", "/health").json().get("events")
            if self.backlog(vhost) or events != last:
                last, since = events, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            time.sleep(1)
        raise TimeoutError("the pipeline did not go idle")

    # -- reading the figures -------------------------------------------------------------------

    def from_json(self, year: int) -> dict:
        body = self.get("reporting", "/stats/yearly", year=str(year)).json()
        return {**body["city"], "registry": body["registry"]}

    def from_dashboard(self, year: int) -> dict:
        page = self.get("reporting", "/dashboard", year=str(year)).text
        figures = {}
        for tile in page.split("<div class=tile data-key=")[1:]:  # each figure's tile
            key = tile.split('"')[1]
            value = re.search(r"<div class=value>(.*?)</div>", tile)
            digits = re.sub(r"<[^>]*>|,", "", value[1]) if value else ""
            figures.setdefault(key, int(digits) if digits.isdigit() else None)
        reg = re.search(r"委员工作站 (\d+) · 委员工作室 (\d+) · 委员 (\d+)（([^）]*)）", page)
        if reg:
            names = {zh: en for en, zh in LEVELS.items()}
            levels = dict(re.findall(r"([^\s，\d]+) (\d+)", reg[4]))
            figures["registry"] = {
                "stations": int(reg[1]),
                "studios": int(reg[2]),
                "members": int(reg[3]),
                "members_by_level": {names.get(k, k): int(v) for k, v in levels.items()},
            }
        return figures

    def from_workbooks(self, year: int) -> dict:
        """The city sheet (全市) of the twelve monthly workbooks, summed (counts only)."""
        from openpyxl import load_workbook

        from services.reporting.statistics import COLUMNS

        totals: dict = {}
        for month in range(1, 13):
            data = self.get("reporting", "/stats/monthly.xlsx", month=f"{year}-{month:02d}")
            sheet = load_workbook(io.BytesIO(data.content), read_only=True)["全市"]
            header, row = list(sheet.iter_rows(min_row=1, max_row=2, values_only=True))
            for column in COLUMNS:
                if column.kind != "count":
                    continue
                name = f"{column.name_zh} {column.name_en}"
                if name in header:
                    value = row[header.index(name)] or 0
                    totals[column.key] = totals.get(column.key, 0) + int(value)
        return totals

    def registry_counts(self) -> dict:
        return self.get("registry", "/counts").json()

    def read_all(self, year: int) -> dict:
        return {
            "dashboard": self.from_dashboard(year),
            "JSON": self.from_json(year),
            "xlsx": self.from_workbooks(year),
        }


def rebuild(stack: PrivateStack) -> None:
    """Reporting's figures rebuilt from its event store (``services.reporting.rebuild``)."""
    done = subprocess.run(
        [sys.executable, "-m", "services.reporting.rebuild", stack.db_urls["reporting"]],
        env=stack.stack.env,
        cwd=ROOT,
        capture_output=True,  # its progress bar is for people at a console
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the rebuild failed ({done.returncode}): {done.stderr[-2000:]}")


# -- the table ---------------------------------------------------------------------------------

SOURCES = ("dashboard", "JSON", "xlsx")
NOT_YET = "not yet"


def rows(expected: dict, registry: dict, read: dict) -> list[tuple[str, object, dict]]:
    """``(name, expected, {source: value})``; a source that does not carry a figure is left
    out of its row (the workbooks hold no registry counts)."""

    def reg(source: str, key: str, level: str | None = None):
        figures = read[source].get("registry")
        if figures is None:
            return None
        return figures.get("members_by_level", {}).get(level, 0) if level else figures.get(key)

    def figure(key: str) -> dict:
        return {s: read[s].get(key) for s in SOURCES if s != "xlsx" or key in read["xlsx"]}

    out = [
        (
            "委员工作站 stations",
            GROUND_TRUTH["stations"],
            {s: reg(s, "stations") for s in SOURCES[:2]},
        ),
        (
            "委员工作室 studios",
            GROUND_TRUTH["studios"],
            {s: reg(s, "studios") for s in SOURCES[:2]},
        ),
        (
            f"委员接待日 reception days ({YEAR})",
            expected["reception_days"],
            figure("reception_days"),
        ),
        (f"服务群众 people served ({YEAR})", expected["people_served"], figure("people_served")),
        (
            f"帮办实事 matters handled ({YEAR})",
            expected["matters_handled"],
            figure("matters_handled"),
        ),
    ]
    for key, name in (
        ("leader_visits", f"领导走访 leader visits ({YEAR})"),
        ("consultations_held", f"协商议事 consultations ({YEAR})"),
    ):
        if expected.get(key) is None:
            out.append((name, NOT_YET, {}))
        else:
            out.append((name, expected[key], figure(key)))
    out.append(
        (
            "委员 members (registry; seed ≈2,200)",
            registry["members"],
            {s: reg(s, "members") for s in SOURCES[:2]},
        )
    )
    for level, zh in LEVELS.items():
        want = registry["members_by_level"].get(level, 0)
        out.append((f"  {zh}委员 {level}", want, {s: reg(s, "", level) for s in SOURCES[:2]}))
    return out


def all_equal(table: list[tuple[str, object, dict]]) -> bool:
    return all(want != NOT_YET and all(v == want for v in got.values()) for _, want, got in table)


def print_table(title: str, table, out) -> None:
    print(f"\n  {title}", file=out)
    print(f"  {'figure':<40} {'expected':>9} " + " ".join(f"{s:>9}" for s in SOURCES), file=out)
    for name, want, got in table:
        if want == NOT_YET:
            print(f"  {name:<40} {'—':>9} " + " ".join(f"{'—':>9}" for _ in SOURCES)
                  + "  not yet（接口尚未就绪 / endpoint not there yet）", file=out)  # fmt: skip
            continue
        cells = " ".join(f"{'' if s not in got else got[s]!s:>9}" for s in SOURCES)
        mark = "=" if all(v == want for v in got.values()) else "≠"
        print(f"  {name:<40} {want!s:>9} {cells}  {mark}", file=out)


# -- running it --------------------------------------------------------------------------------


def replay_into(replay: Replay, scale: float, seed: int, vhost: str | None, out=sys.stdout) -> dict:
    """The whole replay against ``replay``'s services; returns the two tables and the verdict."""
    stations = [s["code"] for s in replay.get("registry", "/stations").json()["stations"]]
    replay.wait_ready(len(stations))
    p = plan(stations, scale, seed)
    leaders = replay.leaders(stations)
    expected = p.expected
    started = time.monotonic()
    print(
        f"  回放 replaying {len(p.activities)} reception days, {len(p.issues)} issues "
        f"({expected['matters_handled']} to resolve), "
        + (f"{len(p.visits)} leader visits" if leaders else "leader visits: not yet")
        + f", {len(p.consultations)} consultations",
        file=out,
        flush=True,
    )
    replay.record_activities(p)
    replay.send_issues(p)
    numbers = []
    for issue in p.issues:
        numbers.append(replay.tracking_number(issue["submission_id"]))
        if issue["resolve"]:
            replay.resolve(numbers[-1], issue)
    if leaders:
        replay.record_visits(p, leaders, seed)
    else:
        expected["leader_visits"] = None
    resolved = [n for n, i in zip(numbers, p.issues, strict=True) if i["resolve"]]
    if not replay.record_consultations(p, resolved):
        expected["consultations_held"] = None
    replay.wait_idle(vhost)
    registry = replay.registry_counts()
    before = rows(expected, registry, replay.read_all(YEAR))
    return {
        "expected": expected,
        "registry": registry,
        "before": before,
        "seconds": time.monotonic() - started,
        "numbers": numbers,  # the tracking numbers, in the plan's order
    }


def run(
    scale: float = 1.0, seed: int = 2024, out=sys.stdout, keep: bool = False, probe=None
) -> dict:
    """Start a private stack, replay, compare, rebuild, compare again; stop the stack.
    ``probe(replay, result)`` (tests) runs against the stack before it stops; its answer is
    ``result["probe"]``."""
    t0 = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="lx-scenario-"))
    stack = PrivateStack(workdir)
    ok = False
    print(
        f"兰州 {YEAR} 情景 Lanzhou {YEAR} scenario (scale {scale}, seed {seed})",
        file=out,
        flush=True,
    )
    try:
        stack.start(out)
        replay = Replay(stack.urls(), stack.amqp_uri, stack.config())
        result = replay_into(replay, scale, seed, stack.vhost, out)
        print_table(f"{YEAR} 全年 yearly figures", result["before"], out)
        rebuild(stack)
        result["after"] = rows(result["expected"], result["registry"], replay.read_all(YEAR))
        print_table("重建后 after a rebuild from the event store", result["after"], out)
        ok = all_equal(result["before"]) and all_equal(result["after"])
        result["ok"] = ok
        result["wall_s"] = time.monotonic() - t0
        verdict = "全部一致 all =" if ok else "有不一致 some ≠ (or not yet)"
        print(f"\n  {verdict}; wall time {result['wall_s']:.0f} s", file=out, flush=True)
        if probe is not None:
            result["probe"] = probe(replay, result)
        return result
    finally:
        stack.stop()
        if ok and not keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"  logs and databases kept in {workdir}", file=out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="replay Lanzhou's 2024 on a stack of its own")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--keep", action="store_true", help="keep the private stack's files")
    args = parser.parse_args(argv)
    result = run(args.scale, args.seed, keep=args.keep)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
