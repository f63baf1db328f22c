"""Each station's intake scales and fails on its own.

Two intake processes share intake's database and split the stations (``INTAKE_STATIONS``):
A serves gwm, B serves the other four. Stop A: B's stations flow on, gwm's messages wait in
their queue (and the QR page answers "received, being processed"). Start A again: the backlog
is taken in, nothing missing, nothing twice.
"""

import re

import pytest
import requests

from tests.conftest import auth_headers, create_vhost, delete_vhost, message_count
from tests.e2e.conftest import Citizen, free_ports, stack_env
from tools.client import SubmissionClient
from tools.stack import Stack

SERVICES = ("registry", "intake", "routing", "reporting")
PER_STATION = 15


@pytest.fixture(params=["sqlite", "postgresql"])
def split_stack(request, tmp_path, pg_databases):
    vhost, amqp_uri = create_vhost()
    if request.param == "sqlite":
        urls = {s: f"sqlite:///{tmp_path}/{s}.db" for s in SERVICES}
    else:
        urls = {s: pg_databases.create() for s in SERVICES}
    ports = free_ports(5)
    env = stack_env(amqp_uri, urls, ports[:4])
    env["INTAKE_HTTP_WAIT_S"] = "1.5"
    stack = Stack(env=env, log_dir=tmp_path / "log")
    stack.amqp_uri = amqp_uri
    stack.headers = auth_headers(stack.config())
    stack.a_url = f"http://127.0.0.1:{ports[4]}"
    stack.a_env = {"INTAKE_STATIONS": "gwm", "INTAKE_PORT": str(ports[4])}
    stack.prepare(demo=True)
    try:
        stack.start(services=("registry", "routing", "reporting"))
        stack.start_service("intake", name="intake-b", env={"INTAKE_STATIONS": "jnl,jql,ytl,sp"})
        stack.start_service("intake", name="intake-a", env=stack.a_env)
        stack.wait_for(lambda: consumed(stack.url("intake")) == ["jnl", "jql", "sp", "ytl"], 60)
        stack.wait_for(lambda: consumed(stack.a_url) == ["gwm"], 60, what="intake A")
        yield stack
    finally:
        stack.stop()
        delete_vhost(vhost)


def consumed(base_url: str):
    try:
        return requests.get(f"{base_url}/health", timeout=2).json().get("stations")
    except (requests.RequestException, ValueError):
        return None


def results(stack, sids):
    """submission id → the statuses intake recorded for it."""
    found = {}
    body = requests.get(
        stack.url("intake", "/submissions"),
        params={"limit": 1000},
        headers=stack.headers,
        timeout=10,
    )
    for s in body.json()["submissions"]:
        if s["submission_id"] in sids:
            found.setdefault(s["submission_id"], []).append(s["status"])
    return found


def test_stopping_one_stations_intake_leaves_the_others_flowing(split_stack):
    stack = split_stack
    a = stack.procs.pop("intake-a")
    a.terminate()
    a.wait(30)

    sent = {"gwm": [], "jnl": [], "jql": []}
    with SubmissionClient(stack.amqp_uri) as client:
        for n in range(PER_STATION):
            for station in sent:
                sent[station].append(
                    client.submit(station, category="property", description=f"楼道灯不亮 {n}")
                )
    others = set(sent["jnl"] + sent["jql"])
    stack.wait_for(
        lambda: len(results(stack, others)) == len(others), 30, what="B's stations' issues"
    )
    assert all(v == ["accepted"] for v in results(stack, others).values())

    # gwm's messages wait, whole, in gwm's own queue; none was taken by B.
    waiting = set(sent["gwm"])
    assert message_count(stack.amqp_uri, "station.gwm") == PER_STATION
    assert results(stack, waiting) == {}

    # A citizen scanning gwm's code now is told the issue is received and how to look it up.
    citizen = Citizen(stack)
    stack.wait_for(  # the form offers the catalogue's categories (intake's copy, by event)
        lambda: 'value="health"' in citizen.get("/q/station/gwm").text, 30, what="categories"
    )
    page = citizen.post("/q/station/gwm", category="health", description="义诊预约")
    assert page.status_code == 202 and "已收到，正在受理" in page.text, page.text
    receipt = re.search(r'id="receipt-link" href="([^"]+)"', page.text).group(1)

    stack.start_service("intake", name="intake-a", env=stack.a_env)
    stack.wait_for(
        lambda: len(results(stack, waiting)) == PER_STATION, 60, what="gwm's backlog taken in"
    )
    stack.wait_for(lambda: message_count(stack.amqp_uri, "station.gwm") == 0, 30)
    everything = results(stack, waiting | others)
    assert len(everything) == 3 * PER_STATION
    assert all(v == ["accepted"] for v in everything.values())  # nothing missing, nothing twice

    later = requests.get(stack.url("intake", receipt.replace("&amp;", "&")), timeout=10)
    assert later.status_code == 200 and re.search(r'id="tracking-number">LX\d{14}<', later.text)
