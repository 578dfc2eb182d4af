"""The question log in SQLite: the database file, its schema and the console's queries.

:class:`Store` is the database file (``FAQBOT_DB``, default ``data/faqbot.sqlite3``), like
sqlite-utils' ``Database`` under llm's logging: created on first use, schema migrated by
number (``PRAGMA user_version``), and the queries behind the staff console (feedback,
questions per day, most cited sections; what went unanswered and the fixes are in
:mod:`bot.store.curation`). The servers write through
:class:`bot.store.chatlog.ChatLog`, never directly.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.store.records import (
    VISITOR_CHANNELS,
    DayCount,
    Exchange,
    FeedbackItem,
    SectionCount,
    StorageError,
    check_db_path,
    check_rating,
    question_key,
    utcnow,
)
from bot.store.redact import redact
from bot.store.schema import MIGRATIONS, SCHEMA_VERSION

logger = logging.getLogger(__name__)

_TIME = "%Y-%m-%d %H:%M:%S"  # UTC; sorts as text, and SQLite's date functions read it



def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime(_TIME)


def parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, _TIME).replace(tzinfo=UTC)


class Store:
    """The SQLite file of the question log, usable from any thread. Reads (the console's,
    rare) open a short-lived connection each; writes share one kept-open connection behind a
    lock, in WAL mode with ``synchronous=NORMAL``: a commit appends to the write-ahead log
    without waiting for the disk (synced at checkpoints), so logging an answer costs tens of
    microseconds instead of an open and an fsync. A power cut can lose the last moments of
    the log, never corrupt it. The console reads while the log writes."""

    def __init__(self, path: Path | str) -> None:
        check_db_path(path)
        self.path = Path(path)
        self._write_lock = threading.Lock()
        self._write_conn: sqlite3.Connection | None = None
        self._write_file: tuple[int, int] | None = None  # (device, inode) it was opened on
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.reading() as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                self._migrate(conn)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: cannot open the question log ({exc}); set FAQBOT_DB to a writable file") from None
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot create its folder ({exc}); set FAQBOT_DB to a writable file") from None

    @contextmanager
    def reading(self):
        conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def writing(self):
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
        with self.reading() as conn:
            return conn.execute("PRAGMA user_version").fetchone()[0]

    # --- writes -------------------------------------------------------------------------

    def add(self, exchange: Exchange) -> None:
        with self.writing() as conn:
            conn.execute(
                "INSERT INTO answers (id, at, channel, question, question_key, abstained, crisis, sections, latency_ms, answer, reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    exchange.id,
                    stamp(exchange.at),
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
        check_rating(rating)
        with self.writing() as conn:
            try:
                cur = conn.execute(
                    "INSERT INTO feedback (answer_id, at, rating, comment) VALUES (?, ?, ?, ?)",
                    (answer_id, stamp(at or utcnow()), rating, _comment(comment)),
                )
            except sqlite3.IntegrityError:
                raise StorageError(f"there is no stored answer {answer_id!r} to give feedback on (it may not have been logged)") from None
            return int(cur.lastrowid)

    def update_feedback(self, feedback_id: int, rating: int | None = None, comment: str | None = None) -> None:
        """Change the rating and/or the comment of a feedback row (None leaves it as is)."""
        with self.writing() as conn:
            if rating is not None:
                check_rating(rating)
                conn.execute("UPDATE feedback SET rating = ? WHERE id = ?", (rating, feedback_id))
            if comment is not None:
                conn.execute("UPDATE feedback SET comment = ? WHERE id = ?", (_comment(comment), feedback_id))

    def delete_feedback(self, feedback_id: int) -> None:
        with self.writing() as conn:
            conn.execute("DELETE FROM feedback WHERE id = ?", (feedback_id,))

    def purge(self, retention_days: int, now: datetime | None = None) -> int:
        """Delete answers (and their feedback) older than ``retention_days``; how many."""
        cutoff = stamp((now or utcnow()) - timedelta(days=retention_days))
        with self.writing() as conn:
            return conn.execute("DELETE FROM answers WHERE at < ?", (cutoff,)).rowcount

    # --- reads for the console -----------------------------------------------------------

    def exchanges(self, limit: int = 100) -> list[Exchange]:
        """The most recent answered messages, newest first."""
        with self.reading() as conn:
            rows = conn.execute("SELECT * FROM answers ORDER BY at DESC, rowid DESC LIMIT ?", (limit,)).fetchall()
        return [
            Exchange(r["id"], parse_stamp(r["at"]), r["channel"], r["question"], bool(r["abstained"]), bool(r["crisis"]),
                     tuple(json.loads(r["sections"])), r["latency_ms"], r["answer"], r["reason"])
            for r in rows
        ]

    def feedback(self, limit: int = 200, only_negative: bool = False) -> list[FeedbackItem]:
        """Feedback with the answer it is about, newest first."""
        where = "WHERE f.rating = -1" if only_negative else ""
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT f.id, f.at, f.rating, f.comment, f.answer_id, a.channel, a.question, a.answer, a.abstained, a.crisis, "
                f"a.sections, a.reason FROM feedback f JOIN answers a ON a.id = f.answer_id {where} "
                "ORDER BY f.at DESC, f.id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            FeedbackItem(r["id"], parse_stamp(r["at"]), r["rating"], r["comment"], r["answer_id"], r["channel"], r["question"], r["answer"],
                         bool(r["abstained"]), bool(r["crisis"]), tuple(json.loads(r["sections"])), r["reason"])
            for r in rows
        ]

    def daily(self, days: int = 30, channels: Iterable[str] = VISITOR_CHANNELS, today: date | None = None) -> list[DayCount]:
        """Questions, abstentions and crisis replies per UTC day, oldest first, one entry per
        day of the last ``days`` (zero on quiet days)."""
        today = today or utcnow().date()
        first = today - timedelta(days=days - 1)
        channels, marks = placeholders(channels)
        with self.reading() as conn:
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
        since = stamp((now or utcnow()) - timedelta(days=days))
        channels, marks = placeholders(channels)
        with self.reading() as conn:
            rows = conn.execute(
                f"SELECT s.value AS section, count(*) AS n FROM answers a, json_each(a.sections) s "
                f"WHERE a.at >= ? AND a.channel IN ({marks}) GROUP BY s.value ORDER BY n DESC, section LIMIT ?",
                (since, *channels, limit),
            ).fetchall()
        return [SectionCount(r["section"], r["n"]) for r in rows]


def placeholders(channels: Iterable[str]) -> tuple[tuple[str, ...], str]:
    """The channels as query parameters, and the ``?, ?`` their ``IN (...)`` needs."""
    channels = tuple(channels)
    return channels, ",".join("?" * len(channels))


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _comment(comment: str | None) -> str | None:
    comment = (comment or "").strip()
    return redact(comment) if comment else None
