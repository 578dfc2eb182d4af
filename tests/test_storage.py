"""The question log: redaction, logging off, retention, grouping, feedback, failures, the
kind of reply and the suggestions a visitor picked, and the migration that added them.

One storage interface, two engines, one suite: the tests that take ``target`` run against
a SQLite file and against a real PostgreSQL that the session starts itself
(tests/postgres_server.py; skipped, saying so, where PostgreSQL is not installed).

These use small hand-made replies, not the model: what is stored does not depend on how
the bot answers.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.replies import Citation, Reply, ReplyKind, Suggestion
from bot.settings import Settings
from bot.store import SCHEMA_VERSION, ChatLog, Exchange, StorageError, Store, channel_from_headers, question_key
from bot.store.curation import Pick, add_fix, fixes, get_fix, log_rows, mark_undone, misses
from bot.store.records import Offered, shown_db
from bot.store.redact import redact
from bot.store.schema import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS

COST = Citation("How much does ketamine infusion cost?", "how-much-does-ketamine-infusion-cost", "corpus/a.md",
                "/source/a#how-much-does-ketamine-infusion-cost", "typically around $400-$600 per session", 0.5)
INSURANCE = Citation("Is ketamine infusion covered by insurance?", "is-ketamine-infusion-covered-by-insurance", "corpus/a.md",
                     "/source/a#is-ketamine-infusion-covered-by-insurance", "Some insurance companies...", 0.4)
ANSWERED = Reply("It is typically around $400-$600 per session.", ReplyKind.ANSWER, (COST,), reason="covers 100% of the question")
ABSTAINED = Reply("I'm sorry, I can't find an answer to that.", ReplyKind.ABSTENTION, (), reason="missing: weather")
CRISIS = Reply("Please call or text 988.", ReplyKind.CRISIS, (), reason="the message speaks of suicide or self-harm")
# Unsure: the closest sections offered; then the visitor picks one and gets its answer.
OFFERED = tuple(Suggestion(c.section, c.anchor, c.source, c.url, c.quote) for c in (COST, INSURANCE))
SUGGESTED = Reply("I'm not sure I have the exact answer. These parts of the clinic's pages come closest: ...",
                  ReplyKind.SUGGESTIONS, suggestions=OFFERED, reason="unsure, so the closest sections are offered")
COST_KEY = "corpus/a.md#how-much-does-ketamine-infusion-cost"
PICKED_COST = Reply("It is typically around $400-$600 per session.", ReplyKind.ANSWER, (COST,), picked=COST_KEY,
                    reason="the visitor picked 'How much does ketamine infusion cost?' among the suggestions")


# PostgreSQL is a server the session starts: never in the fast tier.
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]


@pytest.fixture(params=ENGINES)
def target(request, tmp_path) -> str:
    """FAQBOT_DB for a new, empty question log: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "data" / "faqbot.sqlite3")
    return request.getfixturevalue("pg_url")


@pytest.fixture()
def store(target):
    opened = Store(target)
    yield opened
    opened.close()


@pytest.fixture()
def log(target):
    chat_log = ChatLog(Store(target))
    yield chat_log
    chat_log.close()


def rows(store: Store) -> list:
    with store.reading() as conn:
        return conn.execute("SELECT * FROM answers ORDER BY at").fetchall()


# --- redaction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("email me at jane.doe+clinic@example.co.uk please", "email me at [email] please"),
        ("call me at 555-123-4567 about my depression", "call me at [phone] about my depression"),
        ("my number is (555) 123 4567.", "my number is [phone]."),
        ("+44 20 7946 0958 is my mobile", "[phone] is my mobile"),
        ("text 5551234567", "text [phone]"),
        ("mail a@b.io or 555.123.4567", "mail [email] or [phone]"),
    ],
)
def test_emails_and_phone_numbers_are_redacted(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    ["does it cost $400-$600 per session?", "should I call 988 or 911?", "is 6 sessions in 2 weeks normal?",
     "I had an infusion on 2024-05-01 and on 5/1/2024", "I am 45 and weigh 120 lbs"],
)
def test_prices_short_numbers_and_dates_are_kept(text):
    assert redact(text) == text


