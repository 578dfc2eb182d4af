"""Many visitors: answers per second and latency at 1, 4, 16 and 64 concurrent clients.

    python -m bench.throughput [--seconds 6] [--clients 1,4,16,64] [--workers 1,2] [--json]

For each server configuration (one worker, ``python app.py``; two workers, ``python
asgi.py --workers 2``; and the variants of bench.threads) a fresh server is started, and
for each level that many clients each send questions back to back over their own
keep-alive connection to ``POST /api/chat`` on 127.0.0.1, for ``--seconds`` (in two
halves, levels going up then down, each after one second of warm-up, not counted) and at
most ``MAX_REQUESTS`` requests a half. Every message of
a server's life is different (bench.common.distinct_messages), so no cached reply and no
cached question vector is ever used: the figures are those of new questions. An error is
any status but 200, a lost connection or a request slower than 30 s. The load generator
(asyncio, raw HTTP/1.1) runs in this process, on the same two cores as the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Iterator

from .common import HOST, Server, bench_index, distinct_messages, machine, start_server, summary_ms

MAX_REQUESTS = 5000  # per level: a bound on top of the time
REQUEST_TIMEOUT = 30.0


async def _client(port: int, messages: Iterator[str], until: float, warm_until: float, out: dict) -> None:
    reader = writer = None
    try:
        while time.monotonic() < until and out["sent"] < MAX_REQUESTS:
            try:
                message = next(messages)
            except StopIteration:
                return
            body = json.dumps({"message": message}).encode()
            request = (
                f"POST /api/chat HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.monotonic()
            out["sent"] += 1
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(HOST, port)
                writer.write(request)
                status = await asyncio.wait_for(_response(reader), REQUEST_TIMEOUT)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                status = None
                if writer is not None:
                    writer.close()
                reader = writer = None
            done = time.monotonic()
            if started >= warm_until and done <= until:
                out["latencies"].append(done - started)
                if status != 200:
                    out["errors"] += 1
                    out["statuses"][str(status)] = out["statuses"].get(str(status), 0) + 1
    finally:
        if writer is not None:
            writer.close()


async def _response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    await reader.readexactly(length)
    return status


def merge(runs: list[dict]) -> dict:
    """One level's runs as one: answers per second over their time, latencies pooled."""
    latencies = [x for r in runs for x in r.pop("_latencies")]
    statuses: dict[str, int] = {}
    for r in runs:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    answered = sum(r["answered"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    return {
        "clients": runs[0]["clients"],
        "answers_per_second": round(answered / seconds, 1),
        **{f"latency_{k}": v for k, v in summary_ms(latencies).items() if k != "n"},
        "answered": answered,
        "errors": sum(r["errors"] for r in runs),
        "statuses": statuses,
        "runs": [r["answers_per_second"] for r in runs],
    }


def level(server: Server, clients: int, messages: Iterator[str], seconds: float) -> dict:
    """``clients`` concurrent visitors for ``seconds`` (after 1 s of warm-up)."""
    out = {"sent": 0, "errors": 0, "statuses": {}, "latencies": []}

    async def run() -> float:
        start = time.monotonic()
        warm_until, until = start + 1.0, start + 1.0 + seconds
        await asyncio.gather(*(_client(server.port, messages, until, warm_until, out) for _ in range(clients)))
        return seconds

    asyncio.run(run())
    answered = len(out["latencies"])
    return {
        "clients": clients,
        "answers_per_second": round(answered / seconds, 1),
        **{f"latency_{k}": v for k, v in summary_ms(out["latencies"]).items() if k != "n"},
        "answered": answered,
        "errors": out["errors"],
        "statuses": out["statuses"],
        "seconds": seconds,
        "_latencies": out["latencies"],
    }


def run_config(index_dir, name: str, clients: list[int], seconds: float, *, workers: int = 1,
               env: dict[str, str] | None = None, progress=print) -> dict:
    """Start one server configuration and run every level against it."""
    server = start_server(index_dir, workers=workers, env=env)
    messages = distinct_messages()
    try:
        # Each level runs twice, going up then down (1, 4, 16, 64, 64, 16, 4, 1), half the
        # time each: a drift of the shared machine reaches every level alike.
        runs: dict[int, list[dict]] = {c: [] for c in clients}
        for c in list(clients) + list(reversed(clients)):
            runs[c].append(level(server, c, messages, seconds / 2))
        levels = []
        for c in clients:
            result = merge(runs[c])
            levels.append(result)
            progress(
                f"  {name}, {c:>2} clients: {result['answers_per_second']:6.1f} answers/s, p50 {result['latency_p50']:.1f} ms, "
                f"p95 {result['latency_p95']:.1f} ms, {result['errors']} errors"
            )
        return {"name": name, "workers": workers, "env": env or {}, "ready_seconds": round(server.ready_seconds, 2),
                "peak_rss_mb": round(server.peak_rss_mb()), "levels": levels}
    finally:
        server.stop()


def run(clients: list[int] = (1, 4, 16, 64), workers: list[int] = (1, 2), seconds: float = 6.0, progress=print) -> dict:
    index_dir = bench_index()
    configs = [
        run_config(index_dir, f"{w} worker{'s' if w > 1 else ''}", list(clients), seconds, workers=w, progress=progress)
        for w in workers
    ]
    return {"machine": machine(), "seconds": seconds, "configs": configs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", default="1,4,16,64")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run([int(c) for c in args.clients.split(",")], [int(w) for w in args.workers.split(",")], args.seconds)
    if args.json:
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
