"""`make run`'s broker check (one line that says what is wrong and what to do) and its
supervisor's back-off (the real kill -9 under `make run`: tests/e2e/test_supervision.py)."""

import json
import socket

import pytest

from tools.stack import BrokerUnavailable, Supervisor, check_broker


def test_a_broker_that_does_not_answer_is_named_with_the_remedy():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    with pytest.raises(BrokerUnavailable) as err:
        check_broker(f"amqp://guest:secret@127.0.0.1:{port}/")
    message = str(err.value)
    assert "\n" not in message
    assert f"127.0.0.1:{port}" in message and "rabbitmq-server" in message
    assert "secret" not in message  # the password never reaches the terminal


def test_a_broker_that_answers_passes():
    check_broker("amqp://guest:guest@127.0.0.1:5672/")


class FakeProc:
    pids = iter(range(1000, 9999))

    def __init__(self):
        self.pid, self.code = next(self.pids), None

    def poll(self):
        return self.code


class FakeStack:
    """Stands in for :class:`tools.stack.Stack`: start_service makes a live fake process."""

    def __init__(self, tmp_path, names):
        self.log_dir = tmp_path
        self.procs, self.specs, self.started = {}, {}, []
        for name in names:
            self.start_service(name)

    def start_service(self, service, name=None, env=None):
        name = name or service
        self.specs[name] = (service, env)
        self.procs[name] = FakeProc()
        self.started.append(name)
        return self.procs[name]


def test_a_dead_service_is_restarted_with_a_doubling_back_off_reset_once_it_runs_steadily(
    tmp_path, caplog
):
    now = [0.0]
    stack = FakeStack(tmp_path, ["registry", "routing"])
    sup = Supervisor(stack, initial=1, max_delay=4, stable_after=60, clock=lambda: now[0])

    def tick(seconds):
        now[0] += seconds
        return sup.check()

    def die(name):
        stack.procs[name].code = -9

    registry = stack.procs["registry"]
    starts = []
    for expected_delay in (1, 2, 4, 4):  # doubling, capped at max_delay
        die("routing")
        assert tick(0) == []  # found dead: scheduled, not yet started
        assert tick(expected_delay - 0.5) == []
        assert tick(0.5) == ["routing"]
        starts.append(now[0])
    assert stack.procs["registry"] is registry  # the others untouched
    status = sup.status()
    assert status["routing"] == {
        "pid": stack.procs["routing"].pid, "running": True, "restarts": 4, "last_exit": -9
    }  # fmt: skip
    assert status["registry"]["restarts"] == 0
    assert json.loads((tmp_path / "stack-status.json").read_text()) == status
    assert "routing up (restarts 4)" in sup.status_line()
    tick(60)  # a minute of steady running: the next death waits 1 s again
    die("routing")
    tick(0)
    assert tick(1) == ["routing"]
    logged = [r.getMessage() for r in caplog.records if r.name == "lianxin.supervisor"]
    assert sum("exited with -9; restarting in" in m for m in logged) == 5
    assert sum("routing restarted (pid" in m for m in logged) == 5
