"""Faults: a re-index killed at any moment, damaged index files, a question log that is
locked, full or unwritable, and a server restarted (or killed) under traffic.

What a visitor or a maintainer would notice: the served index stays loadable and the last
good one keeps answering; a damaged index is refused with what to run; answers keep
flowing whatever the log's database does, the failure is logged once and writing resumes;
confirmed feedback and answered questions survive a restart.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from conftest import CORPUS, ROOT, small_clinic
from fastapi.testclient import TestClient
from serving import Server

from bot.adapters.api import create_api
from bot.errors import IndexCorrupt, IndexMismatch
from bot.replies import Reply, ReplyKind
from bot.search.embedder import model_name
from bot.search.folder import current_build, read_manifest
from bot.search.hash_embedder import HashEmbedder
from bot.search.load import load_build, load_index
from bot.search.reindex import reindex
from bot.serve.runtime import BotHolder
from bot.settings import Settings
from bot.store import ChatLog, Store

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
REBUILD = "python -m bot index"

# Runs `reindex` with the hash embedder in a child process that SIGKILLs itself at one
# step of the build (argv: corpus, index, step).
KILLER = r'''
import os, shutil, signal, sys
from pathlib import Path
import numpy as np
import bot.search.index as index
from bot.search.hash_embedder import HashEmbedder
from bot.search.reindex import reindex
from bot.settings import Settings

corpus, out, step = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
real = {"rename": os.rename, "symlink": os.symlink, "replace": os.replace, "rmtree": shutil.rmtree,
        "write_index": index.faiss.write_index, "save": np.save}
if step == "embedding":
    HashEmbedder.encode = lambda self, texts: die()
elif step == "writing-faiss":
    index.faiss.write_index = lambda *a: (real["write_index"](*a), die())
elif step == "writing-vectors":
    def save(path, arr, **kw):
        with open(path, "wb") as fh:
            fh.write(b"\x93NUMPY half a file")
        die()
    index.np.save = save
elif step == "renamed":
    os.rename = lambda a, b: (real["rename"](a, b), die())
elif step == "caching":
    os.replace = lambda a, b: die() if str(a).endswith(".tmp") else real["replace"](a, b)
elif step == "linking":
    os.symlink = lambda a, b: (real["symlink"](a, b), die() if Path(b).name.startswith(".current-") else None)
elif step == "previous-moved":
    os.replace = lambda a, b: (real["replace"](a, b), die() if Path(b).name == "previous" else None)
elif step == "pruning":
    shutil.rmtree = lambda *a, **k: die()
reindex(Settings(corpus_dir=corpus, index_dir=out), HashEmbedder())
print("finished without being killed")
'''
STEPS_BEFORE_SWAP = ["embedding", "writing-faiss", "writing-vectors", "renamed", "caching", "linking", "previous-moved"]


def kill_reindex_at(settings: Settings, step: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", KILLER, str(settings.corpus_dir), str(settings.index_dir), step],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def change_corpus(settings: Settings, n: int) -> None:
    with open(settings.corpus_dir / "a.md", "a") as fh:
        fh.write(f"\nParking change number {n}: the garage is on Elm Street.\n")


# --- a re-index killed halfway --------------------------------------------------------------


@pytest.mark.parametrize("step", [*STEPS_BEFORE_SWAP, "pruning"])
def test_a_reindex_killed_at_any_step_leaves_a_loadable_index(tmp_path, step):
    settings = small_clinic(tmp_path)
    embedder = HashEmbedder()
    reindex(settings, embedder)
    change_corpus(settings, 0)
    good = reindex(settings, embedder).build_id  # two builds: the next one prunes the oldest
    change_corpus(settings, 1)
    done = kill_reindex_at(settings, step)
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
    loaded = load_index(settings.index_dir, embedder)  # whatever the moment, the served index loads
    if step in STEPS_BEFORE_SWAP:
        assert loaded.manifest.build_id == good  # the last good build is still the one served
        assert not any("change number 1" in c.text for c in loaded.chunks)
    else:  # killed after the swap, while tidying up: the new build is complete and served
        assert loaded.manifest.build_id != good and any("change number 1" in c.text for c in loaded.chunks)
    # The lock died with the process: the next re-index runs, serves the change and tidies up.
    change_corpus(settings, 2)
    fresh = reindex(settings, embedder).build_id
    served = load_index(settings.index_dir, embedder)
    assert served.manifest.build_id == fresh and sum("Parking change" in c.text for c in served.chunks) == 3
    assert list(settings.index_dir.glob(".tmp-*")) == []


@pytest.mark.slow  # starts a model or a server by itself
def test_the_real_command_killed_at_random_moments_leaves_a_loadable_index(tmp_path):
    settings = small_clinic(tmp_path)
    run = [sys.executable, "-m", "bot", "index", "--corpus", str(settings.corpus_dir), "--out", str(settings.index_dir)]
    subprocess.run(run, cwd=ROOT, check=True, capture_output=True, timeout=300)
    real_model = SimpleNamespace(name=model_name(Settings().embedding_model), dim=read_manifest(settings.index_dir).dim)
    for n, delay in enumerate([0.5, 2.0, 4.0], 1):
        before = read_manifest(settings.index_dir).build_id
        change_corpus(settings, n)
        proc = subprocess.Popen(run, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        loaded = load_index(settings.index_dir, real_model)
        # Killed before the swap: the previous build is served. Killed after it (while tidying up or
        # exiting) or finished: the new build is served, complete with the change.
        if loaded.manifest.build_id != before:
            assert any(f"change number {n}:" in c.text for c in loaded.chunks)
    assert subprocess.run(run, cwd=ROOT, capture_output=True, timeout=300).returncode == 0
    assert sum("Parking change" in c.text for c in load_index(settings.index_dir, real_model).chunks) == 3


def test_a_server_keeps_serving_the_last_good_index_when_a_reindex_dies(tmp_path, settings, embedder):
    work = tmp_path / "clinic"
    shutil.copytree(CORPUS, work / "corpus")
    shutil.copytree(settings.index_dir, work / "index", symlinks=True)
    local = replace(settings, corpus_dir=work / "corpus", index_dir=work / "index")
    server = Server({"FAQBOT_INDEX_DIR": str(local.index_dir), "FAQBOT_CORPUS_DIR": str(local.corpus_dir),
                     "FAQBOT_DB": str(tmp_path / "log.sqlite3"), "FAQBOT_RELOAD_INTERVAL": "1", "FAQBOT_RATE_LIMIT": "0"},
                    tmp_path / "server.log").start()
    statuses: list[int] = []
    stop = threading.Event()

    def visitor() -> None:
        with httpx.Client(base_url=server.base, timeout=60) as client:
            while not stop.is_set():
                try:
                    statuses.append(client.post("/api/chat", json={"message": "how much does it cost?"}).status_code)
                except httpx.HTTPError:
                    statuses.append(0)

    thread = threading.Thread(target=visitor)
    try:
        served = httpx.get(f"{server.base}/healthz").json()["index"]["build_id"]
        thread.start()
        article = local.corpus_dir / "ketamine-infusion-insurance.md"
        article.write_text(article.read_text().replace("$400-$600", "$450-$650"))
        assert kill_reindex_at(local, "renamed").returncode == -signal.SIGKILL  # a new build folder, never swapped in
        time.sleep(3)  # three looks for a new build
        health = httpx.get(f"{server.base}/healthz").json()
        assert health["index"]["build_id"] == served and health["reload"]["status"] == "none"
        assert "$400-$600" in httpx.post(f"{server.base}/api/chat", json={"message": "how much does it cost?"}, timeout=30).json()["answer"]
        new = reindex(local, embedder).build_id  # the maintainer runs it again
        deadline = time.monotonic() + 60
        while httpx.get(f"{server.base}/healthz").json()["index"]["build_id"] != new:
            assert time.monotonic() < deadline, "the server did not pick up the good build"
            time.sleep(0.25)
        assert "$450-$650" in httpx.post(f"{server.base}/api/chat", json={"message": "how much does it cost?"}, timeout=30).json()["answer"]
    finally:
        stop.set()
        thread.join(timeout=60)
        server.stop()
    assert len(statuses) > 5 and set(statuses) == {200}
    assert "Traceback" not in server.log_text()


# --- damaged index files --------------------------------------------------------------------

FILES = ["manifest.json", "passages.faiss", "passages.jsonl", "sentences.npy", "questions.jsonl", "questions.npy"]


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(os.urandom(max(64, len(data))))
    elif how == "missing":
        path.unlink()
    elif how == "last line lost":
        lines = data.splitlines(keepends=True)
        path.write_bytes(b"".join(lines[:-1]))


@pytest.fixture()
def small_index(tmp_path):
    settings = small_clinic(tmp_path)
    (tmp_path / "corpus" / "questions.yaml").write_text("- section: a.md#cost\n  questions:\n    - what is the price?\n")
    reindex(settings, HashEmbedder())
    return settings


@pytest.mark.parametrize("how", ["truncated", "empty", "garbage", "missing"])
@pytest.mark.parametrize("name", FILES)
def test_a_damaged_index_file_is_refused_with_what_to_run(small_index, name, how):
    build = current_build(small_index.index_dir)
    damage(build / name, how)
    with pytest.raises((IndexCorrupt, IndexMismatch)) as refused:
        load_build(build, HashEmbedder())
    assert str(build) in str(refused.value) and REBUILD in str(refused.value)


@pytest.mark.parametrize("name", ["passages.jsonl", "questions.jsonl"])
def test_an_index_file_that_lost_its_last_line_is_refused_as_inconsistent(small_index, name):
    build = current_build(small_index.index_dir)
    damage(build / name, "last line lost")
    with pytest.raises(IndexCorrupt, match="inconsistent"):
        load_build(build, HashEmbedder())


def test_a_damaged_new_build_is_refused_and_the_old_one_keeps_answering(small_index):
    holder = BotHolder(small_index)
    holder.load(HashEmbedder())
    served = holder.served_build_id()
    change_corpus(small_index, 1)
    broken = reindex(small_index, HashEmbedder()).build_id
    damage(current_build(small_index.index_dir) / "sentences.npy", "truncated")
    result = holder.reload()
    assert result.outcome == "failed" and holder.served_build_id() == served
    assert holder.reload_status.build_id == broken and REBUILD in holder.reload_status.error
    assert holder.bot.answer("how much does an infusion cost?").answer


# --- the question log when its database fails ------------------------------------------------


class LongAnswerBot:
    """Answers with a long reply, so every log row needs new database pages."""

    def answer(self, message: str, history=()) -> Reply:
        return Reply("An infusion costs $450. " * 800, ReplyKind.ANSWER)


@contextmanager
def faulty(store: Store, fault: dict):
    """Run ``fault["apply"](conn)`` on every connection the store uses while it is set: each
    short-lived read connection and, at every write, its kept-open write connection."""
    originals = store.reading, store.writing, store.transaction

    def with_fault(original):
        @contextmanager
        def use():
            with original() as conn:
                if fault.get("apply"):
                    fault["apply"](conn)
                yield conn

        return use

    store.reading, store.writing, store.transaction = (with_fault(o) for o in originals)
    try:
        yield
    finally:
        store.reading, store.writing, store.transaction = originals


def full(conn: sqlite3.Connection) -> None:
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # no room for one more page: SQLITE_FULL


def read_only(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA query_only = 1")  # SQLITE_READONLY, as on a read-only mount


@pytest.fixture()
def logged_api(tmp_path):
    store = Store(tmp_path / "data" / "faqbot.sqlite3")
    log = ChatLog(store)
    holder = BotHolder(Settings(corpus_dir=CORPUS, rate_limit=0))
    holder.bot = LongAnswerBot()
    api = create_api(holder)
    api.state.chat_log = log
    with TestClient(api) as client:
        yield client, log, store
    log.close()


def ask_quickly(client: TestClient, message: str) -> None:
    started = time.monotonic()
    r = client.post("/api/chat", json={"message": message})
    assert r.status_code == 200 and "$450" in r.json()["answer"]
    assert time.monotonic() - started < 2.0  # the visitor never waits for the log


def wait_for(check, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize("fault", ["full", "read-only", "folder gone"])
def test_answers_keep_flowing_while_the_log_cannot_be_written_and_writing_resumes(logged_api, caplog, fault):
    client, log, store = logged_api
    ask_quickly(client, "before the fault")
    assert log.flush()
    state: dict = {}
    folder, moved = store.path.parent, store.path.parent.with_name("moved-away")
    with caplog.at_level(logging.INFO, logger="bot.store"), faulty(store, state):
        if fault == "folder gone":
            folder.rename(moved)
        else:
            state["apply"] = full if fault == "full" else read_only
        for i in range(5):
            ask_quickly(client, f"during the fault {i}")
        log.flush()
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "answers are served, and their rows are kept" in errors[0].getMessage()
        if fault == "folder gone":
            moved.rename(folder)
        state["apply"] = None  # the disk has room again / the mount is writable again
        ask_quickly(client, "after the fault")
        log.flush()
        assert any("writing again" in r.getMessage() for r in caplog.records)
    questions = [e.question for e in store.exchanges()]
    assert questions[0] == "after the fault" and "before the fault" in questions
    assert {f"during the fault {i}" for i in range(5)} <= set(questions)  # kept in memory, then written
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == errors  # logged once, not once per row


@pytest.mark.slow  # starts a model or a server by itself
def test_answers_keep_flowing_while_another_process_locks_the_log(logged_api, caplog):
    client, log, store = logged_api
    ask_quickly(client, "before the lock")
    assert log.flush()
    locker = sqlite3.connect(store.path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # e.g. a backup or a staff member's sqlite3 shell
    # One capture for both phases: the writer may write again as soon as the lock goes.
    with caplog.at_level(logging.INFO, logger="bot.store"):
        try:
            for i in range(3):
                ask_quickly(client, f"while locked {i}")
            assert wait_for(lambda: any(r.levelno >= logging.ERROR for r in caplog.records), timeout=20)
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        ask_quickly(client, "after the lock")
        assert log.flush(timeout=30)
    assert store.exchanges()[0].question == "after the lock"
    assert sum(r.levelno >= logging.ERROR for r in caplog.records) == 1
    assert any("writing again" in r.getMessage() for r in caplog.records)


def test_confirmed_feedback_is_on_disk_before_the_staff_member_is_told(tmp_path):
    path = tmp_path / "faqbot.sqlite3"
    log = ChatLog(Store(path))
    answer_id = log.record("staff", "how much?", Reply("It costs $450.", ReplyKind.ANSWER), 0.01)
    feedback_id = log.add_feedback(answer_id, -1, "too short")
    # Another process's view, with the writer still running (as if this one died now).
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT rating, comment FROM feedback WHERE id = ?", (feedback_id,)).fetchone() == (-1, "too short")
    log.close()


def test_queued_log_rows_are_written_when_the_server_stops(tmp_path, settings):
    """uvicorn ends the process with the SIGTERM it caught, so the log is written out in the
    app's own shutdown (not after uvicorn.run returns, which it then never does)."""
    from app import build_app

    store = Store(tmp_path / "faqbot.sqlite3")
    real_add = store.add
    store.add = lambda exchange: (time.sleep(0.2), real_add(exchange))  # a slow disk: rows queue up
    log = ChatLog(store)
    holder = BotHolder(replace(settings, rate_limit=0))
    holder.bot = LongAnswerBot()
    app, _, _ = build_app(holder.settings, holder, log)
    with TestClient(app) as client:
        for i in range(8):
            assert client.post("/api/chat", json={"message": f"question {i}"}).status_code == 200
        assert len(store.exchanges()) < 8  # still queued when the server is told to stop
    assert len(store.exchanges()) == 8


