"""Three private RabbitMQ nodes clustered on this machine, for the cluster test (issue 22).

Each node has its own node name, AMQP and distribution ports, data and log directories and
Erlang cookie, so the shared broker on 5672 is never touched. Only the consistent-hash exchange
plugin is enabled (reporting's partitions need it; the management plugin's port would clash with
the shared broker's); the test talks to the nodes with ``rabbitmqctl`` and AMQP only.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")  # the scripts themselves, not the wrappers that su


def available() -> bool:
    return (RABBIT_BIN / "rabbitmq-server").exists() and shutil.which("epmd") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, root: Path, name: str, cookie: str):
        self.name, self.cookie = f"{name}@localhost", cookie
        self.base = root / name
        self.port, self.dist_port = _free_port(), _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def env(self) -> dict:
        return {
            **os.environ,
            "HOME": str(self.base),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.base / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "pid"),
        }

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        cookie = self.base / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(self.cookie)
            cookie.chmod(0o400)
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        # reporting's partitions need the consistent-hash exchange (services.kernel.topology)
        (self.base / "enabled_plugins").write_text("[rabbitmq_consistent_hash_exchange].\n")
        log = open(self.base / "server.log", "ab")  # noqa: SIM115 - the node's lifetime
        self.process = subprocess.Popen(
            [str(RABBIT_BIN / "rabbitmq-server")],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ctl(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(
            [str(RABBIT_BIN / "rabbitmqctl"), "--erlang-cookie", self.cookie, "-n", self.name,
             *args],
            env=self.env(), capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} on {self.name}: {done.stderr}")
        return done.stdout

    def wait_running(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.ctl("await_startup", timeout=30)
                return
            except (RuntimeError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise

    def kill(self) -> None:
        """kill -9 of the node's Erlang VM (and whatever the script started)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


class Cluster:
    """``nodes`` clustered with the first; :attr:`uri` lists every node (``;``-separated, as
    kombu and the project's client take it)."""

    def __init__(self, root: Path, size: int = 3):
        cookie = secrets.token_hex(16)
        tag = secrets.token_hex(3)
        self.nodes = [Node(root, f"lxc{n}-{tag}", cookie) for n in range(1, size + 1)]

    @property
    def uri(self) -> str:
        return ";".join(n.uri for n in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            node.wait_running()
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.name)
            node.ctl("start_app")
            node.wait_running()

    def running_nodes(self, via: Node) -> list[str]:
        status = json.loads(via.ctl("cluster_status", "--formatter", "json"))
        return sorted(status["running_nodes"])

    def queues(self, via: Node) -> list[dict]:
        out = via.ctl("list_queues", "name", "type", "members", "messages", "--formatter", "json")
        return json.loads(out)

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()


PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


class PgServer:
    """A private PostgreSQL server (own data directory and port, trust auth) run as the
    ``postgres`` user, so that the test can crash and restart it without touching the shared
    one."""

    def __init__(self, root: Path):
        self.base, self.port = root, _free_port()
        self.data = root / "data"

    @staticmethod
    def available() -> bool:
        return PG_BIN is not None and shutil.which("runuser") is not None

    def _as_postgres(self, *cmd: str, timeout: float = 120) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True, timeout=timeout,
                       capture_output=True)  # fmt: skip

    def init(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.base, "postgres", "postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust",
                          "-U", "postgres", "-E", "UTF8", "--locale", "C.UTF-8")  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l",
                          str(self.base / "server.log"), "-o", options, "-w", "start")  # fmt: skip

    def crash(self) -> None:
        """Stop in ``immediate`` mode: no checkpoint, the recovery of a crash at the next start."""
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def stop(self) -> None:
        try:
            self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
        except subprocess.CalledProcessError:
            pass  # not running

    def url(self, db: str) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{db}"

    def create(self, db: str) -> str:
        self._as_postgres(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), db)
        return self.url(db)
