"""Re-indexing new content: incremental, atomic, checked, and served without downtime.

Fast tests use the deterministic hash embedder; the tests of what a visitor notices (new,
changed and deleted facts, refused indexes, a swap under load) use the real model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import CORPUS, ROOT, small_clinic
from fastapi.testclient import TestClient
from serving import Server

from bot.adapters.api import create_api
from bot.errors import CorpusError
from bot.search.folder import IndexBusy, build_lock, current_build
from bot.search.hash_embedder import HashEmbedder
from bot.search.index import embed_sentences, passage_text
from bot.search.load import load_index
from bot.search.reindex import check, reindex, rollback
from bot.serve.runtime import BotHolder
from bot.settings import Settings

ARTICLE = "ketamine-infusion-insurance.md"
OLD_PRICE, NEW_PRICE = "$400-$600", "$450-$650"

AFTERCARE = """<!doctype html>
<html><head><title>Aftercare</title></head>
<body>
<nav><a href="/">Home</a></nav>
<h1>After your ketamine infusion</h1>
<h2 id="parking">Where can I park?</h2>
<p>Free parking for patients is in the garage behind the clinic on Elm Street.</p>
<h2>When can I go back to work?</h2>
<p>Most patients go back to work the day after their infusion.</p>
</body></html>
"""



class CountingEmbedder(HashEmbedder):
    """The hash embedder, remembering every text it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen += list(texts)
        return super().encode(texts)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


# -- incremental builds (hash embedder) ------------------------------------------------------
def test_unchanged_reindex_embeds_nothing(tmp_path):
    settings = small_clinic(tmp_path)
    first = reindex(settings, CountingEmbedder())
    assert (first.embedded, first.reused, first.removed) == (first.chunks, 0, 0)
    embedder = CountingEmbedder()
    again = reindex(settings, embedder)
    assert (again.embedded, again.reused, again.removed) == (0, first.chunks, 0)
    assert embedder.seen == []
    assert again.build_id != first.build_id and current_build(settings.index_dir).name == again.build_id


def test_only_the_changed_passage_is_embedded(tmp_path):
    settings = small_clinic(tmp_path)
    before = reindex(settings, CountingEmbedder())
    edit(settings.corpus_dir / "a.md", "We take cards and cash.", "We take cards, cash and checks.")
    embedder = CountingEmbedder()
    after = reindex(settings, embedder)
    assert (after.embedded, after.reused, after.removed) == (1, before.chunks - 1, 1)
    assert embedder.seen and all("checks" in text for text in embedder.seen)  # its passage and sentence views
    texts = [c.text for c in load_index(settings.index_dir, HashEmbedder()).chunks]
    assert "We take cards, cash and checks." in texts and "We take cards and cash." not in texts


def test_passages_of_a_deleted_document_are_dropped(tmp_path):
    settings = small_clinic(tmp_path)
    reindex(settings, HashEmbedder())
    (settings.corpus_dir / "b.txt").unlink()
    summary = reindex(settings, HashEmbedder())
    assert (summary.documents, summary.embedded, summary.removed) == (1, 0, 2)
    sources = {c.source for c in load_index(settings.index_dir, HashEmbedder()).chunks}
    assert sources == {"corpus/a.md"}


def test_incremental_vectors_equal_a_build_from_scratch(tmp_path):
    settings = small_clinic(tmp_path)
    reindex(settings, HashEmbedder())
    edit(settings.corpus_dir / "b.txt", "Rest for the day.", "Rest for the day. Drink water.")
    (settings.corpus_dir / "c.html").write_text("<h1>Fees</h1><h2>Cash</h2><p>Cash saves 10%. Ask at the desk.</p>")
    reindex(settings, HashEmbedder())
    incremental = load_index(settings.index_dir, HashEmbedder())
    scratch_dir = tmp_path / "scratch"
    reindex(replace(settings, index_dir=scratch_dir), HashEmbedder())
    scratch = load_index(scratch_dir, HashEmbedder())
    assert [c.id for c in incremental.chunks] == [c.id for c in scratch.chunks]
    n = len(incremental.chunks)
    np.testing.assert_array_equal(incremental.faiss_index.reconstruct_n(0, n), scratch.faiss_index.reconstruct_n(0, n))
    np.testing.assert_array_equal(incremental.sentence_vectors, scratch.sentence_vectors)
    # and both are what embedding every text afresh gives: passage text, mean of sentence views
    embedder = HashEmbedder()
    np.testing.assert_allclose(
        incremental.faiss_index.reconstruct_n(0, n), embedder.encode([passage_text(c) for c in incremental.chunks]), atol=1e-6
    )
    np.testing.assert_allclose(incremental.sentence_vectors, embed_sentences(incremental.chunks, embedder), atol=1e-6)


