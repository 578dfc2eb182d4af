"""POST /api/chat records each answered message, and a broken log never costs the visitor
the reply (in-process, with the real model and index)."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from bot.adapters.api import create_api
from bot.serve.runtime import BotHolder
from bot.store import ChatLog, StorageError, Store


@pytest.fixture()
def api_and_log(settings, bot, tmp_path):
    holder = BotHolder(settings)
    holder.bot = bot
    api = create_api(holder)
    log = ChatLog(Store(tmp_path / "faqbot.sqlite3"))
    api.state.chat_log = log
    yield api, log
    log.close()


def test_each_answer_is_recorded_with_its_channel_and_latency(api_and_log):
    api, log = api_and_log
    with TestClient(api) as client:
        assert client.post("/api/chat", json={"message": "how much does it cost?"}, headers={"X-FAQBot-Channel": "widget"}).status_code == 200
        assert client.post("/api/chat", json={"message": "what's the weather in Paris today? mail me at jo@example.com"}).status_code == 200
        assert client.post("/api/chat", json={"message": ""}).status_code == 422  # not answered: not recorded
    log.flush()
    api_row, widget_row = log.store.exchanges()  # newest first
    assert widget_row.channel == "widget" and widget_row.question == "how much does it cost?"
    assert widget_row.sections[0] == "How much does ketamine infusion cost?" and widget_row.latency_ms > 0
    assert api_row.channel == "api" and api_row.abstained and api_row.question == "what's the weather in Paris today? mail me at [email]"


def test_a_failing_log_still_answers_the_visitor(api_and_log, monkeypatch, caplog):
    api, log = api_and_log

    def broken(exchanges):
        raise StorageError("database or disk is full")

    monkeypatch.setattr(log.store, "add_many", broken)
    with caplog.at_level(logging.ERROR), TestClient(api) as client:
        for _ in range(3):
            reply = client.post("/api/chat", json={"message": "how much does it cost?"})
            assert reply.status_code == 200 and "$400-$600" in reply.json()["answer"]
        assert not log.flush()
        health = client.get("/healthz")
    assert log.store.exchanges() == []
    assert sum("write failed" in r.getMessage() for r in caplog.records) == 1
    # Answering is fine; the log is degraded, its rows kept for when writes work again.
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.json()["log"] == {"state": "degraded", "engine": "sqlite", "pending": 3, "dropped": 0,
                                    "error": "database or disk is full"}
