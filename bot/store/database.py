"""The question log's queries: what the servers write and the staff console reads.

:class:`Store` is the database ``FAQBOT_DB`` names, like sqlite-utils' ``Database`` under
llm's logging: a SQLite file by default (:mod:`bot.store.sqlite`, created on first use), or
a PostgreSQL database that several replicas share (:mod:`bot.store.postgres`); either is
migrated by number on first use (:mod:`bot.store.schema`). One set of queries serves both:
the few places where the engines' SQL differs are the engine's attributes
(``row_order``, ``section_items``, ``concat_distinct``). What went unanswered and the fixes
are in :mod:`bot.store.curation`. The servers write through
:class:`bot.store.chatlog.ChatLog`, never directly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.store.records import (
    VISITOR_CHANNELS,
    DayCount,
    Exchange,
    FeedbackItem,
    Offered,
    SectionCount,
    StorageError,
    check_db_path,
    check_rating,
    is_postgres_url,
    question_key,
    utcnow,
)
from bot.store.redact import redact
from bot.store.sqlite import SQLiteDatabase

logger = logging.getLogger(__name__)

_TIME = "%Y-%m-%d %H:%M:%S"  # UTC; sorts as text, and SQLite's date functions read it



def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime(_TIME)


def parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, _TIME).replace(tzinfo=UTC)


class Store:
    """The question log's queries, on the database ``FAQBOT_DB`` names: a SQLite file
    (:mod:`bot.store.sqlite`) or a PostgreSQL URL (:mod:`bot.store.postgres`). Usable from
    any thread; every failure of the database is a :class:`StorageError`."""

    def __init__(self, target: Path | str) -> None:
        check_db_path(target)
        if is_postgres_url(target):
            from bot.store.postgres import PostgresDatabase  # psycopg only where it is used

            self.db = PostgresDatabase(str(target))
        else:
            self.db = SQLiteDatabase(target)
        self.where = self.db.where

    @property
    def path(self) -> Path:
        """The SQLite file (AttributeError on PostgreSQL)."""
        return self.db.path

    @property
    def engine(self) -> str:
        return self.db.engine

    def reading(self):
        return self.db.reading()

    def writing(self):
        return self.db.writing()

    def transaction(self):
        """A write connection inside one transaction: committed at the end, rolled back on an error."""
        return self.db.transaction()

    def close(self) -> None:
        self.db.close()

    def schema_version(self) -> int:
        return self.db.schema_version()

    def ping(self) -> None:
        """Raise :class:`StorageError` unless the database answers now."""
        with self.reading() as conn:
            conn.execute("SELECT 1").fetchone()

    # --- writes -------------------------------------------------------------------------

    def add(self, exchange: Exchange) -> None:
        self.add_many([exchange])

    def add_many(self, exchanges: Iterable[Exchange]) -> None:
        """Write answered messages in one transaction: all of them, or none."""
        rows = [_row(e) for e in exchanges]
        if not rows:
            return
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO answers (id, at, channel, question, question_key, abstained, crisis, sections, latency_ms, answer, reason, "
                "kind, suggestions, picked, picked_section) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                rows,
            )

    def add_feedback(self, answer_id: str, rating: int, comment: str | None = None, at: datetime | None = None) -> int:
        """Store a thumbs up (1) or down (-1) on an answer; the comment is redacted."""
        check_rating(rating)
        with self.writing() as conn:
            try:
                row = conn.execute(
                    "INSERT INTO feedback (answer_id, at, rating, comment) VALUES (?, ?, ?, ?) RETURNING id",
                    (answer_id, stamp(at or utcnow()), rating, _comment(comment)),
                ).fetchone()
            except self.db.integrity_error:
                raise StorageError(f"there is no stored answer {answer_id!r} to give feedback on (it may not have been logged)") from None
            return int(row["id"])

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
        """Delete answers (and their feedback) older than ``retention_days``, and what the
        engine keeps only for a while (``housekeeping``); how many answers."""
        cutoff = stamp((now or utcnow()) - timedelta(days=retention_days))
        with self.writing() as conn:
            removed = conn.execute("DELETE FROM answers WHERE at < ?", (cutoff,)).rowcount
            for statement in self.db.housekeeping:
                conn.execute(statement)
            return removed

    # --- reads for the console -----------------------------------------------------------

    def exchanges(self, limit: int = 100) -> list[Exchange]:
        """The most recent answered messages, newest first."""
        with self.reading() as conn:
            rows = conn.execute(f"SELECT * FROM answers ORDER BY at DESC, {self.db.row_order} DESC LIMIT ?", (limit,)).fetchall()
        return [
            Exchange(r["id"], parse_stamp(r["at"]), r["channel"], r["question"], bool(r["abstained"]), bool(r["crisis"]),
                     tuple(json.loads(r["sections"])), r["latency_ms"], r["answer"], r["reason"], r["kind"],
                     offered(r["suggestions"]), r["picked"], r["picked_section"])
            for r in rows
        ]

    def feedback(self, limit: int = 200, only_negative: bool = False) -> list[FeedbackItem]:
        """Feedback with the answer it is about, newest first."""
        where = "WHERE f.rating = -1" if only_negative else ""
        with self.reading() as conn:
            rows = conn.execute(
                "SELECT f.id, f.at, f.rating, f.comment, f.answer_id, a.channel, a.question, a.answer, a.abstained, a.crisis, "
                "a.sections, a.reason, a.kind, a.suggestions, a.picked_section "
                f"FROM feedback f JOIN answers a ON a.id = f.answer_id {where} "
                "ORDER BY f.at DESC, f.id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            FeedbackItem(r["id"], parse_stamp(r["at"]), r["rating"], r["comment"], r["answer_id"], r["channel"], r["question"], r["answer"],
                         bool(r["abstained"]), bool(r["crisis"]), tuple(json.loads(r["sections"])), r["reason"], r["kind"],
                         offered(r["suggestions"]), r["picked_section"])
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
                f"SELECT s.value AS section, count(*) AS n FROM answers a, {self.db.section_items} "
                f"WHERE a.at >= ? AND a.channel IN ({marks}) GROUP BY s.value ORDER BY n DESC, section LIMIT ?",
                (since, *channels, limit),
            ).fetchall()
        return [SectionCount(r["section"], r["n"]) for r in rows]


def placeholders(channels: Iterable[str]) -> tuple[tuple[str, ...], str]:
    """The channels as query parameters, and the ``?, ?`` their ``IN (...)`` needs."""
    channels = tuple(channels)
    return channels, ",".join("?" * len(channels))


def _row(exchange: Exchange) -> tuple:
    return (
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
        exchange.kind.value,
        json.dumps([[o.key, o.section] for o in exchange.suggestions], ensure_ascii=False),
        exchange.picked,
        exchange.picked_section,
    )


def offered(stored: str | None) -> tuple[Offered, ...]:
    """The ``suggestions`` column read back: ``[[key, heading], ...]`` (``[]`` on rows from
    before schema 4, and on replies that offered nothing)."""
    return tuple(Offered(key, section) for key, section in json.loads(stored or "[]"))


def _comment(comment: str | None) -> str | None:
    comment = (comment or "").strip()
    return redact(comment) if comment else None