def test_phrasings_are_stored_with_their_vectors(tmp_path):
    settings = small_clinic(tmp_path)
    (settings.corpus_dir / "questions.yaml").write_text("- section: a.md#hours\n  questions:\n    - when do you open?\n")
    reindex(settings, HashEmbedder())
    index = load_index(settings.index_dir, HashEmbedder())
    (phrasing,) = index.questions
    assert (phrasing.source, phrasing.anchor, phrasing.text) == ("corpus/a.md", "hours", "when do you open?")
    np.testing.assert_allclose(index.question_vectors, HashEmbedder().encode(["when do you open?"]), atol=1e-6)


def test_progress_is_reported_while_embedding(tmp_path):
    settings = small_clinic(tmp_path)
    calls = []
    reindex(settings, HashEmbedder(), progress=lambda done, total: calls.append((done, total)))
    total = calls[0][1]
    assert calls[0] == (0, total) and calls[-1] == (total, total) and total > 0


def test_corpus_mistake_leaves_the_served_index_untouched(tmp_path):
    settings = small_clinic(tmp_path)
    served = reindex(settings, HashEmbedder()).build_id
    files_before = sorted(p.relative_to(settings.index_dir) for p in settings.index_dir.rglob("*"))
    (settings.corpus_dir / "c.txt").write_bytes(b"Fees\n\nCash saves 10%.\nCaf\xe9 prices vary.\n")
    with pytest.raises(CorpusError, match=r"corpus/c\.txt:4: byte 0xe9 is not UTF-8"):
        reindex(settings, HashEmbedder())
    assert current_build(settings.index_dir).name == served
    assert sorted(p.relative_to(settings.index_dir) for p in settings.index_dir.rglob("*")) == files_before


def test_a_second_build_of_the_same_folder_waits_its_turn(tmp_path):
    settings = small_clinic(tmp_path)
    settings.index_dir.mkdir()
    with build_lock(settings.index_dir):
        with pytest.raises(IndexBusy, match="another build .* is running"):
            reindex(settings, HashEmbedder())


def test_check_says_what_changed(tmp_path):
    settings = small_clinic(tmp_path)
    assert check(settings, model="hash-embedder") == ["there is no index in " + f"{settings.index_dir}/ yet"]
    reindex(settings, HashEmbedder())
    assert check(settings, model="hash-embedder") == []
    edit(settings.corpus_dir / "a.md", "8 am", "9 am")
    (settings.corpus_dir / "b.txt").unlink()
    (settings.corpus_dir / "c.html").write_text("<h1>Fees</h1><p>Cash saves 10%.</p>")
    assert check(settings, model="hash-embedder") == ["changed: corpus/a.md", "removed: corpus/b.txt", "added: corpus/c.html"]
    assert "built with hash-embedder" in check(settings)[0]


def test_rollback_serves_the_previous_build_and_can_be_undone(tmp_path):
    settings = small_clinic(tmp_path)
    first = reindex(settings, HashEmbedder()).build_id
    edit(settings.corpus_dir / "a.md", "8 am", "9 am")
    second = reindex(settings, HashEmbedder()).build_id
    now, was = rollback(settings)
    assert (now.build_id, was.build_id) == (first, second)
    texts = " ".join(c.text for c in load_index(settings.index_dir, HashEmbedder()).chunks)
    assert "8 am" in texts and "9 am" not in texts
    now, was = rollback(settings)
    assert (now.build_id, was.build_id) == (second, first)