def test_stored_questions_and_comments_are_redacted(log):
    answer_id = log.record("widget", "Can you email me at pat@example.com or call 555-123-4567?", ABSTAINED, 0.02)
    feedback_id = log.add_feedback(answer_id, -1, "the visitor left 555 987 6543, please call back")
    [row] = rows(log.store)
    assert row["question"] == "Can you email me at [email] or call [phone]?"
    assert "pat@example.com" not in row["question_key"] and "555" not in row["question_key"]
    [item] = log.store.feedback()
    assert item.id == feedback_id and item.comment == "the visitor left [phone], please call back"


# --- what is recorded ----------------------------------------------------------------------------


def test_an_answered_message_is_recorded_with_its_outcome(log):
    log.record("api", "how much does it cost?", ANSWERED, 0.0421)
    log.record("widget", "what's the weather?", ABSTAINED, 0.01)
    log.record("staff", "I want to end it all", CRISIS, 0.001)
    assert log.flush()
    stored = {e.channel: e for e in log.store.exchanges()}
    assert stored["api"].question == "how much does it cost?" and not stored["api"].abstained
    assert stored["api"].sections == ("How much does ketamine infusion cost?",) and stored["api"].latency_ms == 42.1
    assert stored["widget"].abstained and not stored["widget"].crisis and stored["widget"].sections == ()
    assert stored["staff"].crisis
    assert all(datetime.now(UTC) - e.at < timedelta(minutes=1) for e in stored.values())


def test_logging_off_stores_no_question(target):
    log = ChatLog(Store(target), log_questions=False)
    answer_id = log.record("widget", "can ketamine help my bipolar? my email is sam@example.com", ABSTAINED, 0.01)
    log.add_feedback(answer_id, 1)
    log.close()
    [row] = rows(log.store)
    assert row["question"] is None and row["question_key"] is None and row["reason"] is None
    assert row["abstained"] == 1 and row["channel"] == "widget"  # the charts still count it
    assert misses(log.store) == []
    if log.store.engine == "sqlite":  # nothing of it anywhere in the file
        raw = b"".join(p.read_bytes() for p in log.store.path.parent.glob("faqbot.sqlite3*"))
        assert b"bipolar" not in raw and b"sam@example.com" not in raw


def test_logging_is_on_by_default_and_off_with_faqbot_log_questions_0(tmp_path):
    assert Settings.from_env({}).log_questions is True
    settings = Settings.from_env({"FAQBOT_LOG_QUESTIONS": "0", "FAQBOT_DB": str(tmp_path / "x.sqlite3")})
    log = ChatLog.open(settings)
    log.record("api", "does insurance cover it?", ANSWERED, 0.01)
    log.close()
    assert [e.question for e in log.store.exchanges()] == [None]


def test_the_channel_comes_from_the_widget_header():
    assert channel_from_headers({"x-faqbot-channel": "widget"}) == "widget"
    assert channel_from_headers({"X-FAQBot-Channel": "Widget "}) == "widget"
    assert channel_from_headers({"X-FAQBot-Channel": "staff"}) == "api"  # nobody poses as staff
    assert channel_from_headers({}) == "api"


# --- the database -------------------------------------------------------------------------------


def test_the_database_and_its_folder_are_created_and_migrated_once(tmp_path):
    path = tmp_path / "new" / "folder" / "faqbot.sqlite3"
    store = Store(path)
    assert path.exists() and store.schema_version() == SCHEMA_VERSION
    store.add(Exchange.of("api", "hello", ANSWERED, 0.01))
    assert len(Store(path).exchanges()) == 1  # reopening keeps the rows


