"""The multi-replica deployment of docs/DEPLOY.md, run for real: Debian's nginx with
docs/deploy/nginx.conf (TLS on a loopback port, a self-signed certificate) in front of two
``app.py`` replicas that share a PostgreSQL question log and one index folder: answers over
TLS, one log and console for both, a rebuilt index served by both, one rate limit, then
PostgreSQL stopped and started under load, and a replica killed under load.

Skipped, saying why, when nginx or PostgreSQL is not installed (.ci/run installs both).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import CORPUS, ROOT
from gradio_client import Client
from postgres_server import start_or_skip
from serving import Server, free_port

from bot.search.reindex import reindex
from bot.settings import Settings

pytestmark = pytest.mark.slow
NGINX_CONF = ROOT / "docs" / "deploy" / "nginx.conf"
USER, PASSWORD = "staff", "correct horse battery clinic"
CRISIS = "I want to kill myself"
PARKING = "\n\n## Is there parking at the clinic?\n\nFree parking is available in the lot behind the clinic building.\n"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


class Nginx:
    """docs/deploy/nginx.conf with this test's ports, certificate and replicas, in a prefix folder."""

    def __init__(self, folder: Path, replicas: list[int]) -> None:
        self.folder = folder
        self.https, self.http = free_port(), free_port()
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                        "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")], check=True, capture_output=True)
        site = NGINX_CONF.read_text()
        for old, new in {
            "127.0.0.1:7861": f"127.0.0.1:{replicas[0]}", "127.0.0.1:7862": f"127.0.0.1:{replicas[1]}",
            "listen 443 ssl": f"listen 127.0.0.1:{self.https} ssl", "listen 80;": f"listen 127.0.0.1:{self.http};",
            "/etc/ssl/faqbot/fullchain.pem": str(folder / "cert.pem"), "/etc/ssl/faqbot/privkey.pem": str(folder / "key.pem"),
        }.items():
            assert old in site, f"docs/deploy/nginx.conf no longer holds {old!r}: update this test with it"
            site = site.replace(old, new)
        (folder / "faqbot.conf").write_text(site)
        temp = "\n".join(f"    {kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (folder / "nginx.conf").write_text(
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
            f"events {{ worker_connections 256; }}\nhttp {{\n    access_log {folder}/access.log;\n{temp}\n"
            f"    include {folder}/faqbot.conf;\n}}\n"
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> Nginx:
        conf = str(self.folder / "nginx.conf")
        check = subprocess.run([nginx_binary(), "-t", "-p", str(self.folder), "-c", conf], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen([nginx_binary(), "-p", str(self.folder), "-c", conf], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base}/healthz", verify=False, timeout=2)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError((self.folder / "error.log").read_text())

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.https}"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish the requests in flight
            self.proc.wait(10)


@pytest.fixture(scope="module")
def database():
    """This module's own PostgreSQL: one test stops and starts it under load."""
    server = start_or_skip()
    yield server
    server.close()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, embedder, database):
    if nginx_binary() is None:
        pytest.skip("nginx is not installed: the deployment test needs Debian's nginx package (.ci/run installs it)")
    tmp = tmp_path_factory.mktemp("deploy")
    url = database.database()
    shutil.copytree(CORPUS, tmp / "corpus")
    settings = Settings(corpus_dir=tmp / "corpus", index_dir=tmp / "index")
    reindex(settings, embedder)
    env = {"FAQBOT_INDEX_DIR": str(settings.index_dir), "FAQBOT_CORPUS_DIR": str(settings.corpus_dir), "FAQBOT_DB": url,
           "FAQBOT_TRUST_PROXY": "1", "FAQBOT_RATE_LIMIT": "2", "FAQBOT_RATE_BURST": "4", "FAQBOT_RELOAD_INTERVAL": "1",
           "FAQBOT_STAFF_USER": USER, "FAQBOT_STAFF_PASSWORD": PASSWORD}
    replicas = [Server(env, tmp / f"replica-{i}.log") for i in (1, 2)]
    for replica in replicas:
        replica.start(timeout=300)
    nginx = Nginx(tmp, [r.port for r in replicas]).start()
    yield nginx, replicas, settings, url
    nginx.stop()
    for replica in replicas:
        replica.stop()