# -- the command line ------------------------------------------------------------------------
def run_cli(*args: str, settings: Settings) -> subprocess.CompletedProcess:
    env = {**os.environ, "FAQBOT_INDEX_DIR": str(settings.index_dir), "FAQBOT_CORPUS_DIR": str(settings.corpus_dir)}
    return subprocess.run([sys.executable, "-m", "bot", "index", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def base(tmp_path_factory, embedder) -> Path:
    """The clinic's corpus and its index, built once with the real model (with its cache)."""
    base = tmp_path_factory.mktemp("base")
    shutil.copytree(CORPUS, base / "corpus")
    reindex(Settings(corpus_dir=base / "corpus", index_dir=base / "index"), embedder)
    return base


def clinic(tmp_path: Path, base: Path, **settings) -> Settings:
    """A copy of the base corpus and index (cache included) for one test to change."""
    shutil.copytree(base / "corpus", tmp_path / "corpus")
    shutil.copytree(base / "index", tmp_path / "index", symlinks=True)
    return Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", reload_interval=0, **settings)


def test_cli_unchanged_reindex_prints_the_summary_and_embeds_nothing(tmp_path, base):
    settings = clinic(tmp_path, base)
    result = run_cli("--json", settings=settings)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert list(summary) == ["documents", "chunks", "embedded", "reused", "removed", "seconds"]
    assert summary["documents"] == 1 and summary["embedded"] == 0 and summary["removed"] == 0
    assert summary["reused"] == summary["chunks"] > 10
    line = run_cli(settings=settings).stdout
    assert line.startswith("indexed 1 document, ") and "0 embedded" in line


def test_cli_check_exits_1_and_names_the_changed_file(tmp_path, base):
    settings = clinic(tmp_path, base)
    current = run_cli("--check", settings=settings)
    assert current.returncode == 0 and "is current" in current.stdout
    edit(settings.corpus_dir / "questions.yaml", "How do I reach you?", "How do I get in touch?")
    stale = run_cli("--check", settings=settings)
    assert stale.returncode == 1 and "changed: corpus/questions.yaml" in stale.stdout


def test_cli_corpus_mistake_names_file_and_line(tmp_path, base):
    settings = clinic(tmp_path, base)
    served = current_build(settings.index_dir)
    (settings.corpus_dir / "questions.yaml").write_text("- section: ketamine-infusion-insurance.md#phone\n  questions:\n    - phone?\n")
    result = run_cli(settings=settings)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "corpus/questions.yaml:1:" in result.stderr and "has no heading #phone" in result.stderr
    assert current_build(settings.index_dir) == served


def test_cli_rollback(tmp_path, base):
    settings = clinic(tmp_path, base)
    served = current_build(settings.index_dir).name
    run_cli(settings=settings)
    result = run_cli("--rollback", settings=settings)
    assert result.returncode == 0 and f"serves build {served} again" in result.stdout
    assert current_build(settings.index_dir).name == served


# -- what a visitor notices after a re-index (real model) ------------------------------------
def test_a_new_documents_fact_is_answered_and_cited(tmp_path, base, embedder, holder_for):
    settings = clinic(tmp_path, base)
    holder = holder_for(settings)
    assert holder.bot.answer("where can I park?").abstained
    (settings.corpus_dir / "aftercare.html").write_text(AFTERCARE)
    summary = reindex(settings, embedder)
    assert summary.documents == 2 and summary.embedded == 2
    assert holder.reload().outcome == "reloaded"
    reply = holder.bot.answer("where can I park?")
    assert not reply.abstained
    assert "Elm Street" in reply.answer
    citation = reply.citations[0]
    assert (citation.source, citation.anchor) == ("corpus/aftercare.html", "parking")
    assert citation.url == "/source/aftercare#parking" and citation.quote in reply.answer


def test_a_changed_fact_is_answered_with_the_new_text_only(tmp_path, base, embedder, holder_for):
    settings = clinic(tmp_path, base)
    holder = holder_for(settings)
    assert OLD_PRICE in holder.bot.answer("how much does it cost?").answer
    edit(settings.corpus_dir / ARTICLE, OLD_PRICE, NEW_PRICE)
    summary = reindex(settings, embedder)
    assert (summary.embedded, summary.removed) == (1, 1)
    holder.reload()
    for question in ("how much does it cost?", "what's the price of one session?"):
        reply = holder.bot.answer(question)
        assert NEW_PRICE in reply.answer
        assert OLD_PRICE not in json.dumps(reply.to_json())
    assert not any(OLD_PRICE in c.text for c in holder.bot.index.chunks)


def test_a_deleted_documents_fact_is_no_longer_answered(tmp_path, base, embedder, holder_for):
    settings = clinic(tmp_path, base)
    (settings.corpus_dir / "aftercare.html").write_text(AFTERCARE)
    reindex(settings, embedder)
    holder = holder_for(settings)
    assert "Elm Street" in holder.bot.answer("where can I park?").answer
    (settings.corpus_dir / "aftercare.html").unlink()
    summary = reindex(settings, embedder)
    assert (summary.documents, summary.removed) == (1, 2)
    holder.reload()
    reply = holder.bot.answer("where can I park?")
    assert reply.abstained and reply.citations == () and "Elm Street" not in reply.answer


def test_an_index_that_fails_to_load_is_refused_and_the_old_one_served(tmp_path, base, embedder, holder_for):
    settings = clinic(tmp_path, base, admin_token="s3cret")
    holder = holder_for(settings)
    served = holder.served_build_id()
    client = TestClient(create_api(holder))
    # A build from another model.
    reindex(settings, HashEmbedder())
    result = holder.reload()
    assert result.outcome == "failed" and "built with hash-embedder" in result.error
    assert holder.served_build_id() == served
    # A damaged build.
    edit(settings.corpus_dir / ARTICLE, OLD_PRICE, NEW_PRICE)
    broken = reindex(settings, embedder).build_id
    faiss_file = current_build(settings.index_dir) / "passages.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    denied = client.post("/admin/reload", headers={"Authorization": "Bearer s3cret"})
    assert denied.status_code == 409 and denied.json()["error"]["code"] == "reload_failed"
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["index"]["build_id"] == served
    assert health["reload"]["status"] == "failed" and health["reload"]["build_id"] == broken
    assert "cannot be read" in health["reload"]["error"] and health["reload"]["served"] == served
    reply = client.post("/api/chat", json={"message": "how much does it cost?"})
    assert reply.status_code == 200 and OLD_PRICE in reply.json()["answer"]
    # Fixed by re-indexing: the next reload serves it.
    fixed = reindex(settings, embedder).build_id
    ok = client.post("/admin/reload", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()["served"] == fixed
    assert client.get("/healthz").json()["reload"]["status"] == "ok"
    assert NEW_PRICE in client.post("/api/chat", json={"message": "how much does it cost?"}).json()["answer"]


def test_the_citation_link_of_an_html_document_opens_its_section(tmp_path):
    settings = small_clinic(tmp_path)
    (settings.corpus_dir / "aftercare.html").write_text(AFTERCARE)
    page = TestClient(create_api(BotHolder(settings))).get("/source/aftercare")
    assert page.status_code == 200
    assert "id='parking'" in page.text and "Elm Street" in page.text and "Home" not in page.text


def test_admin_reload_needs_the_token_and_is_off_without_one(tmp_path):
    settings = small_clinic(tmp_path)
    off = TestClient(create_api(BotHolder(settings)))
    assert off.post("/admin/reload", headers={"Authorization": "Bearer anything"}).status_code == 404
    on = TestClient(create_api(BotHolder(replace(settings, admin_token="s3cret"))))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
        r = on.post("/admin/reload", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"


def test_a_server_under_load_swaps_indexes_without_a_failed_request(tmp_path, base, embedder):
    settings = clinic(tmp_path, base)
    server = Server(
        {
            "FAQBOT_INDEX_DIR": str(settings.index_dir),
            "FAQBOT_CORPUS_DIR": str(settings.corpus_dir),
            "FAQBOT_RELOAD_INTERVAL": "1",
            "FAQBOT_ADMIN_TOKEN": "s3cret",
            "FAQBOT_DB": str(tmp_path / "log.sqlite3"),
        },
        tmp_path / "server.log",
    ).start()
    url = server.base
    stop = threading.Event()
    results: list[list[tuple[int, str]]] = [[], []]

    def visitor(log: list[tuple[int, str]]) -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                try:
                    r = client.post(f"{url}/api/chat", json={"message": "how much does it cost?"})
                    log.append((r.status_code, r.text))
                except httpx.HTTPError as exc:
                    log.append((0, repr(exc)))

    threads = [threading.Thread(target=visitor, args=(log,)) for log in results]
    try:
        for t in threads:
            t.start()
        time.sleep(2)
        served = httpx.get(f"{url}/healthz").json()["index"]["build_id"]
        edit(settings.corpus_dir / ARTICLE, OLD_PRICE, NEW_PRICE)
        new = reindex(settings, embedder).build_id
        deadline = time.monotonic() + 60
        while httpx.get(f"{url}/healthz").json()["index"]["build_id"] != new:
            assert time.monotonic() < deadline, "the server did not pick up the new index"
            time.sleep(0.2)
        time.sleep(2)
        assert httpx.post(f"{url}/admin/reload", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = httpx.post(f"{url}/admin/reload", headers={"Authorization": "Bearer s3cret"}, timeout=60)
        assert ok.status_code == 200 and ok.json()["status"] == "unchanged"
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        server.stop()
    assert served != new
    for log in results:
        assert len(log) > 5
        assert [status for status, _ in log if status != 200] == []
        answers = [json.loads(text) for _, text in log]
        prices = [(OLD_PRICE in a["answer"], NEW_PRICE in a["answer"]) for a in answers]
        assert all(old != new for old, new in prices), "every answer quotes exactly one index"
        assert all(c["quote"] in a["answer"] for a in answers for c in a["citations"])
        first_new = prices.index((False, True))
        assert all(p == (False, True) for p in prices[first_new:]), "an old answer came after the swap"
        assert first_new > 0
