"""Run the whole system on one machine: ``make run`` (``python -m tools.stack``).

Checks that RabbitMQ answers (else one line saying how to start it), migrates every database,
loads the demo registry, creates the first office account when there is none (password from
``LIANXIN_ADMIN_PASSWORD``, else a random one; with the demo registry also a demo station admin
and a demo member), starts the four services as separate processes exactly as a container
would (``python -m services.kernel.runner <service>``), waits until each answers ``/health``
and intake consumes the demo stations, prints the addresses, then supervises them: a service
that dies is started again after a back-off (1 s, doubling to 30 s, back to 1 s once it has run
for a minute), each restart logged on the console and in ``<log dir>/supervisor.log``, and
``<log dir>/stack-status.json`` says what runs (pid, restarts, last exit). The others keep
serving meanwhile. Ctrl-C (or SIGTERM) stops them all. The tests use :class:`Stack` to start the
system the same way.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from kombu import Connection

from services.kernel import config as lx_config
from services.kernel.config import ROOT

SERVICES = ("registry", "intake", "routing", "reporting")  # in the order they start

PAGES = {  # each role's first page: citizens (QR, status, finder), clerks, members, the office
    "registry": ["/health", "/sign-in", "/finder", "/office/accounts", "/office/import"],
    "intake": [
        "/health",
        "/q/station/gwm",
        "/status",
        "/staff/gwm/activity",
        "/open311/v2/services.json",
    ],
    "routing": ["/health", "/duty/m003", "/duty/station/gwm", "/office/cases"],
    "reporting": ["/health", "/dashboard", "/stats/monthly"],
}


class BrokerUnavailable(SystemExit):
    pass


def check_broker(amqp_uri: str) -> None:
    try:
        with Connection(amqp_uri, connect_timeout=3) as conn:
            conn.connect()
    except Exception as exc:
        raise BrokerUnavailable(
            f"RabbitMQ 无法连接 / does not answer at {_safe(amqp_uri)} ({exc.__class__.__name__}): "
            "start it with `sudo rabbitmq-server -detached` (or `docker compose up rabbitmq`), "
            "or point AMQP_URI at one."
        ) from exc


def _safe(uri: str) -> str:
    if "@" in uri:
        scheme, _, rest = uri.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return uri


class Stack:
    """The four services as child processes, configured by ``env`` over the current one."""

    def __init__(
        self,
        config_path: str | Path | None = None,
        env: dict | None = None,
        log_dir: str | Path | None = None,
    ):
        self.config_path = str(lx_config.config_path(config_path))
        self.env = {**os.environ, **(env or {})}
        self.log_dir = Path(log_dir or ROOT / "var" / "log")
        self.procs: dict[str, subprocess.Popen] = {}
        self.specs: dict[str, tuple[str, dict | None]] = {}  # name → (service, extra env)
        self.ports: dict[str, int] = {}  # a replica's own HTTP port (the first: the config's)
        self._logs = {}

    def config(self) -> dict:
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            return lx_config.load(self.config_path)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def url(self, service: str, path: str = "") -> str:
        cfg = self.config()
        return (
            f"http://{cfg.get('http_host', '127.0.0.1')}:{cfg['services'][service]['port']}{path}"
        )

    def _python(self, *args) -> list[str]:
        return [sys.executable, *args]

    def prepare(self, demo: bool = True, demo_set: str = "lanzhou") -> None:
        """Migrate every database, then load a demo registry (``small`` or the full
        ``lanzhou`` set) if the registry is empty."""
        subprocess.run(
            self._python("-m", "services.kernel.runner", "migrate", "--config", self.config_path),
            env=self.env,
            cwd=ROOT,
            check=True,
        )
        if demo:
            subprocess.run(
                self._python(
                    "-m",
                    "services.registry.demo",
                    "--set",
                    demo_set,
                    "--if-empty",
                    self.config()["services"]["registry"]["db_url"],
                ),
                env=self.env,
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
            )

    def first_accounts(self, demo: bool = True) -> list[dict]:
        """The office account (created when missing) and, with ``demo``, the demo accounts:
        ``[{login, password, role, ...}]``, the password None when it is not known."""
        run = subprocess.run(
            self._python(
                "-m",
                "services.registry.first_accounts",
                *(["--demo"] if demo else []),
                self.config()["services"]["registry"]["db_url"],
            ),
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        answer = json.loads(run.stdout or "null")
        if run.returncode != 0:
            raise SystemExit(
                f"首个办公室账号未能创建 / could not create the first office account: {answer}"
                + (f"\n{run.stderr}" if not answer else "")
            )
        return answer

    def start_service(self, service: str, name: str | None = None, env: dict | None = None):
        """Start one service process; ``name`` tells apart several processes of one service."""
        name = name or service
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if name in self._logs:
            self._logs[name].close()
        log = open(self.log_dir / f"{name}.log", "ab")
        self._logs[name] = log
        self.specs[name] = (service, env)
        self.procs[name] = subprocess.Popen(
            self._python("-m", "services.kernel.runner", service, "--config", self.config_path),
            env={**self.env, **(env or {})},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self.procs[name]

    def start(self, services=SERVICES, timeout: float = 60, replicas: dict | None = None) -> None:
        """Start ``services``; ``replicas`` ``{service: n}`` starts n processes of a service
        (the first as ``<service>``, the others ``<service>-2`` … each on a port of its own)."""
        names = []
        for service in services:
            self.start_service(service)
            names.append((service, service))
            for index in range(2, (replicas or {}).get(service, 1) + 1):
                names.append((service, self.start_replica(service, index)))
        for service, name in names:
            self.wait_healthy(service, timeout, name=name)

    def start_replica(self, service: str, index: int, env: dict | None = None) -> str:
        """One more process of ``service``, named ``<service>-<index>``, on a free port (the
        same queues, database and broker as the first: docs/runbook.md, "Replicas")."""
        name = f"{service}-{index}"
        if name not in self.ports:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.ports[name] = s.getsockname()[1]
        port = str(self.ports[name])
        self.start_service(service, name, {f"{service.upper()}_PORT": port, **(env or {})})
        return name

    def replica_url(self, name: str, path: str = "") -> str:
        """The address of the process ``name`` (a replica's own port, else the service's)."""
        service = self.specs[name][0] if name in self.specs else name
        if name not in self.ports:
            return self.url(service, path)
        return f"http://{self.config().get('http_host', '127.0.0.1')}:{self.ports[name]}{path}"

    def wait_healthy(self, service: str, timeout: float = 60, name: str | None = None) -> dict:
        deadline = time.monotonic() + timeout
        name = name or service
        while time.monotonic() < deadline:
            proc = self.procs.get(name)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}"
                )
            try:
                r = requests.get(self.replica_url(name, "/health"), timeout=2)
                if r.status_code == 200:
                    return r.json()
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{service} did not answer /health within {timeout}s")

    def wait_for(self, predicate, timeout: float = 60, interval: float = 0.2, what: str = ""):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f"timed out after {timeout}s waiting for {what or predicate}")

    def health(self, service: str) -> dict:
        return requests.get(self.url(service, "/health"), timeout=5).json()

    def kill(self, name: str) -> None:
        """kill -9: no goodbye, no ack, no flush."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop(self, timeout: float = 20) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        for log in self._logs.values():
            log.close()
        self._logs.clear()