def ask(base: str, message: str = "how much does it cost?", ip: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": ip} if ip else {}
    return httpx.post(f"{base}/api/chat", json={"message": message}, headers=headers, verify=False, timeout=60)


def test_visitors_are_answered_through_nginx_over_tls(deployment):
    nginx, _, _, _ = deployment
    reply = ask(nginx.base)
    assert reply.status_code == 200 and "$400-$600" in reply.json()["answer"]
    assert reply.headers["strict-transport-security"] == "max-age=31536000"
    for path in ("/healthz", "/widget.js", "/demo"):
        assert httpx.get(f"{nginx.base}{path}", verify=False).status_code == 200, path
    assert httpx.get(f"{nginx.base}/config", verify=False).status_code == 401  # the console, asking for the sign-in
    plain = httpx.get(f"http://127.0.0.1:{nginx.http}/demo", follow_redirects=False)
    assert plain.status_code == 308 and plain.headers["location"].startswith("https://")


def test_a_question_asked_on_one_replica_is_in_the_others_export_and_console(deployment):
    _, (one, two), settings, url = deployment
    assert ask(one.base, "do you take HSA cards at your clinic?", ip="198.51.100.20").status_code == 200
    console = Client(two.base, auth=(USER, PASSWORD), verbose=False)  # the other replica's console
    deadline = time.monotonic() + 20
    while True:
        rows = console.predict(api_name="/unanswered")[0]["data"]
        if any("HSA" in str(row) for row in rows) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert any("HSA" in str(row) for row in rows), rows
    assert "do you take HSA cards at your clinic?" in logged(url, {"do you take HSA cards at your clinic?"})


def test_a_rebuilt_index_is_served_by_both_replicas(deployment, embedder):
    _, replicas, settings, _ = deployment
    with open(settings.corpus_dir / "ketamine-infusion-insurance.md", "a", encoding="utf-8") as fh:
        fh.write(PARKING)
    built = reindex(settings, embedder).build_id
    for i, replica in enumerate(replicas):
        deadline = time.monotonic() + 60
        while httpx.get(f"{replica.base}/healthz").json()["index"]["build_id"] != built and time.monotonic() < deadline:
            time.sleep(0.5)
        reply = ask(replica.base, "is parking free?", ip=f"198.51.100.{30 + i}")
        assert reply.status_code == 200 and "Free parking" in reply.json()["answer"], (replica.base, reply.json())


def test_the_rate_limit_holds_across_both_replicas_and_crisis_messages_still_get_through(deployment):
    nginx, (one, two), _, _ = deployment
    # One visitor alternating between the replicas: one bucket of 4, not 4 per replica.
    statuses = [ask(r.base, "how long does a session take?", ip="203.0.113.50").status_code for r in (one, two) * 3]
    assert statuses == [200, 200, 200, 200, 429, 429]
    # Through nginx every request counts against the address nginx saw, whichever replica answers.
    through = [ask(nginx.base, "what are the side effects?").status_code for _ in range(8)]
    assert through.count(429) >= 4 and through[-4:] == [429] * 4
    crisis = ask(nginx.base, CRISIS)
    assert crisis.status_code == 200 and crisis.json()["crisis"] is True and "988" in crisis.json()["answer"]


class Load:
    """Visitors asking each replica directly, back to back, each question from its own
    address (the limit is not what these tests measure); what each replica answered."""

    def __init__(self, replicas: dict[str, Server], tag: str) -> None:
        self.answered: dict[str, list[str]] = {name: [] for name in replicas}
        self.other: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._ask, args=(r, n, tag)) for n, r in replicas.items()]

    def _ask(self, replica: Server, name: str, tag: str) -> None:
        with httpx.Client(base_url=replica.base, timeout=30) as client:
            for i in range(100_000):
                if self._stop.is_set():
                    return
                message = f"{tag} on replica {name}, question {i}"
                try:
                    reply = client.post("/api/chat", json={"message": message}, headers={"X-Forwarded-For": f"192.0.2.{i % 250}"})
                except httpx.TransportError:
                    return  # this replica is gone
                (self.answered[name] if reply.status_code == 200 else self.other).append(f"{reply.status_code} {message}")

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()

    def questions(self, name: str) -> set[str]:
        return {a.split(" ", 1)[1] for a in self.answered[name]}


def logged(url: str, wanted: set[str], timeout: float = 30.0) -> set[str]:
    """The questions in the shared log (``python -m bot log export``), once ``wanted`` are all
    there or ``timeout`` has passed."""
    deadline = time.monotonic() + timeout
    env = {**os.environ, "FAQBOT_DB": url}
    while True:
        done = subprocess.run([sys.executable, "-m", "bot", "log", "export", "--format", "jsonl"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        stored = {json.loads(line)["message"] for line in done.stdout.splitlines()}
        if wanted <= stored or time.monotonic() > deadline:
            return stored
        time.sleep(1)


def test_questions_answered_while_postgresql_is_down_are_logged_when_it_is_back(deployment, database):
    _, (one, two), _, url = deployment
    with Load({"one": one, "two": two}, "outage") as load:
        time.sleep(1.5)
        database.stop()
        time.sleep(3)
        health = httpx.get(f"{one.base}/healthz").json()
        database.start()
        time.sleep(1.5)
    assert health["status"] == "ok" and health["log"]["state"] == "degraded" and health["log"]["pending"] > 0
    assert load.other == [] and len(load.answered["one"]) > 10 and len(load.answered["two"]) > 10  # nobody noticed
    asked = load.questions("one") | load.questions("two")
    assert asked <= logged(url, asked)  # every question, before, during and after the outage
    assert [httpx.get(f"{r.base}/healthz").json()["log"]["state"] for r in (one, two)] == ["ok", "ok"]


def test_a_replica_killed_under_load_costs_no_row_of_the_other(deployment):
    """Last in this file: it kills replica one."""
    _, (one, two), _, url = deployment
    with Load({"one": one, "two": two}, "kill") as load:
        time.sleep(3)
        one.stop(signal.SIGKILL)
        time.sleep(2)
    assert len(load.answered["two"]) > 10 and load.answered["one"] and load.other == []
    assert load.questions("two") <= logged(url, load.questions("two"))  # every question the surviving replica answered
    assert httpx.get(f"{two.base}/healthz").json()["log"]["state"] == "ok"