def test_a_postgresql_database_is_migrated_once_by_replicas_starting_together(pg_url):
    stores: list[Store] = []
    starting = [threading.Thread(target=lambda: stores.append(Store(pg_url))) for _ in range(6)]
    for t in starting:
        t.start()
    for t in starting:
        t.join()
    assert len(stores) == 6 and {s.schema_version() for s in stores} == {SCHEMA_VERSION}
    stores[0].add(Exchange.of("api", "hello", ANSWERED, 0.01))
    assert [e.question for e in stores[5].exchanges()] == ["hello"]  # one database, seen by all
    with stores[0].reading() as conn:
        assert conn.execute("SELECT count(*) AS n FROM faqbot_schema").fetchone()["n"] == 1
    for store in stores:
        store.close()


def test_a_database_from_a_newer_bot_is_refused_with_the_fix(target):
    store = Store(target)
    with store.reading() as conn:
        if store.engine == "sqlite":
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        else:
            conn.execute("UPDATE faqbot_schema SET version = ?", (SCHEMA_VERSION + 1,))
    store.close()
    with pytest.raises(StorageError, match="newer than this bot's.*FAQBOT_DB"):
        Store(target)  # closes what it opened


def test_rows_older_than_the_retention_are_purged_with_their_feedback(store):
    now = datetime.now(UTC)
    old = Exchange.of("widget", "old question", ABSTAINED, 0.01, at=now - timedelta(days=31))
    recent = Exchange.of("widget", "recent question", ABSTAINED, 0.01, at=now - timedelta(days=29))
    store.add(old)
    store.add(recent)
    store.add_feedback(old.id, -1, "old")
    store.add_feedback(recent.id, -1, "recent")
    assert store.purge(30) == 1
    assert [e.question for e in store.exchanges()] == ["recent question"]
    assert [f.comment for f in store.feedback()] == ["recent"]


def test_the_writer_purges_on_start(store):
    store.add(Exchange.of("api", "stale", ANSWERED, 0.01, at=datetime.now(UTC) - timedelta(days=8)))
    log = ChatLog(store, retention_days=7)
    log.close()
    assert store.exchanges() == []


# --- the console's lists --------------------------------------------------------------------------


def test_visitor_questions_not_answered_are_counted_by_normalised_text_most_asked_first(log):
    now = datetime.now(UTC)
    asked = [
        ("widget", "What's the weather?", 5),
        ("widget", "whats the weather", 4),
        ("api", "WHAT'S   THE WEATHER!!", 3),
        ("widget", "Do you accept Aetna?", 10),
        ("widget", "do you accept aetna", 0),
        ("staff", "staff testing a gap", 0),  # staff questions are not visitors' gaps
    ]
    store = log.store
    for channel, question, minutes_ago in asked:
        store.add(Exchange.of(channel, question, ABSTAINED, 0.01, at=now - timedelta(minutes=minutes_ago)))
    store.add(Exchange.of("widget", "how much does it cost", ANSWERED, 0.01))
    store.add(Exchange.of("widget", "I want to die", CRISIS, 0.01, at=now - timedelta(minutes=1)))

    found = misses(store)
    assert [(m.question, m.count, m.crisis) for m in found] == [
        ("WHAT'S   THE WEATHER!!", 3, 0),  # the latest wording of the most asked form
        ("do you accept aetna", 2, 0),
        ("I want to die", 1, 1),  # crisis replies are listed, and marked
    ]
    weather = found[0]
    assert weather.channels == ("api", "widget")
    assert timedelta(seconds=30) < now - weather.last < timedelta(minutes=4)
    assert [m.question for m in misses(store, since=now - timedelta(seconds=150))] == ["do you accept aetna", "I want to die"]


def test_question_key_ignores_case_punctuation_and_spacing():
    assert question_key("  What's the COST?? ") == question_key("whats the cost") == "whats the cost"


def test_feedback_is_stored_and_listed_newest_first(log):
    first = log.record("staff", "how much does it cost?", ANSWERED, 0.01)
    second = log.record("staff", "what's the weather?", ABSTAINED, 0.01)
    log.add_feedback(first, 1)
    down = log.add_feedback(second, -1, "should say we don't know the weather")
    items = log.store.feedback()
    assert [(f.question, f.rating) for f in items] == [("what's the weather?", -1), ("how much does it cost?", 1)]
    assert items[0].comment == "should say we don't know the weather" and items[0].abstained
    assert items[1].sections == ("How much does ketamine infusion cost?",)
    log.update_feedback(down, rating=1, comment="fine after all")
    assert log.store.feedback(only_negative=True) == []
    assert log.store.feedback()[0].comment == "fine after all"


