"""A real server (``python app.py``) for the hardening and fault tests: its log goes to a
file the test can read, it can be stopped with any signal and started again on the same
port, and optionally every outbound network connection it tries is refused and recorded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent

# Imported by the server's Python at start-up (PYTHONPATH): a connection or a name look-up
# to anything but loopback is written to FAQBOT_TEST_OUTBOUND_LOG and fails loudly.
SANDBOX = textwrap.dedent('''
    import os, socket

    _LOG = os.environ["FAQBOT_TEST_OUTBOUND_LOG"]
    _LOCAL = ("localhost", "127.", "::1", "0.0.0.0")

    def _record(what):
        with open(_LOG, "a") as fh:
            fh.write(what + "\\n")

    def _local(host):
        return not isinstance(host, str) or host.startswith(_LOCAL) or host == ""

    _connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
            _record(f"connect {address!r}")
            raise OSError("outbound connection refused by the test sandbox")
        return _connect(self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
            _record(f"connect {address!r}")
            return 111
        return _connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if not _local(name):
            _record(f"getaddrinfo {name!r}")
            raise socket.gaierror(socket.EAI_NONAME, "name look-up refused by the test sandbox")
        return _getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python app.py`` on a loopback port with ``env`` on top of the test's environment:
    the one launcher of every test that needs a real server.

    The rate limit is off unless ``env`` sets FAQBOT_RATE_LIMIT: these servers take many
    questions from one address (tests/test_hardening.py tests the limiter)."""

    def __init__(self, env: dict[str, str], log: Path, *, sandbox: Path | None = None) -> None:
        self.env = {**os.environ, "FAQBOT_RATE_LIMIT": "0", **env}
        self.log = log
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.outbound = None
        if sandbox is not None:
            sandbox.mkdir(parents=True, exist_ok=True)
            (sandbox / "sitecustomize.py").write_text(SANDBOX)
            self.outbound = sandbox / "outbound.log"
            self.outbound.touch()
            self.env["PYTHONPATH"] = os.pathsep.join([str(sandbox), self.env.get("PYTHONPATH", "")]).strip(os.pathsep)
            self.env["FAQBOT_TEST_OUTBOUND_LOG"] = str(self.outbound)

    def start(self, timeout: float = 120.0) -> Server:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "app.py", "--port", str(self.port)], cwd=ROOT, env=self.env,
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"the server was not ready within {timeout:.0f}s:\n{self.log_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Send ``sig`` and wait for the process to end; its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def outbound_attempts(self) -> list[str]:
        return self.outbound.read_text().splitlines() if self.outbound else []


def raw_get(base: str, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no URL normalisation of "..", "%2e" or "//"):
    (status, body)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body
