"""Shared fixtures: the real model and an index of the real corpus, built once per session."""

from __future__ import annotations

from pathlib import Path

import postgres_server
import pytest
from serving import Server

from bot.answer.service import Bot
from bot.safety.check import CrisisCheck
from bot.search.embedder import MiniLMEmbedder
from bot.search.hash_embedder import HashEmbedder
from bot.search.reindex import reindex
from bot.serve.runtime import BotHolder
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# Tests of code read this frozen copy of the article, never the live corpus/: a clinic that
# edits its pages must not break them. The live corpus is held to the evaluation minimums in
# tests/test_quality.py.
CORPUS = ROOT / "tests" / "data" / "corpora" / "article" / "corpus"
LIVE_CORPUS = ROOT / "corpus"
CRISIS_MODEL = ROOT / "models" / "crisis"


# The fast tier (make test-fast, `pytest -m fast`): every test that needs no model, no server
# and no browser. A test is in it unless it asks, directly or through another fixture, for
# one of these, or is marked ``slow`` (it starts a model, a server or Chromium by itself).
NEEDS_MORE_THAN_CODE = frozenset({"embedder", "crisis_check", "browser", "server", "postgres"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("slow") is None and not NEEDS_MORE_THAN_CODE & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.fast)


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of the session's own (tests/postgres_server.py); skipped, with the
    reason in the summary, when PostgreSQL is not installed."""
    server = postgres_server.start_or_skip()
    yield server
    server.close()


@pytest.fixture()
def pg_url(postgres) -> str:
    """The URL of a new, empty database on the session's PostgreSQL."""
    return postgres.database()


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory, embedder) -> Path:
    out = tmp_path_factory.mktemp("index")
    reindex(Settings(corpus_dir=CORPUS, index_dir=out), embedder)
    return out


@pytest.fixture(scope="session")
def settings(index_dir) -> Settings:
    return Settings(corpus_dir=CORPUS, index_dir=index_dir)


@pytest.fixture(scope="session")
def crisis_check() -> CrisisCheck:
    """The shipped crisis check (models/crisis), loaded once."""
    return CrisisCheck.load(CRISIS_MODEL)


@pytest.fixture(scope="session")
def bot(settings, embedder, crisis_check) -> Bot:
    return Bot.load(settings, embedder, crisis=crisis_check)


@pytest.fixture()
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture()
def holder_for(embedder):
    """Load a BotHolder for given settings with the session's model; stopped after the test."""
    holders = []

    def make(settings: Settings) -> BotHolder:
        holder = BotHolder(settings)
        holder.load(embedder)
        assert holder.bot is not None, holder.error
        holders.append(holder)
        return holder

    yield make
    for holder in holders:
        holder.stop()


# A two-document clinic for re-index tests (Markdown and plain text), small enough for the
# hash embedder and for a child process to rebuild in a moment.
SMALL = {
    "a.md": "# Clinic\n\n## Cost\n\nAn infusion costs $450.\n\nWe take cards and cash.\n\n## Hours\n\nWe open at 8 am on weekdays.\n",
    "b.txt": "Aftercare\n\nRest for the day.\n\nWhen can I drive?\n\nThe next morning. Ask a friend to drive you home.\n",
}


def small_clinic(tmp_path: Path) -> Settings:
    """SMALL written to ``tmp_path/corpus``, indexed into ``tmp_path/index`` (not yet built)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in SMALL.items():
        (corpus / name).write_text(text)
    return Settings(corpus_dir=corpus, index_dir=tmp_path / "index", reload_interval=0)


@pytest.fixture(scope="session")
def server(settings, tmp_path_factory) -> str:
    """A real server (app.py) on a free port, serving the session's index."""
    tmp = tmp_path_factory.mktemp("server")
    server = Server(
        {"FAQBOT_INDEX_DIR": str(settings.index_dir), "FAQBOT_CORPUS_DIR": str(CORPUS), "FAQBOT_DB": str(tmp / "faqbot.sqlite3")},
        tmp / "server.log",
    ).start()
    yield server.base
    server.stop()


class Clock:
    """A clock the test moves by hand (``clock.now += 30``), for the limiters."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