def test_feedback_on_an_unknown_answer_says_so(log):
    with pytest.raises(StorageError, match="no stored answer"):
        log.add_feedback("nope", -1)
    with pytest.raises(ValueError, match="rating must be 1"):
        log.add_feedback(log.record("api", "x", ANSWERED, 0.0), 0)


def test_questions_per_day_and_most_cited_sections(log):
    store = log.store
    now = datetime.now(UTC)
    for days_ago, reply in [(0, ANSWERED), (0, ABSTAINED), (0, ABSTAINED), (2, ANSWERED), (40, ANSWERED)]:
        store.add(Exchange.of("widget", "q", reply, 0.01, at=now - timedelta(days=days_ago)))
    both = Reply("a", ReplyKind.ANSWER, (COST, INSURANCE, COST))
    store.add(Exchange.of("api", "q", both, 0.01))
    store.add(Exchange.of("staff", "q", Reply("a", ReplyKind.ANSWER, (INSURANCE,)), 0.01))

    days = store.daily(30)
    assert len(days) == 30 and days[-1].day == now.date()
    assert (days[-1].questions, days[-1].abstained) == (4, 2) and days[-1].abstained_share == 0.5
    assert days[-3].questions == 1 and days[-2].questions == 0 and days[-2].abstained_share is None
    assert sum(d.questions for d in days) == 5  # 40 days ago and staff are left out

    top = store.top_sections(30)
    assert [(s.section, s.citations) for s in top] == [
        ("How much does ketamine infusion cost?", 3),
        ("Is ketamine infusion covered by insurance?", 1),
    ]
    with_staff = store.top_sections(30, channels=("widget", "api", "staff"))
    assert with_staff[1].citations == 2


# --- failures never reach the visitor --------------------------------------------------------------


def test_rows_that_cannot_be_written_are_kept_and_written_when_writes_succeed_again(log, caplog, monkeypatch):
    real_add = log.store.add_many
    failing = threading.Event()
    failing.set()

    def add_many(exchanges):
        if failing.is_set():
            raise StorageError("disk I/O error")
        real_add(exchanges)

    monkeypatch.setattr(log.store, "add_many", add_many)
    with caplog.at_level(logging.INFO, logger="bot.store"):
        assert log.record("api", "one", ANSWERED, 0.01) is not None  # no exception reaches the caller
        log.record("api", "two", ANSWERED, 0.01)
        assert not log.flush()  # kept, not written
        assert log.status().state == "degraded" and log.status().pending == 2 and "disk I/O" in log.status().error
        failing.clear()
        log.record("api", "three", ANSWERED, 0.01)
        assert log.flush()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "write failed" in errors[0].getMessage() and "kept in memory" in errors[0].getMessage()
    assert any("writing again" in r.getMessage() for r in caplog.records)
    assert sorted(e.question for e in log.store.exchanges()) == ["one", "three", "two"]  # nothing lost
    assert log.status().to_json() == {"state": "ok", "engine": log.store.engine, "pending": 0, "dropped": 0, "error": None}


def test_answered_messages_reach_the_database_within_a_second_without_a_flush(log):
    log.record("widget", "how much does it cost", ANSWERED, 0.01)
    deadline = time.monotonic() + 2.0
    while not log.store.exchanges() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [e.question for e in log.store.exchanges()] == ["how much does it cost"]
    # Another connection (the console's, another worker's) sees the committed row.
    other = Store(log.store.where if log.store.engine == "sqlite" else log.store.db.url)
    assert [e.question for e in other.exchanges()] == ["how much does it cost"]
    other.close()


