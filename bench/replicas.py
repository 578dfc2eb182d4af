"""Several replicas on PostgreSQL: what sharing costs and what a second replica buys.

    python -m bench.replicas [--seconds 6] [--json]

All in one run, on loopback, against a PostgreSQL and an nginx this benchmark starts in a
temporary folder and stops (Debian's packages; the part is skipped, saying so, without them):

- **the question log's write cost**: answered messages written as the log's writer writes
  them (batches of 20, one transaction each) and one per transaction, to a SQLite file and
  to PostgreSQL: microseconds per row;
- **the rate limit's cost per request**: one token taken from the replica's own buckets
  (memory) and from the shared buckets (one statement in PostgreSQL): microseconds per call;
- **throughput**: 16 clients back to back (bench.throughput's load) against one replica
  directly, one replica behind nginx, and two replicas behind nginx, each on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from .common import HOST, ROOT, bench_index, distinct_messages, free_port, machine, start_server
from .throughput import level, merge

sys.path.insert(0, str(ROOT / "tests"))  # the tests' throwaway PostgreSQL (tests/postgres_server.py)
from postgres_server import PostgresServer, binaries  # noqa: E402

from bot.replies import Citation, Reply, ReplyKind  # noqa: E402
from bot.serve.ratelimit import RateLimiter  # noqa: E402
from bot.store import Exchange, Store  # noqa: E402
from bot.store.buckets import take_token  # noqa: E402

ROWS = 2000
CALLS = 2000
CLIENTS = 16
_REPLY = Reply("It is typically around $400-$600 per session.", ReplyKind.ANSWER,
               (Citation("How much does ketamine infusion cost?", "cost", "corpus/a.md", "/source/a#cost", "typically", 0.5),))


def log_writes(target: str) -> dict:
    """Microseconds per row written in batches of 20 and one row per transaction."""
    store = Store(target)
    try:
        rows = [Exchange.of("widget", f"how much does session {i} cost?", _REPLY, 0.01) for i in range(ROWS)]
        started = time.perf_counter()
        for i in range(0, ROWS // 2, 20):
            store.add_many(rows[i:i + 20])
        batched = (time.perf_counter() - started) / (ROWS // 2)
        started = time.perf_counter()
        for row in rows[ROWS // 2:]:
            store.add(row)
        single = (time.perf_counter() - started) / (ROWS - ROWS // 2)
    finally:
        store.close()
    return {"batch_of_20_us_per_row": round(batched * 1e6, 1), "one_per_transaction_us": round(single * 1e6, 1)}


def rate_limit(url: str) -> dict:
    """Microseconds per token taken: the replica's own buckets against the shared ones."""
    local = RateLimiter(1_000_000, 1_000_000)
    started = time.perf_counter()
    for i in range(CALLS):
        local.take(f"203.0.113.{i % 200}")
    own = (time.perf_counter() - started) / CALLS
    store = Store(url)
    try:
        take_token(store, "warm-up", 1000.0, 1000)
        started = time.perf_counter()
        for i in range(CALLS):
            take_token(store, f"203.0.113.{i % 200}", 1000.0, 1000)
        shared = (time.perf_counter() - started) / CALLS
    finally:
        store.close()
    return {"own_us": round(own * 1e6, 2), "shared_us": round(shared * 1e6, 1)}


class Nginx:
    """nginx on a loopback port, plain HTTP, spreading /api/ over ``ports`` as docs/deploy/nginx.conf does."""

    def __init__(self, folder: Path, ports: list[int]) -> None:
        self.folder, self.port = folder, free_port()
        servers = "".join(f"        server {HOST}:{p};\n" for p in ports)
        temp = "".join(f"    {k}_temp_path {folder}/{k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (folder / "nginx.conf").write_text(
            f"user root;\ndaemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
            f"events {{ worker_connections 1024; }}\nhttp {{\n    access_log off;\n{temp}"
            f"    upstream replicas {{\n        least_conn;\n{servers}        keepalive 32;\n    }}\n"
            f"    server {{\n        listen {HOST}:{self.port};\n        location /api/ {{\n"
            "            proxy_pass http://replicas;\n            proxy_http_version 1.1;\n"
            "            proxy_set_header Connection \"\";\n            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            "        }\n    }\n}\n")
        self.proc = subprocess.Popen([_nginx(), "-p", str(folder), "-c", str(folder / "nginx.conf")], stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGQUIT)
        self.proc.wait(10)


def _nginx() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def throughput(url: str, seconds: float, progress=print) -> list[dict]:
    """16 clients against one replica, one behind nginx and two behind nginx (same run)."""
    index_dir = bench_index()
    env = {"FAQBOT_DB": url, "FAQBOT_TRUST_PROXY": "1"}
    results = []
    servers = [start_server(index_dir, env=env), start_server(index_dir, env=env)]
    folder = Path(tempfile.mkdtemp(prefix="nginx-"))
    try:
        (folder / "1").mkdir()
        (folder / "2").mkdir()
        one_behind = Nginx(folder / "1", [servers[0].port])
        two_behind = Nginx(folder / "2", [s.port for s in servers])
        targets = [("1 replica, direct", servers[0].port), ("1 replica behind nginx", one_behind.port),
                   ("2 replicas behind nginx", two_behind.port)]
        messages = distinct_messages()
        runs: dict[str, list[dict]] = {name: [] for name, _ in targets}
        for name, port in targets + list(reversed(targets)):  # there and back: drift reaches all alike
            runs[name].append(level(SimpleNamespace(port=port), CLIENTS, messages, seconds / 2))
        for name, _ in targets:
            result = {"name": name, **merge(runs[name])}
            results.append(result)
            progress(f"  {name}: {result['answers_per_second']:.1f} answers/s, p50 {result['latency_p50']:.1f} ms, "
                     f"p95 {result['latency_p95']:.1f} ms, {result['errors']} errors")
        one_behind.stop()
        two_behind.stop()
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return results


def run(seconds: float = 6.0, progress=print) -> dict:
    if binaries() is None or _nginx() is None:
        return {"skipped": "PostgreSQL or nginx is not installed (Debian's postgresql and nginx packages)"}
    pg = PostgresServer(binaries(), durable=True).start()  # commits wait for the disk, as in production
    work = Path(tempfile.mkdtemp(prefix="faqbot-replicas-"))
    try:
        writes = {"sqlite": log_writes(str(work / "log.sqlite3")), "postgresql": log_writes(pg.database())}
        progress(f"  log writes, µs per row: {writes}")
        limits = rate_limit(pg.database())
        progress(f"  rate limit, µs per request: {limits}")
        levels = throughput(pg.database(), seconds, progress)
    finally:
        pg.close()
        shutil.rmtree(work, ignore_errors=True)
    return {"machine": machine(), "seconds": seconds, "clients": CLIENTS, "log_writes": writes, "rate_limit": limits,
            "throughput": levels, "postgresql": "default durability (each commit flushed to disk)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.seconds)
    if args.json:
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