class Supervisor:
    """Keeps every process of a :class:`Stack` running: one that exits is started again after
    ``delay`` seconds, the delay doubling on each further death up to ``max_delay`` and back to
    ``initial`` once the process has run ``stable_after`` seconds. The others are untouched.

    :meth:`check` does one round (the caller loops); ``clock`` is injectable for tests."""

    def __init__(
        self,
        stack: Stack,
        initial: float = 1.0,
        max_delay: float = 30.0,
        stable_after: float = 60.0,
        clock=time.monotonic,
        log: logging.Logger | None = None,
    ):
        self.stack = stack
        self.initial, self.max_delay, self.stable_after = initial, max_delay, stable_after
        self.clock = clock
        self.log = log or logging.getLogger("lianxin.supervisor")
        now = clock()
        self.state = {
            name: {"delay": initial, "started": now, "due": None, "restarts": 0, "last_exit": None}
            for name in stack.procs
        }

    def check(self) -> list[str]:
        """One round: note deaths, restart what is due, reset the back-off of steady ones.
        Returns the names started again in this round."""
        now, restarted = self.clock(), []
        for name, proc in list(self.stack.procs.items()):
            st = self.state.setdefault(
                name, {"delay": self.initial, "started": now, "due": None, "restarts": 0,
                       "last_exit": None},
            )  # fmt: skip
            code = proc.poll()
            if code is None:
                if now - st["started"] >= self.stable_after:
                    st["delay"] = self.initial
                continue
            if st["due"] is None:  # just found dead
                st["due"], st["last_exit"] = now + st["delay"], code
                self.log.warning(
                    "%s (pid %s) exited with %s; restarting in %.0f s (see %s)",
                    name, proc.pid, code, st["delay"], self.stack.log_dir / f"{name}.log",
                )  # fmt: skip
                st["delay"] = min(st["delay"] * 2, self.max_delay)
            elif now >= st["due"]:
                service, env = self.stack.specs[name]
                new = self.stack.start_service(service, name, env)
                st.update(due=None, started=now, restarts=st["restarts"] + 1)
                self.log.warning("%s restarted (pid %s, restart %d)", name, new.pid, st["restarts"])
                restarted.append(name)
        if restarted:
            self.log.warning("status: %s", self.status_line())
        self.write_status()
        return restarted

    def status(self) -> dict:
        return {
            name: {
                "pid": proc.pid,
                "running": proc.poll() is None,
                "restarts": self.state.get(name, {}).get("restarts", 0),
                "last_exit": self.state.get(name, {}).get("last_exit"),
            }
            for name, proc in self.stack.procs.items()
        }

    def status_line(self) -> str:
        return "  ".join(
            f"{name} {'up' if s['running'] else 'DOWN'}"
            + (f" (restarts {s['restarts']})" if s["restarts"] else "")
            for name, s in self.status().items()
        )

    def write_status(self) -> None:
        path = self.stack.log_dir / "stack-status.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status(), indent=1))
        tmp.replace(path)

    def run(self, interval: float = 0.5) -> None:
        """Supervise until interrupted (KeyboardInterrupt)."""
        while True:
            self.check()
            time.sleep(interval)