def test_a_log_file_deleted_while_serving_is_created_again_and_written(tmp_path, caplog):
    log = ChatLog(Store(tmp_path / "faqbot.sqlite3"))
    log.record("api", "before", ANSWERED, 0.01)
    assert log.flush()
    for suffix in ("", "-wal", "-shm"):
        log.store.path.with_name(log.store.path.name + suffix).unlink(missing_ok=True)
    with caplog.at_level(logging.WARNING, logger="bot.store"):
        log.record("api", "after", ANSWERED, 0.01)
        assert log.flush()
    assert [e.question for e in log.store.exchanges()] == ["after"]  # not into the deleted file
    assert "moved or deleted" in caplog.text
    log.close()


def test_an_unopenable_database_leaves_a_log_that_stores_nothing(tmp_path, caplog):
    (tmp_path / "taken").mkdir()
    settings = Settings(db=tmp_path / "taken")  # a folder, not a file
    with caplog.at_level(logging.ERROR, logger="bot.store"):
        log = ChatLog.open(settings)
    assert not log.enabled and "FAQBOT_DB" in log.error
    assert log.record("api", "hello", ANSWERED, 0.01) is None
    with pytest.raises(StorageError, match="feedback cannot be stored"):
        log.add_feedback("x", 1)
    assert "question log disabled" in caplog.text


def test_past_the_bound_the_oldest_kept_rows_are_dropped_and_counted(tmp_path, caplog):
    store = Store(tmp_path / "log.sqlite3")
    gate = threading.Event()
    real_add = store.add_many

    def blocked(exchanges):
        if not gate.is_set():
            raise StorageError("the database is away")
        real_add(exchanges)

    store.add_many = blocked
    log = ChatLog(store, max_pending=5)
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="bot.store"):
        for i in range(12):
            log.record("api", f"q{i}", ANSWERED, 0.01)
        assert time.monotonic() - started < 0.5  # never waits for the database
        assert log.status().pending == 5 and log.status().dropped == 7
        gate.set()
        assert log.flush()
    log.close()
    assert sorted(e.question for e in store.exchanges()) == ["q10", "q11", "q7", "q8", "q9"]  # the newest five
    assert "dropping the oldest" in caplog.text and "7 oldest rows were dropped" in caplog.text


def test_a_retention_under_a_day_is_refused_before_anything_is_opened(tmp_path):
    with pytest.raises(ValueError, match="FAQBOT_RETENTION_DAYS must be at least 1"):
        ChatLog.open(Settings(db=tmp_path / "faqbot.sqlite3", retention_days=0))
    assert not (tmp_path / "faqbot.sqlite3").exists()


@pytest.mark.parametrize("url", ["sqlite:///data/faqbot.sqlite3", "mysql://staff:s3cret@db.clinic.example:3306/faqbot"])
def test_a_database_url_it_cannot_use_stops_the_start_instead_of_making_a_folder(tmp_path, monkeypatch, url):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"FAQBOT_DB": url})
    with pytest.raises(ValueError, match=r"FAQBOT_DB=.* is a URL this bot cannot use.*SQLite file.*postgresql://") as caught:
        ChatLog.open(settings)
    assert "s3cret" not in str(caught.value)
    with pytest.raises(StorageError, match="cannot use"):
        Store(settings.db)
    assert list(tmp_path.iterdir()) == []  # no folder named "sqlite:"


def test_a_postgresql_url_is_read_whole_and_its_password_never_shown(monkeypatch):
    url = "postgresql://staff:s3cret@db.clinic.example:5432/faqbot"
    assert Settings.from_env({"FAQBOT_DB": url}).db == url  # not a path with its "//" collapsed
    assert shown_db(url) == "postgresql://staff:…@db.clinic.example:5432/faqbot"
    assert shown_db("postgresql://staff@db/faqbot") == "postgresql://staff@db/faqbot"


# --- the same interface on PostgreSQL: the staff's records -----------------------------------------


