"""Several replicas on one PostgreSQL: one rate limit, one question log, and a database that
goes away and comes back.

Every test here runs against a real PostgreSQL that it starts itself on loopback
(tests/postgres_server.py) and stops, or deliberately stops and starts again; without
PostgreSQL installed they are skipped with a message saying so. The "replicas" here are
two API apps in this process over one database (the stub bot stands in for the model: the
limit and the log do not depend on what it answers); tests/test_deploy.py runs real
``app.py`` processes behind nginx.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from functools import partial

import pytest
from conftest import CORPUS, ROOT
from fastapi.testclient import TestClient
from postgres_server import start_or_skip

from bot.adapters.api import create_api
from bot.adapters.console.actions import Console
from bot.replies import Reply, ReplyKind
from bot.serve.ratelimit import SharedRateLimiter
from bot.serve.runtime import BotHolder
from bot.settings import Settings
from bot.store import ChatLog, Store
from bot.store.buckets import take_token

pytestmark = pytest.mark.slow  # starts PostgreSQL servers of its own
CRISIS = "I want to kill myself"
ANSWER = Reply("The stub's answer.", ReplyKind.ANSWER)


class StubBot:
    def answer(self, message: str, history=()) -> Reply:
        return ANSWER


@pytest.fixture()
def own_postgres():
    """A PostgreSQL server for this test alone, which it may stop and start."""
    server = start_or_skip()
    yield server
    server.close()


OPENED: list[ChatLog] = []


@pytest.fixture(autouse=True)
def close_replicas():
    """Each replica's log is written out and its connections closed at the end of its test."""
    yield
    while OPENED:
        OPENED.pop().close(timeout=5)


def replica(store: Store, **changes) -> TestClient:
    """One replica's API: its own limiter, sharing buckets through ``store`` (as app.py wires it)."""
    settings = replace(Settings(corpus_dir=CORPUS), trust_proxy=1, **changes)
    holder = BotHolder(settings)
    holder.bot = StubBot()
    api = create_api(holder)
    if api.state.rate_limiter is not None:
        api.state.rate_limiter = SharedRateLimiter(partial(take_token, store), api.state.rate_limiter)
    api.state.chat_log = ChatLog(store)
    OPENED.append(api.state.chat_log)
    return TestClient(api)


def ask(client: TestClient, message: str = "how much does it cost?", ip: str = "203.0.113.7") -> int:
    return client.post("/api/chat", json={"message": message}, headers={"X-Forwarded-For": ip}).status_code


