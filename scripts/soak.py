"""Soak test: drive a real server on loopback with concurrent visitors while re-indexing.

    python scripts/soak.py [--seconds 60] [--clients 32] [--reindexes 2] [--json out.json]

It starts its own server (``app.py`` on 127.0.0.1, a free port) on a copy of the corpus, a
fresh index and a fresh question log in a temporary folder, so nothing of the working copy
is touched; no other address is ever contacted. ``--clients`` visitors send a mix of
requests for ``--seconds``: questions (some follow-ups with history), crisis messages,
malformed requests of every kind, ``/healthz``, source pages and the widget. Meanwhile the
corpus copy is edited and re-indexed ``--reindexes`` times by ``python -m bot index``, as a
maintainer would, and the server must swap each new index in by itself.

It stops by itself: at the deadline, after ``--max-requests``, or (if anything hangs) at a
hard watchdog. It prints a table and exits 1 when any request got a 5xx, lost its
connection or got a status it should not have, or when a new index was not served.
The rate limit is off in this server: the soak measures the bot, not the limiter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MAX_SECONDS = 900
MAX_CLIENTS = 128
HOST = "127.0.0.1"  # loopback only, always

QUESTIONS = [
    "how much does it cost?",
    "Is ketamine infusion covered by insurance?",
    "what are the risks?",
    "how does ketamine infusion work?",
    "what are the side effects?",
    "how long does an infusion take?",
    "what's the weather in Paris today?",
    "can I pay with bitcoin?",
    "What is ketamine infusion?",
    "who should not get ketamine?",
]
FOLLOW_UP = ("and does insurance cover that?", [
    {"role": "user", "content": "how much does it cost?"},
    {"role": "assistant", "content": "The cost of ketamine infusion is typically around $400-$600 per session."},
])
CRISIS = ["I want to kill myself", "i don't want to live anymore"]
# (kind, method, path, body, headers, expected status)
BAD_REQUESTS = [
    ("bad_json", b"{not json", {"content-type": "application/json"}, 400),
    ("not_json", b'{"message": "hi"}', {"content-type": "text/plain"}, 415),
    ("empty_message", b'{"message": "  \\u200b "}', {"content-type": "application/json"}, 422),
    ("wrong_field", b'{"message": "hi", "history": [{"role": "system", "content": "x"}]}', {"content-type": "application/json"}, 422),
    ("too_long", json.dumps({"message": "a" * 1500}).encode(), {"content-type": "application/json"}, 422),
    ("too_large", json.dumps({"message": "a" * 70_000}).encode(), {"content-type": "application/json"}, 413),
    ("deep_nesting", b"[" * 20_000 + b"]" * 20_000, {"content-type": "application/json"}, 400),
]


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)  # (kind, status)
    unexpected: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    requests: int = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def prepare(work: Path) -> tuple[Path, Path]:
    """A copy of the corpus and an index built from it (reusing the working copy's
    embedding cache, when there is one, so only new text is embedded)."""
    corpus, index = work / "corpus", work / "index"
    shutil.copytree(ROOT / "corpus", corpus)
    cache = ROOT / "index" / "cache" / "embeddings.npz"
    if cache.exists():
        (index / "cache").mkdir(parents=True)
        shutil.copy2(cache, index / "cache" / "embeddings.npz")
    build(corpus, index)
    return corpus, index


def build(corpus: Path, index: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "bot", "index", "--corpus", str(corpus), "--out", str(index), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"re-index failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def served_build(base: str) -> str | None:
    try:
        r = httpx.get(f"{base}/healthz", timeout=5)
        return r.json().get("index", {}).get("build_id") if r.status_code == 200 else None
    except httpx.HTTPError:
        return None


def start_server(work: Path, corpus: Path, index: Path) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    env = {**os.environ, "FAQBOT_HOST": HOST, "FAQBOT_INDEX_DIR": str(index), "FAQBOT_CORPUS_DIR": str(corpus),
           "FAQBOT_DB": str(work / "faqbot.sqlite3"), "FAQBOT_RATE_LIMIT": "0", "FAQBOT_RELOAD_INTERVAL": "1"}
    log = work / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "app.py", "--host", HOST, "--port", str(port)], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 180
    while served_build(base) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"the server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    return proc, base, log


def pick(rng: random.Random):
    """One request: (kind, method, path, body, headers, expected statuses)."""
    roll = rng.random()
    json_headers = {"content-type": "application/json"}
    if roll < 0.62:
        body = {"message": rng.choice(QUESTIONS)}
        return "question", "POST", "/api/chat", json.dumps(body).encode(), json_headers, {200}
    if roll < 0.70:
        message, history = FOLLOW_UP
        return "follow_up", "POST", "/api/chat", json.dumps({"message": message, "history": history}).encode(), json_headers, {200}
    if roll < 0.75:
        return "crisis", "POST", "/api/chat", json.dumps({"message": rng.choice(CRISIS)}).encode(), json_headers, {200}
    if roll < 0.87:
        kind, body, headers, status = rng.choice(BAD_REQUESTS)
        return kind, "POST", "/api/chat", body, headers, {status}
    if roll < 0.93:
        return "healthz", "GET", "/healthz", None, {}, {200}
    if roll < 0.97:
        return "source", "GET", "/source/ketamine-infusion-insurance", None, {}, {200}
    return "widget_js", "GET", "/widget.js", None, {}, {200}


async def visitor(client: httpx.AsyncClient, seed: int, deadline: float, results: Results, max_requests: int) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline and results.requests < max_requests:
        kind, method, path, body, headers, expected = pick(rng)
        results.requests += 1
        started = time.perf_counter()
        try:
            r = await client.request(method, path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            results.dropped.append(f"{kind}: {type(exc).__name__}: {exc}")
            continue
        seconds = time.perf_counter() - started
        results.statuses[(kind, r.status_code)] += 1
        results.latencies[kind].append(seconds)
        if r.status_code not in expected:
            results.unexpected.append(f"{kind}: {r.status_code} {r.text[:200]}")
        elif kind == "crisis" and not r.json().get("crisis"):
            results.unexpected.append(f"crisis: not answered as a crisis: {r.text[:200]}")


async def reindexer(corpus: Path, index: Path, base: str, times: list[float], log: list[dict]) -> None:
    """At each time (monotonic), edit the corpus copy and re-index it; wait for the server
    to serve the new build."""
    doc = next(p for p in sorted(corpus.rglob("*.md")))
    for i, at in enumerate(times, 1):
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        with open(doc, "a", encoding="utf-8") as fh:
            fh.write(f"\nThe soak test added this sentence number {i} to check re-indexing under load.\n")
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "index", "--corpus", str(corpus), "--out", str(index), "--json",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=300)
        entry: dict = {"n": i, "exit": proc.returncode, "build_seconds": round(time.monotonic() - started, 1)}
        if proc.returncode == 0:
            entry["summary"] = json.loads(out.decode().strip().splitlines()[-1])
            wanted = (index / "current").resolve().name
            entry["build_id"] = wanted
            swap_deadline = time.monotonic() + 60
            while time.monotonic() < swap_deadline:
                if await asyncio.to_thread(served_build, base) == wanted:
                    entry["served_after_seconds"] = round(time.monotonic() - started, 1)
                    break
                await asyncio.sleep(0.25)
        else:
            entry["error"] = err.decode()[-1000:]
        log.append(entry)


async def soak(base: str, corpus: Path, index: Path, seconds: float, clients: int, reindexes: int, max_requests: int):
    results = Results()
    reindex_log: list[dict] = []
    start = time.monotonic()
    deadline = start + seconds
    times = [start + seconds * (i + 1) / (reindexes + 1) for i in range(reindexes)]
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60.0), limits=limits) as client:
        rebuilds = asyncio.create_task(reindexer(corpus, index, base, times, reindex_log))
        await asyncio.gather(*(visitor(client, seed, deadline, results, max_requests) for seed in range(clients)))
        traffic = time.monotonic() - start
        await rebuilds  # a re-index still waiting for its swap finishes its check
    return results, reindex_log, traffic


def summarise(results: Results, reindex_log: list[dict], elapsed: float, clients: int, log_text: str, load_before: float) -> dict:
    chat_kinds = ("question", "follow_up", "crisis")
    chat = [s for k in chat_kinds for s in results.latencies.get(k, [])]
    every = [s for v in results.latencies.values() for s in v]
    by_kind: dict[str, dict[str, int]] = defaultdict(dict)
    for (kind, status), n in sorted(results.statuses.items()):
        by_kind[kind][str(status)] = n
    five_xx = sum(n for (_, status), n in results.statuses.items() if status >= 500)

    def ms(values: list[float], q: float) -> float:
        return round(percentile(values, q) * 1000, 1)

    return {
        "clients": clients,
        "cpus": os.cpu_count(),
        "load_average_before": round(load_before, 2),  # others' work on the machine skews the latencies
        "seconds": round(elapsed, 1),
        "requests": sum(results.statuses.values()) + len(results.dropped),
        "requests_per_second": round((sum(results.statuses.values()) + len(results.dropped)) / elapsed, 1),
        "answered_chat": sum(len(results.latencies.get(k, [])) for k in chat_kinds),
        "status_5xx": five_xx,
        "dropped": len(results.dropped),
        "unexpected": len(results.unexpected),
        "chat_latency_ms": {"p50": ms(chat, 50), "p95": ms(chat, 95), "p99": ms(chat, 99), "max": round(max(chat, default=0) * 1000, 1),
                            "mean": round(statistics.fmean(chat) * 1000, 1) if chat else None},
        "all_latency_ms": {"p50": ms(every, 50), "p95": ms(every, 95), "p99": ms(every, 99)},
        "by_kind": by_kind,
        "reindexes": reindex_log,
        "server_log_errors": sum(1 for line in log_text.splitlines() if " ERROR " in line or "Traceback" in line),
        "examples": {"dropped": results.dropped[:5], "unexpected": results.unexpected[:5]},
    }


def failed(summary: dict, reindexes: int) -> list[str]:
    problems = []
    if summary["status_5xx"]:
        problems.append(f"{summary['status_5xx']} responses were 5xx")
    if summary["dropped"]:
        problems.append(f"{summary['dropped']} requests lost their connection")
    if summary["unexpected"]:
        problems.append(f"{summary['unexpected']} responses had an unexpected status")
    served = [r for r in summary["reindexes"] if r.get("served_after_seconds") is not None]
    if len(served) < reindexes:
        problems.append(f"only {len(served)} of {reindexes} re-indexes were served")
    if summary["server_log_errors"]:
        problems.append(f"the server logged {summary['server_log_errors']} errors")
    return problems


def print_table(summary: dict) -> None:
    lat = summary["chat_latency_ms"]
    print(f"\nsoak: {summary['clients']} clients for {summary['seconds']}s on loopback: {summary['requests']} requests "
          f"({summary['requests_per_second']}/s), {summary['answered_chat']} chat replies")
    print(f"chat latency ms: p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  max {lat['max']}  "
          f"({summary['cpus']} CPUs, load average {summary['load_average_before']} before the run)")
    print(f"5xx: {summary['status_5xx']}  dropped connections: {summary['dropped']}  unexpected statuses: {summary['unexpected']}  "
          f"server log errors: {summary['server_log_errors']}")
    print("\n| request | statuses |\n| --- | --- |")
    for kind, statuses in summary["by_kind"].items():
        print(f"| {kind} | " + ", ".join(f"{s}: {n}" for s, n in statuses.items()) + " |")
    for r in summary["reindexes"]:
        print(f"re-index {r['n']}: exit {r['exit']}, built in {r['build_seconds']}s, served after {r.get('served_after_seconds')}s "
              f"({r.get('build_id')})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Soak-test a server on loopback while re-indexing.")
    parser.add_argument("--seconds", type=float, default=60.0, help=f"how long to drive traffic (at most {MAX_SECONDS})")
    parser.add_argument("--clients", type=int, default=32, help=f"concurrent visitors (at most {MAX_CLIENTS})")
    parser.add_argument("--reindexes", type=int, default=2, help="re-indexes during the run")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after this many requests")
    parser.add_argument("--json", type=Path, help="write the summary as JSON to this file")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= MAX_SECONDS or not 0 < args.clients <= MAX_CLIENTS or args.reindexes < 0 or args.max_requests < 1:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS}], --clients in [1, {MAX_CLIENTS}], --reindexes >= 0")
    # A watchdog: whatever hangs, the run ends.
    signal.signal(signal.SIGALRM, lambda *_: os._exit(3))
    signal.alarm(int(args.seconds) + 900)
    random.seed(args.seed)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="faqbot-soak-") as tmp:
        work = Path(tmp)
        print("preparing a corpus copy and its index ...", flush=True)
        corpus, index = prepare(work)
        proc, base, log = start_server(work, corpus, index)
        print(f"server ready at {base}; driving {args.clients} clients for {args.seconds:g}s with {args.reindexes} re-indexes",
              flush=True)
        try:
            results, reindex_log, elapsed = asyncio.run(
                soak(base, corpus, index, args.seconds, args.clients, args.reindexes, args.max_requests))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        summary = summarise(results, reindex_log, elapsed, args.clients, log.read_text(errors="replace"), load_before)
    print_table(summary)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    problems = failed(summary, args.reindexes)
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    for example in summary["examples"]["dropped"] + summary["examples"]["unexpected"]:
        print(f"  e.g. {example}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