def test_fixes_and_the_log_export_read_the_same_on_both_engines(store):
    asked = Exchange.of("widget", "do you take HSA cards?", ABSTAINED, 0.01)
    store.add_many([asked, Exchange.of("api", "how much?", ANSWERED, 0.01)])
    store.add_feedback(asked.id, -1, "call me at 555-123-4567")
    first = add_fix(store, "pat", "answer", ["do you take HSA cards?"], 1, section="a.md#cost")
    second = add_fix(store, "sam", "not_for_bot", ["weather?"], 2)
    mark_undone(store, first, "sam")
    assert [f.id for f in fixes(store)] == [second, first] and [f.id for f in fixes(store, active_only=True)] == [second]
    assert get_fix(store, first).undone_by == "sam" and get_fix(store, first).phrasings == ("do you take HSA cards?",)
    exported = list(log_rows(store))
    assert [(r["message"], r["outcome"], r["rating"], r["comment"]) for r in exported] == [
        ("do you take HSA cards?", "abstained", -1, "call me at [phone]"), ("how much?", "answered", None, None)]
    [miss] = misses(store)
    assert (miss.question, miss.count, miss.channels) == ("do you take HSA cards?", 1, ("widget",))
    store.add(asked)  # a batch retried after a lost acknowledgement writes nothing twice
    assert len(store.exchanges()) == 2


def test_an_unreachable_postgresql_is_served_around_and_the_reason_shown(caplog):
    # Nothing listens on port 1: the bot still starts, and says why the log is degraded.
    with caplog.at_level(logging.WARNING, logger="bot.store"):
        log = ChatLog(Store("postgresql://faqbot:s3cret@127.0.0.1:1/faqbot"))
        assert log.record("widget", "how much does it cost?", ANSWERED, 0.01) is not None
        assert not log.flush(timeout=15)
    status = log.status()
    assert status.state == "degraded" and status.pending == 1 and status.engine == "postgresql"
    assert "refused" in status.error.lower() and "s3cret" not in status.error  # the cause, not "waited 2 s"
    assert "s3cret" not in caplog.text
    log.close(timeout=5)


# --- suggestions: the kind of reply and the visitor's pick (issue 25) ---------------------------------


def test_a_suggestions_reply_and_the_visitors_pick_are_stored_and_read_back(log):
    log.record("widget", "can I pay with my HSA card?", SUGGESTED, 0.03)
    log.record("widget", "can I pay with my HSA card?", PICKED_COST, 0.02)  # the widget asks again with the section
    assert log.flush()
    picked, offered = log.store.exchanges()  # newest first
    assert offered.kind is ReplyKind.SUGGESTIONS and offered.abstained and offered.sections == ()
    assert offered.suggestions == (Offered(COST_KEY, "How much does ketamine infusion cost?"),
                                   Offered("corpus/a.md#is-ketamine-infusion-covered-by-insurance", "Is ketamine infusion covered by insurance?"))
    assert offered.picked is None and offered.picked_section is None
    assert picked.kind is ReplyKind.ANSWER and not picked.abstained and picked.suggestions == ()
    assert (picked.picked, picked.picked_section) == (COST_KEY, "How much does ketamine infusion cost?")
    exported = list(log_rows(log.store))
    assert [(r["outcome"], r["kind"], r["suggested_sections"], r["picked_section"]) for r in exported] == [
        ("abstained", "suggestions", "How much does ketamine infusion cost?; Is ketamine infusion covered by insurance?", None),
        ("answered", "answer", "", "How much does ketamine infusion cost?"),
    ]


def test_with_question_logging_off_the_kind_and_the_sections_are_kept_but_no_question(target):
    log = ChatLog(Store(target), log_questions=False)
    log.record("widget", "can ketamine help my bipolar? I can pay with HSA", SUGGESTED, 0.01)
    log.record("widget", "can ketamine help my bipolar? I can pay with HSA", PICKED_COST, 0.01)
    log.close()
    picked, offered = log.store.exchanges()
    assert offered.question is None and picked.question is None
    assert offered.kind is ReplyKind.SUGGESTIONS and len(offered.suggestions) == 2
    assert picked.picked_section == "How much does ketamine infusion cost?"
    assert all(r["question_key"] is None and r["reason"] is None for r in rows(log.store))
    assert misses(log.store) == []  # nothing to group without the question