def supervisor_log(log_dir: Path) -> logging.Logger:
    """Restarts go to the console and to ``<log_dir>/supervisor.log``."""
    log = logging.getLogger("lianxin.supervisor")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.handlers.clear()
    log_dir.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s supervisor: %(message)s")
    for handler in (
        logging.StreamHandler(sys.stderr),
        logging.FileHandler(log_dir / "supervisor.log"),
    ):
        handler.setFormatter(fmt)
        log.addHandler(handler)
    return log


def print_accounts(stack: Stack, cfg: dict, accounts: list[dict]) -> None:
    sign_in = f"{(cfg.get('public_urls') or {}).get('registry') or stack.url('registry')}/sign-in"
    print(f"\n  登录 sign in: {sign_in}")
    for account in accounts:
        password = account["password"] or (
            "（已设置过 / set earlier; LIANXIN_ADMIN_PASSWORD=… make run resets it）"
        )
        print(f"    {account['role']:<14} login {account['login']:<13} password {password}")
    print(
        "  API: curl -d '{\"login\":…,\"password\":…}' -H 'Content-Type: application/json' "
        f"{stack.url('registry', '/auth/sign-in')}  → token (Authorization: Bearer …)"
    )


def print_addresses(stack: Stack, cfg: dict, accounts: list[dict]) -> None:
    """What a person needs once everything runs: the pages, the channels, the accounts."""
    print("\n连心 Lianxin is running / 已启动:")
    for service in SERVICES:
        for path in PAGES[service]:
            print(f"  {service:<10} {stack.url(service, path)}")
    print(
        f"\n  AMQP       {_safe(cfg['AMQP_URI'])} (exchange lianxin.intake, "
        "routing key station.<code>)"
    )
    keys = str(cfg["services"]["intake"].get("open311_api_keys") or "").split(",")
    print(f"  Open311    {stack.url('intake', '/open311/v2')} (api_key {keys[0].strip()})")
    print('  try: .venv/bin/python -m tools.client gwm health "老人需要上门问诊"')
    print_accounts(stack, cfg, accounts)
    print(f"  logs: {stack.log_dir}/   Ctrl-C 停止 / stops everything\n", flush=True)


def replica_counts(text: str, cfg: dict) -> dict[str, int]:
    """``routing=2,registry=2`` → ``{"routing": 2, "registry": 2}``; refused for a service on
    SQLite (one process by design: its database has one writer) or an unknown service."""
    counts = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        service, _, n = part.partition("=")
        if service not in SERVICES or not n.isdigit() or int(n) < 1:
            raise ValueError(f"--replicas: 无法识别 / not understood: {part!r} (e.g. routing=2)")
        if int(n) > 1 and cfg["services"][service]["db_url"].startswith("sqlite"):
            raise ValueError(
                f"--replicas: {service} 使用 SQLite，只能运行一个进程 / runs on SQLite, one process "
                f"only: set {service.upper()}_DB_URL to a PostgreSQL database"
            )
        counts[service] = int(n)
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="run every Lianxin service with demo data")
    parser.add_argument("--config", default=None)
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo registry")
    parser.add_argument("--demo-set", default="lanzhou", choices=("lanzhou", "small"))
    parser.add_argument("--log-dir", default=None, help="default: var/log")
    parser.add_argument(
        "--replicas",
        default=os.environ.get("LIANXIN_REPLICAS", ""),  # `LIANXIN_REPLICAS=reporting=2 make run`
        help="processes per service, e.g. routing=2,registry=2 (PostgreSQL databases only)",
    )
    args = parser.parse_args(argv)
    stack = Stack(args.config, log_dir=args.log_dir)
    cfg = stack.config()
    try:
        check_broker(cfg["AMQP_URI"])
        replicas = replica_counts(args.replicas, cfg)
    except (BrokerUnavailable, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1

    def on_term(signum, frame):  # `kill` stops everything the way Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    stack.prepare(demo=not args.no_demo, demo_set=args.demo_set)
    accounts = stack.first_accounts(demo=not args.no_demo)
    print("启动服务 starting registry, intake, routing, reporting …", flush=True)
    try:
        stack.start(replicas=replicas)
        if not args.no_demo:
            stack.wait_for(
                lambda: len(stack.health("intake").get("stations", [])) > 0,
                timeout=30,
                what="intake to consume the demo stations",
            )
        print_addresses(stack, cfg, accounts)
        # A service that dies is started again (back-off 1 s … 30 s); the others keep serving.
        Supervisor(stack, log=supervisor_log(stack.log_dir)).run()
    except KeyboardInterrupt:
        print("\n停止 stopping …")
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
