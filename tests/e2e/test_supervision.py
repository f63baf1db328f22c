"""`make run` supervises: kill -9 routing under the real `python -m tools.stack`, and the
stack stays up, routing is started again and answers /ready within seconds, an issue sent while
it was dead is assigned, the other services answer throughout, the restart is logged; SIGINT
(Ctrl-C) to the supervisor then stops every child."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from services.kernel.config import ROOT
from tests.conftest import auth_headers, create_vhost, delete_vhost
from tests.e2e.conftest import SERVICES, free_ports, stack_env
from tools.client import SubmissionClient


@pytest.fixture
def supervised(tmp_path):
    vhost, amqp_uri = create_vhost()
    ports = dict(zip(SERVICES, free_ports(4), strict=True))
    urls = {s: f"sqlite:///{tmp_path}/{s}.db" for s in SERVICES}
    env = {**os.environ, **stack_env(amqp_uri, urls, list(ports.values()))}
    env["LIANXIN_ADMIN_PASSWORD"] = "supervised-test-password"
    out = open(tmp_path / "stack.out", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.stack", "--demo-set", "small", "--log-dir", tmp_path / "log"],
        env=env,
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: cleaned up below whatever happens
    )
    try:
        yield proc, env, ports, tmp_path
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.close()
        delete_vhost(vhost)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_kill_9_routing_under_make_run_it_comes_back_and_ctrl_c_stops_all(supervised):
    proc, env, ports, tmp = supervised
    status_file, log_dir = tmp / "log" / "stack-status.json", tmp / "log"
    office = auth_headers({"security": {"secret_key": env["LIANXIN_SECRET_KEY"]}})

    def url(service, path):
        return f"http://127.0.0.1:{ports[service]}{path}"

    def status():
        return json.loads(status_file.read_text()) if status_file.exists() else {}

    deadline = time.monotonic() + 240
    while "is running" not in (tmp / "stack.out").read_text():
        assert proc.poll() is None, (tmp / "stack.out").read_text()
        assert time.monotonic() < deadline, (tmp / "stack.out").read_text()
        time.sleep(0.2)
    while len(status()) < 4:
        time.sleep(0.1)
    pids = {name: s["pid"] for name, s in status().items()}

    failures, watching = [], threading.Event()
    watching.set()

    def watch():  # the other services answer throughout
        while watching.is_set():
            for service in ("registry", "intake", "reporting"):
                try:
                    code = requests.get(url(service, "/health"), timeout=3).status_code
                    if code != 200:
                        failures.append((service, code))
                except requests.RequestException as exc:
                    failures.append((service, repr(exc)))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()

    killed_at = time.monotonic()
    os.kill(pids["routing"], signal.SIGKILL)
    with SubmissionClient(env["AMQP_URI"]) as client:  # sent while routing is dead
        sid = client.submit("gwm", category="health", description="老人需要上门问诊 (路由重启中)")

    while not (status().get("routing", {}).get("running") and status()["routing"]["restarts"]):
        assert time.monotonic() - killed_at < 60, status()
        time.sleep(0.1)
    new_pid = status()["routing"]["pid"]
    assert new_pid != pids["routing"]
    while True:
        try:
            if requests.get(url("routing", "/ready"), timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        assert time.monotonic() - killed_at < 60, "routing not ready again within 60 s"
        time.sleep(0.1)
    back_in = time.monotonic() - killed_at

    number = None
    while number is None:
        found = requests.get(
            url("intake", f"/submissions?submission_id={sid}"), headers=office, timeout=5
        ).json()["submissions"]
        number = found[0]["tracking_number"] if found else None
        assert number or time.monotonic() - killed_at < 60, "intake did not take the issue"
        time.sleep(0.2)
    while True:
        r = requests.get(url("routing", f"/cases/{number}"), headers=office, timeout=5)
        if r.status_code == 200 and r.json()["status"] == "assigned":
            break
        assert time.monotonic() - killed_at < 120, r.text
        time.sleep(0.2)
    assigned_in = time.monotonic() - killed_at
    watching.clear()
    watcher.join(5)
    assert not failures, failures
    assert proc.poll() is None, "the stack stopped"
    assert {n: s["pid"] for n, s in status().items() if n != "routing"} == {
        n: p for n, p in pids.items() if n != "routing"
    }, "only routing was started again"

    log = (log_dir / "supervisor.log").read_text()
    assert f"routing (pid {pids['routing']}) exited with -9; restarting in 1 s" in log, log
    assert f"routing restarted (pid {new_pid}, restart 1)" in log, log
    assert "routing up (restarts 1)" in log, log
    print(f"routing back (/ready) {back_in:.1f}s after kill -9; issue assigned {assigned_in:.1f}s")

    children = [s["pid"] for s in status().values()]
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    assert proc.wait(60) == 0
    assert not [pid for pid in children if alive(pid)], "children left running"
    assert "停止 stopping" in (tmp / "stack.out").read_text()
    print(f"Ctrl-C stopped all in {time.monotonic() - started:.1f}s")
