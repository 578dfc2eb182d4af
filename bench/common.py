"""What the benchmarks share: questions, statistics, the machine, a server to measure.

Every server a benchmark starts listens on 127.0.0.1 (a free port), serves an index and a
question log in a temporary folder, and is stopped by the benchmark; no other address is
ever contacted. Each loop that sends requests is bounded in count and in time.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # loopback only, always
DATA = ROOT / "tests" / "data"
RESULTS = ROOT / "docs" / "bench" / "results.json"
WORK = Path(os.environ.get("FAQBOT_BENCH_WORK", Path(tempfile.gettempdir()) / "faqbot-bench"))

# What every benchmark server runs with: the rate limit off (the benchmark measures the
# bot, not the limiter), no looking for new builds, a throwaway question log.
SERVER_ENV = {
    "FAQBOT_RATE_LIMIT": "0",
    "FAQBOT_RELOAD_INTERVAL": "0",
    "FAQBOT_LOG_LEVEL": "WARNING",
}


# -- questions --------------------------------------------------------------------------
def questions(name: str) -> list[str]:
    """The distinct questions of ``tests/data/<name>.jsonl``, in file order."""
    with open(DATA / f"{name}.jsonl", encoding="utf-8") as fh:
        return list(dict.fromkeys(json.loads(line)["q"] for line in fh if line.strip()))


_OPENINGS = ("", "Hi, ", "Hello! ", "Hey, ", "Good morning. ", "Quick question: ", "Hi there, ",
             "Excuse me, ", "Hello again. ", "One question: ")
_CLOSINGS = ("", " Thanks!", " Thank you.", " Thanks in advance.")


def distinct_messages() -> Iterator[str]:
    """Visitor messages that are all different (also once normalised, so no cached reply is
    ever reused): every evaluation and hold-out question, then each again with a greeting
    or a thank-you, as visitors write them; 11,080 in all."""
    base = questions("eval") + questions("holdout")
    for closing in _CLOSINGS:
        for opening in _OPENINGS:
            for q in base:
                yield f"{opening}{q}{closing}" if opening == "" else f"{opening}{q[:1].lower()}{q[1:]}{closing}"


# -- statistics -------------------------------------------------------------------------
def pct(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``values``, interpolated; NaN when empty."""
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary_ms(seconds: Sequence[float]) -> dict:
    """p50, p95 and mean of durations in seconds, as milliseconds."""
    return {
        "n": len(seconds),
        "p50": round(pct(seconds, 0.5) * 1000, 2),
        "p95": round(pct(seconds, 0.95) * 1000, 2),
        "mean": round(statistics.fmean(seconds) * 1000, 2) if seconds else float("nan"),
    }


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- the machine ------------------------------------------------------------------------
def machine() -> dict:
    """What the figures were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    versions = {}
    for name in ("torch", "sentence_transformers", "onnxruntime", "faiss", "numpy", "uvicorn", "fastapi"):
        try:
            versions[name] = __import__(name).__version__
        except Exception:  # a missing package is simply not listed
            pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions,
        "load_average": os.getloadavg(),
        "at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory (VmHWM) of process ``pid``, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


# -- the index the benchmarks serve ---------------------------------------------------------
def bench_index(engine: str | None = None) -> Path:
    """An index of the clinic's corpus in the benchmark's work folder, for ``engine`` (None:
    the configured one): built once per vector space, rebuilt when the corpus changes (only
    changed text is embedded)."""
    from bot.search.embedder import SERVING_TORCH_THREADS
    from bot.search.engines import ONNX_INT8, embedder_for
    from bot.search.reindex import reindex
    from bot.serve import vocabulary
    from bot.serve.embedders import CachingEmbedder
    from bot.settings import Settings

    settings = Settings.from_env(corpus_dir=ROOT / "corpus", engine=engine)
    out = WORK / ("index-int8" if settings.engine == ONNX_INT8 else "index")
    settings = replace(settings, index_dir=out)
    reindex(settings)
    # A server computes the frequent words' vectors once per index folder and saves them
    # there (bot.vocabulary); compute them now, so every server the benchmarks start is a
    # server that has started before.
    model = embedder_for(settings, threads=SERVING_TORCH_THREADS)
    path = out / vocabulary.FILE
    saved = vocabulary.load(path, model.name, model.dim)
    if saved is None or len(saved[0]) < settings.warm_words:
        cache = CachingEmbedder(model)
        words = cache.frequent_words(settings.warm_words)
        vocabulary.compute(cache, words, path, start=vocabulary.pin_saved(cache, words, path), chunk=64)
    return out


# -- a server ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running server: ``python app.py`` or ``python asgi.py --workers N``."""

    proc: subprocess.Popen
    port: int
    workers: int
    started: float  # time.monotonic() when the process was started
    ready_seconds: float = float("nan")  # from start to /healthz 200 (every worker's)
    log: Path | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def peak_rss_mb(self) -> float:
        """Peak resident memory of the server: the sum over its worker processes."""
        pids = children(self.proc.pid) if self.workers > 1 else [self.proc.pid]
        return sum(peak_rss_mb(p) for p in pids)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT if self.workers > 1 else signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_server(index_dir: Path, *, workers: int = 1, env: dict[str, str] | None = None, timeout: float = 120.0) -> Server:
    """Start a server on a free loopback port and wait until every worker answers
    ``/healthz`` with 200. ``workers`` > 1 runs ``asgi.py --workers N`` (uvicorn's
    process manager); 1 runs ``app.py`` as ``make run`` does."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="server-", dir=_work()))
    full_env = {
        **os.environ,
        **SERVER_ENV,
        "FAQBOT_INDEX_DIR": str(index_dir),
        "FAQBOT_CORPUS_DIR": str(ROOT / "corpus"),
        "FAQBOT_DB": str(folder / "faqbot.sqlite3"),
        **(env or {}),
    }
    if workers > 1:
        cmd = [sys.executable, "asgi.py", "--workers", str(workers), "--host", HOST, "--port", str(port)]
    else:
        cmd = [sys.executable, "app.py", "--host", HOST, "--port", str(port)]
    log = folder / "server.log"
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    server = Server(proc, port, workers, started, log=log)
    deadline = started + timeout
    # Each poll is a new connection, which the kernel hands to any worker: ready means
    # enough 200s in a row that every worker has answered one.
    needed = 1 if workers == 1 else 8 * workers
    in_row, first_ok = 0, 0.0
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"the server was not ready in {timeout:.0f}s: {log.read_text()[-2000:]}")
        if http_get_status(port, "/healthz") == 200:
            in_row += 1
            first_ok = first_ok if in_row > 1 else time.monotonic()
            if in_row >= needed:
                break
        else:
            in_row = 0
            time.sleep(0.02)
    server.ready_seconds = first_ok - started
    return server


def _work() -> Path:
    WORK.mkdir(parents=True, exist_ok=True)
    return WORK


def http_get_status(port: int, path: str, timeout: float = 2.0) -> int | None:
    import http.client

    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        conn.close()


class ChatClient:
    """One visitor's keep-alive connection to ``POST /api/chat`` (http.client: the least
    client-side overhead a Python client has)."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        import http.client

        self._conn = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def ask(self, message: str, history: list[dict] | None = None) -> tuple[int, dict]:
        body = {"message": message}
        if history:
            body["history"] = history
        self._conn.request("POST", "/api/chat", json.dumps(body).encode(), {"Content-Type": "application/json"})
        response = self._conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else {})

    def close(self) -> None:
        self._conn.close()


def clean_work() -> None:
    """Remove the servers' temporary folders (the index and scale data stay for next time)."""
    for folder in _work().glob("server-*"):
        shutil.rmtree(folder, ignore_errors=True)


def load_results() -> dict:
    if RESULTS.exists():
        return json.loads(RESULTS.read_text())
    return {}


def save_results(results: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
