"""The Lanzhou 2024 scenario: a year of activity driven through the real channels, whose
ground truth is the city's own 2024 figures (docs/reference/lanzhou.md).

``python -m tools.scenario [--scale 1.0] [--seed 2024]`` replays it against the
running system (``make run``) and prints the report beside the expected figures:

- reception days (委员接待日): ``round(1290 × scale)`` activities of kind ``reception_day``, dated
  through 2024, at the registry's stations, recorded by staff (``POST /staff/activities``), with
  ``round(7600 × scale)`` people served in all;
- matters handled (帮办实事): ``round(613 × scale)`` issues sent in through the QR form, the AMQP
  client and staff entry (a third each), assigned by routing, answered and resolved by their
  member (``POST /cases/<n>/actions/…``); a tenth more issues are sent and left open, so resolved
  is not simply "everything";
- stations, studios, members: whatever the registry holds (the full demo set: 126, 133, 2,200).

Activities count in the month of their date, so reception days and people served appear in the
2024 report. Issues are received and resolved now: matters handled appear in the months of the
replay, and the printout says so rather than pretending they happened in 2024.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial

import requests

from services.kernel import auth
from services.reporting.projections import month_of
from tools.client import SubmissionClient

GROUND_TRUTH = {
    "reception_days": 1290,
    "people_served": 7600,
    "matters_handled": 613,
    "stations": 126,
    "studios": 133,
    "members": 2200,
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


@dataclass
class Plan:
    activities: list[dict] = field(default_factory=list)
    issues: list[dict] = field(default_factory=list)  # channel, station, category, text, resolve

    @property
    def expected(self) -> dict:
        return {
            "reception_days": len(self.activities),
            "people_served": sum(a["people_served"] for a in self.activities),
            "matters_handled": sum(1 for i in self.issues if i["resolve"]),
        }


def split(total: int, parts: int, rnd: random.Random) -> list[int]:
    """``total`` spread over ``parts`` positive-ish shares that sum exactly to it."""
    if parts == 0:
        return []
    cuts = sorted(rnd.randrange(total + 1) for _ in range(parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


def plan(stations: list[str], scale: float = 1.0, seed: int = 2024) -> Plan:
    """The deterministic plan for ``scale`` of Lanzhou's 2024 (same seed, same plan)."""
    rnd = random.Random(seed)
    days = round(GROUND_TRUTH["reception_days"] * scale)
    people = split(round(GROUND_TRUTH["people_served"] * scale), days, rnd)
    out = Plan()
    start = date(2024, 1, 1)
    for i in range(days):
        out.activities.append(
            {
                "activity_id": f"lz2024-{seed}-rd-{i:05d}",
                "kind": "reception_day",
                "station": stations[i % len(stations)],
                "date": (start + timedelta(days=rnd.randrange(366))).isoformat(),
                "people_served": people[i],
                "members": [],
            }
        )
    matters = round(GROUND_TRUTH["matters_handled"] * scale)
    total = matters + max(1, matters // 10)
    for i in range(total):
        out.issues.append(
            {
                "channel": ("qr", "amqp", "staff")[i % 3],
                "station": rnd.choice(stations),
                "category": rnd.choice(CATEGORIES),
                "text": f"2024年情景问题 第{i + 1}件",
                "resolve": i < matters,
            }
        )
    return out


class Replay:
    """Drives a plan through the running services' public interfaces: the office's requests
    with an office session, each member's actions with that member's own. It holds the
    deployment's config (its secret key) to sign those sessions, as the services do."""

    def __init__(self, urls: dict[str, str], amqp_uri: str, config: dict, timeout: float = 600):
        self.urls, self.amqp_uri, self.timeout = urls, amqp_uri, timeout
        self.config = config
        self.http = requests.Session()
        self.http.headers["Authorization"] = self.bearer(auth.Principal("scenario", "office"))

    def bearer(self, who: auth.Principal) -> str:
        return f"Bearer {auth.issue_token(who, self.config)}"

    def url(self, service: str, path: str) -> str:
        return self.urls[service].rstrip("/") + path

    def _wait(self, predicate, what: str):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.25)
        raise TimeoutError(f"timed out waiting for {what}")

    def record_activities(self, p: Plan) -> None:
        for a in p.activities:
            r = self.http.post(self.url("intake", "/staff/activities"), json=a, timeout=30)
            if r.status_code not in (200, 201):
                raise RuntimeError(f"activity {a['activity_id']}: {r.status_code} {r.text}")

    def send_issues(self, p: Plan) -> list[tuple[str, bool]]:
        """Every planned issue through its channel; ``(submission id, to resolve)`` each."""
        sent = []
        with SubmissionClient(self.amqp_uri) as client:
            send = {"amqp": partial(self.send_amqp, client), "qr": self.send_qr}
            for n, issue in enumerate(p.issues):
                sid = str(uuid.uuid4())
                send.get(issue["channel"], self.send_staff)(issue, sid, n)
                sent.append((sid, issue["resolve"]))
        return sent

    def send_amqp(self, client: SubmissionClient, issue: dict, sid: str, n: int) -> None:
        client.submit(
            issue["station"],
            category=issue["category"],
            description=issue["text"],
            submission_id=sid,
        )

    def send_qr(self, issue: dict, sid: str, n: int) -> None:
        r = self.http.post(
            self.url("intake", f"/q/station/{issue['station']}"),
            data={
                "submission_id": sid,
                "category": issue["category"],
                "description": issue["text"],
                # "是否与以下问题相同?" answered up front: a new problem (the scenario's texts
                # are alike on purpose, and each is its own matter)
                "same_as": "",
                "csrf_token": self.csrf_token(issue["station"]),
            },
            # each citizen from an address of their own, as through the proxy (local.yaml
            # trusts loopback), so the per-address limit holds them
            headers={"X-Forwarded-For": f"10.77.{n // 250}.{n % 250}"},
            timeout=30,
        )
        r.raise_for_status()

    def send_staff(self, issue: dict, sid: str, n: int) -> None:
        r = self.http.post(
            self.url("intake", "/staff/issues"),
            timeout=30,
            json={
                "submission_id": sid,
                "station": issue["station"],
                "channel": "phone",
                "category": issue["category"],
                "description": issue["text"],
            },
        )
        if r.status_code not in (200, 201, 202):
            raise RuntimeError(f"staff issue: {r.status_code} {r.text}")

    def csrf_token(self, station: str) -> str:
        """The form token the QR page gives this client (its CSRF cookie is in the session)."""
        if getattr(self, "_csrf", None) is None:
            page = self.http.get(self.url("intake", f"/q/station/{station}"), timeout=30)
            self._csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        return self._csrf

    def tracking_number(self, sid: str) -> str:
        def found():
            r = self.http.get(
                self.url("intake", "/submissions"), timeout=10, params={"submission_id": sid}
            )
            subs = r.json()["submissions"]
            return subs[0]["tracking_number"] if subs and subs[0]["tracking_number"] else None

        return self._wait(found, f"submission {sid}")

    def resolve(self, number: str) -> None:
        def assigned():
            r = self.http.get(self.url("routing", f"/cases/{number}"), timeout=10)
            return r.json() if r.status_code == 200 and r.json()["member"] else None

        case = self._wait(assigned, f"case {number} assigned")
        member = auth.Principal(case["member"], "member", member=case["member"])
        for action, note in (("respond", "已联系群众，正在办理"), ("resolve", "已办结")):
            r = self.http.post(
                self.url("routing", f"/cases/{number}/actions/{action}"),
                json={"note": note},
                headers={"Authorization": self.bearer(member)},
                timeout=30,
            )
            if not r.ok:
                raise RuntimeError(f"{action} {number}: {r.status_code} {r.text}")

    def report(self, months: list[str]) -> dict:
        figures: dict = {}
        for month in months:
            body = self.http.get(
                self.url("reporting", "/stats/monthly"), timeout=30, params={"month": month}
            ).json()
            for key in ("reception_days", "people_served", "matters_handled"):
                figures[key] = figures.get(key, 0) + body["city"].get(key, 0)
            figures["registry"] = body["registry"]
        return figures


