"""Shared fixtures: the real model and an index of the real corpus, built once per session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.embedder import HashEmbedder, MiniLMEmbedder
from bot.reindex import reindex
from bot.runtime import BotHolder
from bot.service import Bot
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"


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
def bot(settings, embedder) -> Bot:
    return Bot.load(settings, embedder)


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """Start ``python app.py`` on a free port and wait for /healthz to answer 200.

    The rate limit is off unless ``env`` sets FAQBOT_RATE_LIMIT: these servers take many
    questions from one address (tests/test_hardening.py tests the limiter)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "FAQBOT_RATE_LIMIT": "0", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("server did not become ready")


@pytest.fixture(scope="session")
def server(settings, tmp_path_factory) -> str:
    """A real server (app.py) on a free port, serving the session's index."""
    log = tmp_path_factory.mktemp("log") / "faqbot.sqlite3"
    proc, base = start_server(
        {"FAQBOT_INDEX_DIR": str(settings.index_dir), "FAQBOT_CORPUS_DIR": str(CORPUS), "FAQBOT_DB": str(log)}
    )
    yield base
    proc.terminate()
    proc.wait(timeout=20)