# --- restarts under traffic -----------------------------------------------------------------


def rate_in_console(page, sync_api, base: str, question: str, comment: str, thumb: str) -> None:
    page.goto(base)
    page.get_by_label("Question").fill(question)
    page.get_by_label("Question").press("Enter")
    sync_api.expect(page.get_by_text("Sources", exact=False).or_(page.get_by_text("abstained")).first).to_be_visible(timeout=30_000)
    page.get_by_label("Comment on a rating (optional)").fill(comment)
    page.get_by_role("button", name=thumb).last.click()
    sync_api.expect(page.get_by_text("stored for answer 1")).to_be_visible(timeout=15_000)


def test_a_restart_under_traffic_loses_no_feedback_and_no_answered_question(tmp_path, settings):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found: install Debian's Chromium (apt-get install -y chromium) to rate answers in the console")
    sync_api = pytest.importorskip("playwright.sync_api")
    db = tmp_path / "faqbot.sqlite3"
    server = Server({"FAQBOT_INDEX_DIR": str(settings.index_dir), "FAQBOT_CORPUS_DIR": str(CORPUS), "FAQBOT_DB": str(db),
                     "FAQBOT_RATE_LIMIT": "0", "FAQBOT_RELOAD_INTERVAL": "0"}, tmp_path / "server.log").start()
    answered: list[tuple[float, str]] = []  # (when the reply arrived, the question)
    statuses: list[int | str] = []
    stop = threading.Event()

    def visitor(n: int) -> None:
        i = 0
        with httpx.Client(base_url=server.base, timeout=60) as client:
            while not stop.is_set():
                i += 1
                question = f"how much does it cost? visitor {n} visit {i}"
                try:
                    r = client.post("/api/chat", json={"message": question})
                except httpx.HTTPError:
                    time.sleep(0.05)  # the server is restarting
                    continue
                statuses.append(r.status_code if r.status_code != 503 else f"503 {r.json()['error']['code']} {r.headers.get('retry-after')}")
                if r.status_code == 200:
                    answered.append((time.monotonic(), question))

    threads = [threading.Thread(target=visitor, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            rate_in_console(page, sync_api, server.base, "what's the weather in Paris today?", "restart one: stored before SIGTERM", "Dislike")
            time.sleep(1)
            # A deploy: a graceful stop under traffic (uvicorn exits with the signal it caught).
            assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
            stopped = time.monotonic()
            server.start()
            rate_in_console(page, sync_api, server.base, "how much does it cost?", "restart two: stored before SIGKILL", "Like")
            server.stop(signal.SIGKILL)  # a crash
            browser.close()
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
        server.stop(signal.SIGKILL)
    store = Store(db)
    comments = {f.comment: f.rating for f in store.feedback()}
    assert comments == {"restart one: stored before SIGTERM": -1, "restart two: stored before SIGKILL": 1}
    logged = {e.question for e in store.exchanges(limit=1_000_000)}
    before_sigterm = [q for at, q in answered if at < stopped]
    assert len(before_sigterm) > 10 and [q for q in before_sigterm if q not in logged] == []
    # While the server restarts, requests fail to connect; once it listens and until the
    # model is loaded, they get 503 "not_ready" with Retry-After (the widget retries); no
    # other error, and none half-answered.
    assert set(statuses) <= {200, "503 not_ready 5"} and statuses.count(200) > 10