def test_unanswered_questions_count_the_sections_visitors_picked_after_suggestions(store):
    now = datetime.now(UTC)
    for minutes_ago, question, reply, channel in [
        (9, "Can I pay with my HSA card?", SUGGESTED, "widget"),
        (8, "Can I pay with my HSA card?", PICKED_COST, "widget"),
        (7, "can i pay with my hsa card", SUGGESTED, "api"),
        (6, "can i pay with my hsa card", PICKED_COST, "api"),
        (5, "can I pay with my HSA card??", SUGGESTED, "widget"),
        (4, "can I pay with my HSA card??", Reply("Some insurance companies...", ReplyKind.ANSWER, (INSURANCE,),
                                                  picked="corpus/a.md#is-ketamine-infusion-covered-by-insurance"), "widget"),
        (3, "can I pay with my HSA card?", PICKED_COST, "staff"),  # staff trying it out: not a visitor's pick
        (2, "what's the weather?", ABSTAINED, "widget"),
    ]:
        store.add(Exchange.of(channel, question, reply, 0.01, at=now - timedelta(minutes=minutes_ago)))
    hsa, weather = misses(store)
    assert (hsa.count, hsa.suggested) == (3, 3)  # the picks are answers, not more misses
    assert hsa.picks == (Pick(COST_KEY, "How much does ketamine infusion cost?", 2),
                         Pick("corpus/a.md#is-ketamine-infusion-covered-by-insurance", "Is ketamine infusion covered by insurance?", 1))
    assert (weather.count, weather.suggested, weather.picks) == (1, 0, ())


def schema_3_log(target: str, old_rows: list[tuple]) -> None:
    """A question log as the bot before suggestions left it: schema 3, with ``old_rows`` in
    its answers columns."""
    insert = ("INSERT INTO answers (id, at, channel, question, question_key, abstained, crisis, sections, latency_ms, answer, reason) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:
            for step in POSTGRES_MIGRATIONS[:3]:
                conn.execute(step)
            conn.execute("CREATE TABLE faqbot_schema (version INTEGER NOT NULL)")
            conn.execute("INSERT INTO faqbot_schema (version) VALUES (3)")
            with conn.cursor() as cur:
                cur.executemany(insert.replace("?", "%s"), old_rows)
        return
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(target)
    for step in SQLITE_MIGRATIONS[:3]:
        conn.executescript(step)
    conn.execute("PRAGMA user_version = 3")
    conn.executemany(insert, old_rows)
    conn.commit()
    conn.close()


def test_a_log_from_before_suggestions_is_migrated_and_keeps_its_rows(target):
    at = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    schema_3_log(target, [
        ("a1", at, "widget", "how much?", "how much", 0, 0, '["How much does ketamine infusion cost?"]', 12.0, "About $450.", "covers it"),
        ("a2", at, "widget", "do you take HSA?", "do you take hsa", 1, 0, "[]", 9.0, "Sorry.", "missing: hsa"),
        ("a3", at, "api", "I want to die", "i want to die", 0, 1, "[]", 3.0, "Please call or text 988.", "crisis"),
    ])
    store = Store(target)
    assert store.schema_version() == SCHEMA_VERSION == 4
    old = {e.id: e for e in store.exchanges()}
    assert {i: e.kind for i, e in old.items()} == {"a1": ReplyKind.ANSWER, "a2": ReplyKind.ABSTENTION, "a3": ReplyKind.CRISIS}
    assert old["a1"].question == "how much?" and old["a1"].sections == ("How much does ketamine infusion cost?",)
    assert all(e.suggestions == () and e.picked is None for e in old.values())
    assert sorted((m.question, m.suggested, m.picks) for m in misses(store)) == [("I want to die", 0, ()), ("do you take HSA?", 0, ())]
    assert [r["kind"] for r in log_rows(store)] == ["answer", "abstention", "crisis"]
    store.add(Exchange.of("widget", "do you take HSA?", SUGGESTED, 0.01))  # new rows beside the old
    assert store.exchanges()[0].kind is ReplyKind.SUGGESTIONS and misses(store)[0].count == 2
    store.close()
