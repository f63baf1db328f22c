"""The processes docker-compose.yml describes, started here as it would start them (same
commands, same config file, same variables, a PostgreSQL database per service, two intake
processes with different station groups) on the local RabbitMQ and PostgreSQL; one issue per
group goes all the way through."""

import os
import secrets
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
import requests
from cryptography.fernet import Fernet

from services.intake.stations import station_selection
from services.kernel.config import ROOT
from tests.conftest import (
    auth_headers,
    broker_account,
    create_vhost,
    delete_broker_account,
    delete_vhost,
    free_port,
)
from tests.deploy.test_deploy_files import COMPOSE, our_compose_services
from tools.client import SubmissionClient

LONG_RUNNING = ("registry", "intake", "routing", "reporting")


def command_of(svc) -> list[str]:
    if svc.get("entrypoint"):
        return [sys.executable, *svc["entrypoint"][1:]]
    return [sys.executable, "-m", "services.kernel.runner", *svc["command"]]


@pytest.fixture
def compose_env(pg_databases):
    vhost, _ = create_vhost()
    user, amqp_uri = broker_account(vhost)  # production refuses RabbitMQ's guest
    env = {
        "AMQP_URI": amqp_uri,
        "LIANXIN_HTTP_HOST": "127.0.0.1",
        "LIANXIN_RETRY_DELAYS_MS": "[200, 500]",
        "LIANXIN_OUTBOX_POLL_S": "0.2",
        "LIANXIN_SECRET_KEY": secrets.token_urlsafe(48),  # compose runs as production
        "LIANXIN_PII_KEY": Fernet.generate_key().decode(),
        "INTAKE_OPEN311_API_KEYS": secrets.token_urlsafe(24),
    }
    for service in ("registry", "intake", "routing", "reporting"):
        env[f"{service.upper()}_DB_URL"] = pg_databases.create()
    yield env, amqp_uri
    delete_vhost(vhost)
    delete_broker_account(user)


def test_the_compose_processes_carry_an_issue_per_station_group(compose_env, tmp_path):
    base_env, amqp_uri = compose_env
    procs, ports = {}, {}

    def environment(svc):
        env = {
            **os.environ,
            **{k: str(v) for k, v in (svc.get("environment") or {}).items()},
            **base_env,
        }
        env["LIANXIN_CONFIG"] = str(ROOT / env["LIANXIN_CONFIG"])
        return env

    try:
        for name in ("migrate", "demo"):  # the one-shot containers, in their order
            svc = COMPOSE["services"][name]
            subprocess.run(
                command_of(svc),
                env=environment(svc),
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
                timeout=300,
            )
        for name, svc in our_compose_services().items():
            if svc.get("command", [""])[0] not in LONG_RUNNING:
                continue
            env = environment(svc)
            port = free_port()
            for key in ("PORT", "REGISTRY_PORT", "INTAKE_PORT", "ROUTING_PORT", "REPORTING_PORT"):
                if key in (svc.get("environment") or {}):
                    env[key] = str(port)
            ports[name] = port
            log = open(tmp_path / f"{name}.log", "wb")
            procs[name] = subprocess.Popen(
                command_of(svc), env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )

        office = auth_headers({"security": {"secret_key": base_env["LIANXIN_SECRET_KEY"]}})

        def get(name, path):
            url = f"http://127.0.0.1:{ports[name]}{path}"
            return requests.get(url, headers=office, timeout=5)

        intakes = [n for n in procs if COMPOSE["services"][n]["command"] == ["intake"]]
        # The intakes take their stations from the demo registry's announcements: seconds here,
        # minutes on a machine loaded by other work. The loop ends as soon as all are consumed.
        deadline = time.monotonic() + 300
        consumed = {}
        while time.monotonic() < deadline:
            try:
                consumed = {n: set(get(n, "/health").json()["stations"]) for n in intakes}
                # Both must have taken stations: the one that does not receive a station's
                # announcement takes it from the shared copy on its next pick-up (5 s timer).
                if (
                    all(consumed.values())
                    and sum(len(s) for s in consumed.values()) >= 5
                    and all(get(n, "/ready").status_code == 200 for n in procs)
                ):
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        a, b = (consumed[n] for n in intakes)
        assert a and b and not a & b, consumed  # each group its own stations
        for name in intakes:
            group = station_selection(COMPOSE["services"][name]["environment"]["INTAKE_STATIONS"])
            assert all(group.serves(code) for code in consumed[name])

        numbers = []
        with SubmissionClient(amqp_uri) as client:
            sids = [
                client.submit(sorted(group)[0], category="health", description="体检咨询")
                for group in (a, b)
            ]
        for sid, name in zip(sids, intakes, strict=True):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                found = get(name, f"/submissions?submission_id={quote(sid)}").json()["submissions"]
                if found:
                    numbers.append(found[0]["tracking_number"])
                    break
                time.sleep(0.2)
        assert len(numbers) == 2
        # Routing first works through the full demo registry's events (thousands, queued ahead
        # of the issue): minutes on a loaded machine, so the case may take that long to appear.
        deadline = time.monotonic() + 600
        for number in numbers:
            while get("routing", f"/cases/{number}").status_code != 200:
                assert time.monotonic() < deadline, get("routing", f"/cases/{number}").text
                time.sleep(0.2)
            assert get("routing", f"/cases/{number}").json()["status"] == "assigned"
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
