"""The question log: every answered message and the staff's feedback, in SQLite.

Two layers, like sqlite-utils' ``Database`` under llm's logging:

- :class:`Store` is the database file (``FAQBOT_DB``, default ``data/faqbot.sqlite3``):
  created on first use, schema migrated by number (``PRAGMA user_version``), and the
  queries behind the staff console (unanswered questions, feedback, questions per day,
  most cited sections).
- :class:`ChatLog` sits in front of it for the servers: ``record()`` hands an answered
  message to one background writer thread through a bounded queue and returns at once
  (the writer writes queued rows in bursts, several times a second), so writing the log
  never slows or breaks an answer. A failed write is logged (once per
  run of failures) and dropped.

Privacy, because visitors ask health questions: emails and phone numbers are redacted
before a question is stored (:mod:`bot.store.redact`); with ``FAQBOT_LOG_QUESTIONS=0`` no question
text is stored at all (the row keeps only time, channel, outcome, cited sections and
latency, which the charts need); rows older than ``FAQBOT_RETENTION_DAYS`` are deleted, with
their feedback, at start-up and every hour.

"The same question" for the Unanswered list: questions are normalised (Unicode NFKC, lower
case, punctuation dropped, spaces collapsed), rows with the same normalised text are one
group, and groups whose texts are near-duplicates (rapidfuzz ``token_sort_ratio`` >= 90:
the same words in another order, or a typo or two) are merged into the more frequent one.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import sqlite3
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rapidfuzz import fuzz

from bot.errors import BotError
from bot.replies import Reply
from bot.settings import Settings
from bot.store.redact import redact

logger = logging.getLogger(__name__)

CHANNELS = ("widget", "api", "staff")
VISITOR_CHANNELS = ("widget", "api")
# The website widget sends this header with the value "widget"; other API callers are "api".
CHANNEL_HEADER = "X-FAQBot-Channel"
SIMILAR = 90  # rapidfuzz token_sort_ratio at or above which two questions are the same
PURGE_EVERY = 3600.0  # seconds between purges of old rows
WRITE_EVERY = 0.2  # seconds the log writer sleeps between bursts of answered messages
_TIME = "%Y-%m-%d %H:%M:%S"  # UTC; sorts as text, and SQLite's date functions read it

MIGRATIONS: tuple[str, ...] = (
    # 1: answered messages and feedback on them
    """
    CREATE TABLE answers (
        id TEXT PRIMARY KEY,            -- uuid4 hex, known before the row is written
        at TEXT NOT NULL,               -- UTC, 'YYYY-MM-DD HH:MM:SS'
        channel TEXT NOT NULL,          -- widget | api | staff
        question TEXT,                  -- redacted; NULL when question logging is off
        question_key TEXT,              -- normalised question, for grouping
        abstained INTEGER NOT NULL,
        crisis INTEGER NOT NULL,
        sections TEXT NOT NULL,         -- JSON list of the cited sections' headings
        latency_ms REAL NOT NULL,
        answer TEXT NOT NULL,           -- the reply (the clinic's own sentences)
        reason TEXT                     -- why it answered or abstained; NULL with the question
    );
    CREATE INDEX answers_at ON answers (at);
    CREATE INDEX answers_abstained ON answers (abstained, question_key);
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        answer_id TEXT NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
        comment TEXT                    -- redacted
    );
    CREATE INDEX feedback_at ON feedback (at);
    CREATE INDEX feedback_answer ON feedback (answer_id);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class StorageError(BotError):
    """The question log cannot be opened or written; the message says what to do."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime(_TIME)


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, _TIME).replace(tzinfo=UTC)


_APOSTROPHE = re.compile(r"['\u2019]")
_NOT_WORD = re.compile(r"[\W_]+")


def question_key(question: str) -> str:
    """The question as grouped: NFKC, lower case, punctuation dropped ("what's" is
    "whats"), spaces collapsed."""
    text = _APOSTROPHE.sub("", unicodedata.normalize("NFKC", question).casefold())
    return " ".join(_NOT_WORD.sub(" ", text).split())


def channel_from_headers(headers: Mapping[str, str]) -> str:
    """``"widget"`` when the request carries ``X-FAQBot-Channel: widget``, else ``"api"``."""
    value = headers.get(CHANNEL_HEADER) or headers.get(CHANNEL_HEADER.lower()) or ""
    return "widget" if value.strip().lower() == "widget" else "api"


@dataclass(frozen=True, slots=True)
class Exchange:
    """One answered message, as stored."""

    id: str
    at: datetime
    channel: str
    question: str | None
    abstained: bool
    crisis: bool
    sections: tuple[str, ...]
    latency_ms: float
    answer: str
    reason: str | None = None

    @classmethod
    def of(cls, channel: str, question: str | None, reply: Reply, seconds: float, *, id: str | None = None, at: datetime | None = None) -> Exchange:
        """The row for ``reply`` to ``question`` (already redacted, or None to store none)."""
        if channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
        sections = tuple(dict.fromkeys(c.section for c in reply.citations))
        return cls(
            id=id or uuid.uuid4().hex,
            at=at or utcnow(),
            channel=channel,
            question=question,
            abstained=reply.abstained,
            crisis=reply.crisis,
            sections=sections,
            latency_ms=round(seconds * 1000, 1),
            answer=reply.answer,
            reason=redact(reply.reason) if question is not None and reply.reason else None,
        )


@dataclass(frozen=True, slots=True)
class UnansweredQuestion:
    """Visitors' abstained questions that are "the same question", most recent wording first."""

    question: str
    count: int
    last_seen: datetime
    wordings: tuple[str, ...]  # the other wordings merged into this one
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    id: int
    at: datetime
    rating: int  # 1 or -1
    comment: str | None
    answer_id: str
    channel: str
    question: str | None
    answer: str
    abstained: bool
    crisis: bool
    sections: tuple[str, ...]
    reason: str | None


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    questions: int
    abstained: int
    crisis: int

    @property
    def abstained_share(self) -> float | None:
        return self.abstained / self.questions if self.questions else None


