"""Run the whole system on one machine: ``make run`` (``python -m tools.stack``).

Checks that RabbitMQ answers (else one line saying how to start it), migrates every database,
loads the demo registry, creates the first office account when there is none (password from
``LIANXIN_ADMIN_PASSWORD``, else a random one; with the demo registry also a demo station admin
and a demo member), starts the four services as separate processes exactly as a container
would (``python -m services.kernel.runner <service>``), waits until each answers ``/health``
and intake consumes the demo stations, prints the addresses, and stops them all on Ctrl-C.
The tests use :class:`Stack` to start the system the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from kombu import Connection

from services.kernel import config as lx_config
from services.kernel.config import ROOT

SERVICES = ("registry", "intake", "routing", "reporting")  # in the order they start

PAGES = {
    "registry": ["/health", "/sign-in", "/stations", "/members"],
    "intake": ["/health", "/q/station/gwm", "/status", "/open311/v2/services.json"],
    "routing": ["/health", "/duty/m003"],
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
        log = open(self.log_dir / f"{name}.log", "ab")
        self._logs[name] = log
        self.procs[name] = subprocess.Popen(
            self._python("-m", "services.kernel.runner", service, "--config", self.config_path),
            env={**self.env, **(env or {})},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self.procs[name]

    def start(self, services=SERVICES, timeout: float = 60) -> None:
        for service in services:
            self.start_service(service)
        for service in services:
            self.wait_healthy(service, timeout)

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
                r = requests.get(self.url(service, "/health"), timeout=2)
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="run every Lianxin service with demo data")
    parser.add_argument("--config", default=None)
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo registry")
    args = parser.parse_args(argv)
    stack = Stack(args.config)
    cfg = stack.config()
    try:
        check_broker(cfg["AMQP_URI"])
    except BrokerUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1

    def on_term(signum, frame):  # `kill` stops everything the way Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    stack.prepare(demo=not args.no_demo)
    accounts = stack.first_accounts(demo=not args.no_demo)
    print("启动服务 starting registry, intake, routing, reporting …", flush=True)
    try:
        stack.start()
        if not args.no_demo:
            stack.wait_for(
                lambda: len(stack.health("intake").get("stations", [])) > 0,
                timeout=30,
                what="intake to consume the demo stations",
            )
        print_addresses(stack, cfg, accounts)
        while all(p.poll() is None for p in stack.procs.values()):
            time.sleep(0.5)
        dead = [n for n, p in stack.procs.items() if p.poll() is not None]
        print(f"stopped unexpectedly: {', '.join(dead)}; see {stack.log_dir}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\n停止 stopping …")
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
