"""The stand-ins notices are sent to in tests: a real SMTP server (aiosmtpd, writing a mailbox)
and an SMS/WeChat gateway that logs each request and answers 503 to the first ``fail_first``.
Each runs as a child process on a free loopback port; :func:`started` stops them at the end."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import free_port

GATEWAY = textwrap.dedent("""
    import json, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer
    log, fail_first = sys.argv[2], int(sys.argv[3])
    seen = []
    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body)
            ok = len(seen) > fail_first
            with open(log, "a") as f:
                f.write(json.dumps({"ok": ok, **body}, ensure_ascii=False) + "\\n")
            self.send_response(200 if ok else 503)
            self.end_headers()
            self.wfile.write(b"{}")
        def log_message(self, *a):
            pass
    HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")


def wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(port)


def smtp_server(box: Path) -> tuple[subprocess.Popen, int]:
    """aiosmtpd writing every message to the mailbox ``box``; (process, port)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
        + ["-c", "aiosmtpd.handlers.Mailbox", str(box)]
    )
    wait_port(port)
    return proc, port


def gateway(where: Path, log: Path, fail_first: int) -> tuple[subprocess.Popen, str]:
    """The gateway stand-in, logging to ``log``; (process, its URL)."""
    port, script = free_port(), where / "gateway.py"
    script.write_text(GATEWAY)
    proc = subprocess.Popen([sys.executable, str(script), str(port), str(log), str(fail_first)])
    wait_port(port)
    return proc, f"http://127.0.0.1:{port}/send"


@contextmanager
def started(*servers):
    """Stop the servers' processes (the first item of each pair) when the block ends."""
    try:
        yield [value for _, value in servers]
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(10)