def run(
    urls: dict[str, str], amqp_uri: str, config: dict, scale: float, seed: int, out=sys.stdout
) -> dict:
    replay = Replay(urls, amqp_uri, config)
    listed = replay.http.get(replay.url("registry", "/stations"), timeout=30).json()
    p = plan([s["code"] for s in listed["stations"]], scale, seed)
    started = datetime.now(UTC)
    replay.record_activities(p)
    for sid, resolve in replay.send_issues(p):
        if resolve:
            replay.resolve(replay.tracking_number(sid))
    expected = p.expected
    months_2024 = [f"2024-{m:02d}" for m in range(1, 13)]
    replay_months = sorted({month_of(started), month_of(datetime.now(UTC))})

    def settled():
        got = replay.report(months_2024)
        got["matters_handled"] = replay.report(replay_months)["matters_handled"]
        return got if all(got[k] >= expected[k] for k in expected) else None

    try:
        actual = replay._wait(settled, "reporting to count the scenario")
    except TimeoutError:
        actual = replay.report(months_2024)
        actual["matters_handled"] = replay.report(replay_months)["matters_handled"]
    reg = actual.pop("registry")
    print_report(expected, actual, reg, replay_months, scale, seed, out)
    return {"expected": expected, "actual": {k: actual[k] for k in expected}, "registry": reg}


def print_report(expected, actual, reg, replay_months, scale, seed, out) -> None:
    rows = [
        ("委员接待日 reception days (2024)", expected["reception_days"], actual["reception_days"]),
        ("服务群众 people served (2024)", expected["people_served"], actual["people_served"]),
        (
            f"帮办实事 matters handled ({', '.join(replay_months)})",
            expected["matters_handled"],
            actual["matters_handled"],
        ),
        ("委员工作站 stations", round(GROUND_TRUTH["stations"]), reg["stations"]),
        ("委员工作室 studios", round(GROUND_TRUTH["studios"]), reg["studios"]),
        ("委员 members", round(GROUND_TRUTH["members"]), reg["members"]),
    ]
    print(f"兰州 2024 情景 Lanzhou 2024 scenario (scale {scale}, seed {seed})", file=out)
    print(f"  {'figure':<44} {'expected':>9} {'actual':>9}", file=out)
    for name, want, got in rows:
        mark = "" if want == got else "  ≠"
        print(f"  {name:<44} {want:>9} {got:>9}{mark}", file=out)
    print(
        "  (registry figures are the city's at full scale; a scaled run keeps the registry "
        "it runs against)",
        file=out,
    )


def main(argv=None) -> int:
    from services.kernel import config

    parser = argparse.ArgumentParser(description="replay the Lanzhou 2024 scenario")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    cfg = config.load()
    host = cfg.get("http_host", "127.0.0.1")
    urls = {s: f"http://{host}:{cfg['services'][s]['port']}" for s in cfg["services"]}
    result = run(urls, cfg["AMQP_URI"], cfg, args.scale, args.seed)
    return 0 if result["expected"] == result["actual"] else 1


if __name__ == "__main__":
    sys.exit(main())