@dataclass(frozen=True, slots=True)
class SectionCount:
    section: str
    citations: int


class Store:
    """The SQLite file of the question log, usable from any thread. Reads (the console's,
    rare) open a short-lived connection each; writes share one kept-open connection behind a
    lock, in WAL mode with ``synchronous=NORMAL``: a commit appends to the write-ahead log
    without waiting for the disk (synced at checkpoints), so logging an answer costs tens of
    microseconds instead of an open and an fsync. A power cut can lose the last moments of
    the log, never corrupt it. The console reads while the log writes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._write_lock = threading.Lock()
        self._write_conn: sqlite3.Connection | None = None
        self._write_file: tuple[int, int] | None = None  # (device, inode) it was opened on
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                self._migrate(conn)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: cannot open the question log ({exc}); set FAQBOT_DB to a writable file") from None
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot create its folder ({exc}); set FAQBOT_DB to a writable file") from None

    @contextmanager
    def _connect(self):
        conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _writing(self):
        """The kept-open write connection, one writer at a time; reopened after an error."""
        with self._write_lock:
            if self._write_conn is not None and _file_id(self.path) != self._write_file:
                # The file was moved or deleted under the open connection: rows written
                # through it would go to a file nobody reads. Write where FAQBOT_DB points.
                logger.warning("question log: %s was moved or deleted; opening it again", self.path)
                self._close_writer()
            if self._write_conn is None:
                conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
                try:
                    conn.execute("PRAGMA foreign_keys=ON")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.execute("PRAGMA journal_mode=WAL")
                    self._migrate(conn)  # a deleted log comes back with its tables
                except sqlite3.Error:
                    conn.close()
                    raise
                self._write_conn, self._write_file = conn, _file_id(self.path)
            try:
                yield self._write_conn
            except sqlite3.Error:
                self._close_writer()
                raise

    def _close_writer(self) -> None:
        if self._write_conn is not None:
            try:
                self._write_conn.close()
            finally:
                self._write_conn = None

    def close(self) -> None:
        """Close the write connection (the next write opens it again)."""
        with self._write_lock:
            self._close_writer()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path} has schema version {version}, newer than this bot's {SCHEMA_VERSION}: "
                "upgrade the bot, or set FAQBOT_DB to another file"
            )
        for number in range(version + 1, SCHEMA_VERSION + 1):
            # executescript would commit on its own; one BEGIN ... COMMIT makes each step atomic.
            conn.executescript(f"BEGIN;\n{MIGRATIONS[number - 1]}\nPRAGMA user_version = {number};\nCOMMIT;")
            logger.info("question log %s: migrated to schema version %d", self.path, number)

    def schema_version(self) -> int:
        with self._connect() as conn:
            return conn.execute("PRAGMA user_version").fetchone()[0]

    # --- writes -------------------------------------------------------------------------

    def add(self, exchange: Exchange) -> None:
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO answers (id, at, channel, question, question_key, abstained, crisis, sections, latency_ms, answer, reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    exchange.id,
                    _stamp(exchange.at),
                    exchange.channel,
                    exchange.question,
                    question_key(exchange.question) if exchange.question is not None else None,
                    int(exchange.abstained),
                    int(exchange.crisis),
                    json.dumps(list(exchange.sections), ensure_ascii=False),
                    exchange.latency_ms,
                    exchange.answer,
                    exchange.reason,
                ),
            )

    def add_feedback(self, answer_id: str, rating: int, comment: str | None = None, at: datetime | None = None) -> int:
        """Store a thumbs up (1) or down (-1) on an answer; the comment is redacted."""
        _check_rating(rating)
        with self._writing() as conn:
            try:
                cur = conn.execute(
                    "INSERT INTO feedback (answer_id, at, rating, comment) VALUES (?, ?, ?, ?)",
                    (answer_id, _stamp(at or utcnow()), rating, _comment(comment)),
                )
            except sqlite3.IntegrityError:
                raise StorageError(f"there is no stored answer {answer_id!r} to give feedback on (it may not have been logged)") from None
            return int(cur.lastrowid)

    def update_feedback(self, feedback_id: int, rating: int | None = None, comment: str | None = None) -> None:
        """Change the rating and/or the comment of a feedback row (None leaves it as is)."""
        with self._writing() as conn:
            if rating is not None:
                _check_rating(rating)
                conn.execute("UPDATE feedback SET rating = ? WHERE id = ?", (rating, feedback_id))
            if comment is not None:
                conn.execute("UPDATE feedback SET comment = ? WHERE id = ?", (_comment(comment), feedback_id))

    def delete_feedback(self, feedback_id: int) -> None:
        with self._writing() as conn:
            conn.execute("DELETE FROM feedback WHERE id = ?", (feedback_id,))

    def purge(self, retention_days: int, now: datetime | None = None) -> int:
        """Delete answers (and their feedback) older than ``retention_days``; how many."""
        cutoff = _stamp((now or utcnow()) - timedelta(days=retention_days))
        with self._writing() as conn:
            return conn.execute("DELETE FROM answers WHERE at < ?", (cutoff,)).rowcount

    # --- reads for the console -----------------------------------------------------------

    def exchanges(self, limit: int = 100) -> list[Exchange]:
        """The most recent answered messages, newest first."""
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM answers ORDER BY at DESC, rowid DESC LIMIT ?", (limit,)).fetchall()
        return [
            Exchange(r["id"], _parse(r["at"]), r["channel"], r["question"], bool(r["abstained"]), bool(r["crisis"]),
                     tuple(json.loads(r["sections"])), r["latency_ms"], r["answer"], r["reason"])
            for r in rows
        ]

    def unanswered(self, limit: int = 100, channels: Iterable[str] = VISITOR_CHANNELS) -> list[UnansweredQuestion]:
        """Abstained questions, grouped as the module docstring says, most asked first."""
        channels = tuple(channels)
        marks = ",".join("?" * len(channels))
        with self._connect() as conn:
            rows = conn.execute(
                f"""
                WITH asked AS (
                    SELECT rowid AS r, question_key, question, at, channel FROM answers
                    WHERE abstained = 1 AND crisis = 0 AND question_key IS NOT NULL AND question_key != ''
                    AND channel IN ({marks})
                ),
                latest AS (  -- the latest wording of each normalised question
                    SELECT question_key, question, row_number() OVER (PARTITION BY question_key ORDER BY at DESC, r DESC) AS k
                    FROM asked
                )
                SELECT a.question_key, l.question, max(a.at) AS last, count(*) AS n, group_concat(DISTINCT a.channel) AS chans
                FROM asked a JOIN latest l ON l.question_key = a.question_key AND l.k = 1
                GROUP BY a.question_key ORDER BY n DESC, last DESC
                """,
                channels,
            ).fetchall()
        groups: list[dict] = []
        for row in rows:
            home = next((g for g in groups if fuzz.token_sort_ratio(g["key"], row["question_key"]) >= SIMILAR), None)
            if home is None:
                groups.append({"key": row["question_key"], "question": row["question"], "last": row["last"], "count": row["n"],
                               "wordings": [], "channels": set(row["chans"].split(","))})
                continue
            home["count"] += row["n"]
            home["wordings"].append(row["question"])
            home["channels"].update(row["chans"].split(","))
            if row["last"] > home["last"]:
                home["last"] = row["last"]
        groups.sort(key=lambda g: (g["count"], g["last"]), reverse=True)
        return [
            UnansweredQuestion(g["question"], g["count"], _parse(g["last"]), tuple(g["wordings"]), tuple(sorted(g["channels"])))
            for g in groups[:limit]
        ]

    def feedback(self, limit: int = 200, only_negative: bool = False) -> list[FeedbackItem]:
        """Feedback with the answer it is about, newest first."""
        where = "WHERE f.rating = -1" if only_negative else ""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT f.id, f.at, f.rating, f.comment, f.answer_id, a.channel, a.question, a.answer, a.abstained, a.crisis, "
                f"a.sections, a.reason FROM feedback f JOIN answers a ON a.id = f.answer_id {where} "
                "ORDER BY f.at DESC, f.id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            FeedbackItem(r["id"], _parse(r["at"]), r["rating"], r["comment"], r["answer_id"], r["channel"], r["question"], r["answer"],
                         bool(r["abstained"]), bool(r["crisis"]), tuple(json.loads(r["sections"])), r["reason"])
            for r in rows
        ]

    def daily(self, days: int = 30, channels: Iterable[str] = VISITOR_CHANNELS, today: date | None = None) -> list[DayCount]:
        """Questions, abstentions and crisis replies per UTC day, oldest first, one entry per
        day of the last ``days`` (zero on quiet days)."""
        today = today or utcnow().date()
        first = today - timedelta(days=days - 1)
        channels = tuple(channels)
        marks = ",".join("?" * len(channels))
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT substr(at, 1, 10) AS day, count(*) AS n, sum(abstained) AS ab, sum(crisis) AS cr FROM answers "
                f"WHERE at >= ? AND channel IN ({marks}) GROUP BY day",
                (first.isoformat(), *channels),
            ).fetchall()
        found = {r["day"]: r for r in rows}
        out = []
        for i in range(days):
            day = first + timedelta(days=i)
            r = found.get(day.isoformat())
            out.append(DayCount(day, r["n"], r["ab"], r["cr"]) if r else DayCount(day, 0, 0, 0))
        return out

    def top_sections(self, days: int = 30, limit: int = 10, channels: Iterable[str] = VISITOR_CHANNELS, now: datetime | None = None) -> list[SectionCount]:
        """The sections cited most often in the last ``days``, most cited first."""
        since = _stamp((now or utcnow()) - timedelta(days=days))
        channels = tuple(channels)
        marks = ",".join("?" * len(channels))
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT s.value AS section, count(*) AS n FROM answers a, json_each(a.sections) s "
                f"WHERE a.at >= ? AND a.channel IN ({marks}) GROUP BY s.value ORDER BY n DESC, section LIMIT ?",
                (since, *channels, limit),
            ).fetchall()
        return [SectionCount(r["section"], r["n"]) for r in rows]


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _check_retention(days: int) -> None:
    if days < 1:
        raise ValueError(f"FAQBOT_RETENTION_DAYS must be at least 1 (days), not {days}")


def _check_rating(rating: int) -> None:
    if rating not in (1, -1):
        raise ValueError(f"rating must be 1 (thumbs up) or -1 (thumbs down), not {rating!r}")


def _comment(comment: str | None) -> str | None:
    comment = (comment or "").strip()
    return redact(comment) if comment else None


_STOP = object()


class ChatLog:
    """Records answered messages in a :class:`Store` from one background writer thread.

    ``record()`` never blocks and never raises: when the queue is full or a write fails the
    row is dropped and the failure logged once until writes succeed again. Feedback goes
    through the same queue (so it always lands after the answer it refers to) and waits for
    its write, because the staff member is told whether it was stored.
    """

    def __init__(self, store: Store | None, *, log_questions: bool = True, retention_days: int = 30,
                 max_queue: int = 1000, error: str | None = None) -> None:
        _check_retention(retention_days)
        self.store = store
        self.log_questions = log_questions
        self.retention_days = retention_days
        self.error = error  # why there is no store, for the console
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._failing = False
        self._dropping = False
        self._last_purge = 0.0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        if store is not None:
            self._thread = threading.Thread(target=self._run, name="chat-log-writer", daemon=True)
            self._thread.start()

    @classmethod
    def open(cls, settings: Settings) -> ChatLog:
        """The log at ``settings.db``; if it cannot be opened, a log that stores nothing
        (and says why in the console) so the bot still serves. Raises ValueError for a
        retention of less than a day."""
        _check_retention(settings.retention_days)
        try:
            store = Store(settings.db)
        except StorageError as exc:
            logger.error("question log disabled: %s", exc)
            return cls(None, log_questions=settings.log_questions, retention_days=settings.retention_days, error=str(exc))
        logger.info("question log: %s (questions %s, kept %d days)", settings.db,
                    "logged, redacted" if settings.log_questions else "not logged", settings.retention_days)
        return cls(store, log_questions=settings.log_questions, retention_days=settings.retention_days)

    @property
    def enabled(self) -> bool:
        return self.store is not None

    def record(self, channel: str, question: str, reply: Reply, seconds: float) -> str | None:
        """Queue one answered message; its id (for feedback), or None if it is not logged."""
        if self.store is None:
            return None
        try:
            answer_id = uuid.uuid4().hex
            at = utcnow()
            self._put(lambda: self.store.add(self._exchange(answer_id, at, channel, question, reply, seconds)), None)
            return answer_id
        except Exception:  # the visitor gets the reply whatever happens here
            logger.exception("could not queue an answered message for the question log")
            return None

    def _exchange(self, answer_id: str, at: datetime, channel: str, question: str, reply: Reply, seconds: float) -> Exchange:
        stored = redact(question) if self.log_questions else None
        return Exchange.of(channel, stored, reply, seconds, id=answer_id, at=at)

    def add_feedback(self, answer_id: str, rating: int, comment: str | None = None, timeout: float = 10.0) -> int:
        """Store feedback on a logged answer and return its id; raises StorageError."""
        return self._call(self._store().add_feedback, answer_id, rating, comment, timeout=timeout)

    def update_feedback(self, feedback_id: int, rating: int | None = None, comment: str | None = None, timeout: float = 10.0) -> None:
        self._call(self._store().update_feedback, feedback_id, rating, comment, timeout=timeout)

    def delete_feedback(self, feedback_id: int, timeout: float = 10.0) -> None:
        self._call(self._store().delete_feedback, feedback_id, timeout=timeout)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued write is done; False on timeout or without a store."""
        if self.store is None:
            return False
        try:
            self._call(lambda: None, timeout=timeout)
        except StorageError:
            return False
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer."""
        if self._thread is None:
            return
        try:
            self._queue.put((_STOP, None), timeout=timeout)
            self._wake.set()
        except queue.Full:
            logger.warning("question log: the queue did not drain; %d rows are lost", self._queue.qsize())
            return
        self._thread.join(timeout)
        self._thread = None
        if self.store is not None:
            self.store.close()

    # --- the writer ----------------------------------------------------------------------

    def _store(self) -> Store:
        if self.store is None:
            raise StorageError(f"feedback cannot be stored: {self.error or 'the question log is off'}")
        return self.store

    def _call(self, fn: Callable, *args, timeout: float):
        future: Future = Future()
        try:
            self._queue.put((lambda: fn(*args), future), timeout=timeout)
            self._wake.set()
            return future.result(timeout)
        except (queue.Full, TimeoutError):
            raise StorageError("the question log is busy; try again in a moment") from None

    def _put(self, job: Callable[[], object], future: Future | None) -> None:
        try:
            self._queue.put_nowait((job, future))
        except queue.Full:
            if not self._dropping:
                logger.warning("question log: the write queue is full; dropping rows until it drains")
                self._dropping = True
        else:
            self._dropping = False

    def _run(self) -> None:
        """Write what is queued, then sleep until woken or ``WRITE_EVERY`` seconds pass.

        Answered messages do not wake the writer (``record()`` only queues): a wake-up per
        answer would take the interpreter from the next request's thread every time. Rows
        are written in bursts a few times a second instead; feedback, ``flush()`` and
        ``close()`` wake it at once, since someone waits for them."""
        self._purge()
        while True:
            try:
                job, future = self._queue.get_nowait()
            except queue.Empty:
                self._wake.wait(WRITE_EVERY)
                self._wake.clear()
                job, future = None, None
            if job is _STOP:
                return
            if job is not None:
                self._do(job, future)
            if time.monotonic() - self._last_purge > PURGE_EVERY:
                self._purge()

    def _do(self, job: Callable[[], object], future: Future | None) -> None:
        try:
            result = job()
        except Exception as exc:
            if future is not None:
                future.set_exception(exc if isinstance(exc, StorageError | ValueError) else StorageError(f"the question log could not be written ({exc})"))
            elif not self._failing:
                logger.exception("question log: a write failed; answers are served but not logged until writes succeed again")
                self._failing = True
        else:
            if future is not None:
                future.set_result(result)
            elif self._failing:
                logger.info("question log: writing again")
                self._failing = False

    def _purge(self) -> None:
        self._last_purge = time.monotonic()
        try:
            removed = self.store.purge(self.retention_days)
        except Exception:
            logger.exception("question log: could not delete rows older than %d days", self.retention_days)
            return
        if removed:
            logger.info("question log: deleted %d rows older than %d days", removed, self.retention_days)