def test_two_replicas_share_one_rate_limit_and_crisis_messages_still_get_through(pg_url):
    store = Store(pg_url)
    one, two = replica(store, rate_limit=6, rate_burst=4), replica(store, rate_limit=6, rate_burst=4)
    statuses = [ask(one), ask(two), ask(one), ask(two), ask(one), ask(two)]
    assert statuses == [200, 200, 200, 200, 429, 429]  # a burst of 4 in all, not 4 per replica
    limited = two.post("/api/chat", json={"message": "and the price?"}, headers={"X-Forwarded-For": "203.0.113.7"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert [ask(one, CRISIS), ask(two, CRISIS)] == [200, 200]  # never withheld
    assert ask(two, ip="198.51.100.9") == 200  # another visitor has a full bucket
    store.close()


def test_simultaneous_requests_on_both_replicas_take_exactly_the_burst(pg_url):
    store = Store(pg_url)
    granted: list[float] = []
    barrier = threading.Barrier(16)

    def take():
        barrier.wait()
        granted.append(take_token(store, "203.0.113.7", 1 / 60, 5))

    threads = [threading.Thread(target=take) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(0.0) == 5 and all(wait > 0 for wait in granted if wait)
    store.close()


def test_without_the_database_each_replica_limits_on_its_own_and_answers_stay_quick(own_postgres, caplog):
    store = Store(own_postgres.database())
    one = replica(store, rate_limit=6, rate_burst=2)
    assert [ask(one), ask(one)] == [200, 200]
    own_postgres.stop()
    with caplog.at_level(logging.INFO):
        started = time.monotonic()
        statuses = [ask(one, ip="198.51.100.9") for _ in range(3)]
        assert time.monotonic() - started < 3.0  # a bounded wait, then the local buckets decide
        assert statuses == [200, 200, 429]  # the fallback still limits
        assert ask(one, CRISIS, ip="198.51.100.9") == 200
        assert sum("limits on its own" in r.getMessage() for r in caplog.records) == 1  # said once
        own_postgres.start()
        deadline = time.monotonic() + 30
        while "used again" not in caplog.text and time.monotonic() < deadline:
            ask(one, ip="192.0.2.1")
            time.sleep(0.5)
    assert "shared buckets are used again" in caplog.text
    store.close()


def test_questions_asked_while_the_database_is_down_are_written_when_it_is_back(own_postgres, caplog):
    url = own_postgres.database()
    one, two = replica(Store(url), rate_limit=0), replica(Store(url), rate_limit=0)
    asked: list[str] = []
    failed: list[int] = []

    def load(client: TestClient, name: str, stop: threading.Event) -> None:
        i = 0
        while not stop.is_set():
            message = f"{name} question {i}"
            status = client.post("/api/chat", json={"message": message}).status_code
            (asked.append(message) if status == 200 else failed.append(status))
            i += 1
            time.sleep(0.01)

    stop = threading.Event()
    loaders = [threading.Thread(target=load, args=(c, n, stop)) for c, n in ((one, "one"), (two, "two"))]
    logs = [one.app.state.chat_log, two.app.state.chat_log]
    with caplog.at_level(logging.INFO, logger="bot.store"):
        for t in loaders:
            t.start()
        try:
            time.sleep(1.0)
            own_postgres.stop()  # during the load
            time.sleep(3.0)
            during = len(asked)
            status = logs[0].status()
            assert status.state == "degraded" and status.pending > 0 and status.engine == "postgresql"
            own_postgres.start()  # the pool reconnects by itself
            time.sleep(1.0)
        finally:
            stop.set()
            for t in loaders:
                t.join()
        for log in logs:
            assert log.flush(timeout=30)
    assert failed == [] and during > 20 and len(asked) > during
    stored = {e.question for e in Store(url).exchanges(limit=100_000)}
    assert stored == set(asked)  # every question, asked before, during and after the outage
    assert [log.status().state for log in logs] == ["ok", "ok"] and "writing again" in caplog.text
    for log in logs:
        log.close()


def test_the_console_says_the_log_is_unavailable_instead_of_failing(own_postgres):
    store = Store(own_postgres.database())
    log = ChatLog(store)
    log.record("widget", "do you take HSA cards?", Reply("Sorry.", ReplyKind.ABSTENTION), 0.01)
    assert log.flush()
    holder = BotHolder(Settings(corpus_dir=CORPUS))
    holder.bot = StubBot()
    console = Console(holder, log)
    own_postgres.stop()
    summary, per_day, _, top = console.overview()
    assert summary.startswith("⚠ The question log is unavailable right now") and "Visitors still get answers" in summary
    assert per_day.empty and top.empty
    assert console.feedback().empty and console.fixing.fixed().empty
    table, _, note = console.fixing.unanswered()
    assert table.empty and "unreachable" in note
    changes, _ = console.fixing.changes()
    assert "unreachable" in changes.iloc[0, -1]
    own_postgres.start()
    assert log.flush(timeout=30)
    assert console.overview()[0].startswith("**Last 30 days")
    log.close()


def test_every_replicas_questions_are_in_the_shared_export_and_console(pg_url):
    one, two = replica(Store(pg_url), rate_limit=0), replica(Store(pg_url), rate_limit=0)
    assert one.post("/api/chat", json={"message": "asked on replica one"}).status_code == 200
    assert two.post("/api/chat", json={"message": "asked on replica two"}, headers={"X-FAQBot-Channel": "widget"}).status_code == 200
    for client in (one, two):
        assert client.app.state.chat_log.flush()
    env = {**os.environ, "FAQBOT_DB": pg_url}
    done = subprocess.run([sys.executable, "-m", "bot", "log", "export", "--format", "jsonl"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    exported = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["message"], r["channel"]) for r in exported] == [("asked on replica one", "api"), ("asked on replica two", "widget")]
    holder = BotHolder(Settings(corpus_dir=CORPUS))
    holder.bot = StubBot()
    summary, *_ = Console(holder, one.app.state.chat_log).overview()
    assert "2 questions" in summary  # replica one's console counts replica two's question too
