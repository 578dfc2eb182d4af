"""What staff do about the questions the bot could not answer, as stored beside the log.

- :func:`misses`: the visitors' messages the bot did not answer from the content
  (abstentions, suggestions of the closest sections, crisis replies), one :class:`Miss` per
  normalised question, with the sections visitors picked among those suggested (a pick is
  the same question asked again with the section: it has the same normalised text);
- :class:`Fix`: one staff decision about a group of them (answer with a section, not for
  the bot, needs new content, crisis-adjacent, or "the section was right, the sentence was
  wrong"), who made it and when, and its undoing;
- :func:`log_rows`: the question log as staff open it in a spreadsheet.

Questions here are as stored: redacted when they were logged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from bot.store.database import Store, offered, parse_stamp, placeholders, stamp
from bot.store.records import VISITOR_CHANNELS, StorageError, kind_of, utcnow

ACTIONS = {
    "answer": "answered with a section",
    "not_for_bot": "not for the bot",
    "needs_content": "needs new content",
    "crisis": "crisis-adjacent",
    "wrong_sentence": "section right, sentence wrong",
}
ORIGINS = ("unanswered", "feedback", "cli")


@dataclass(frozen=True, slots=True)
class Pick:
    """How many times visitors picked one suggested section for one question."""

    key: str  # "<source>#<anchor>", as the reply offered it
    section: str  # its heading
    count: int


@dataclass(frozen=True, slots=True)
class Miss:
    """Visitors' messages with one normalised text that the bot did not answer from the content."""

    key: str
    question: str  # its latest wording
    count: int
    last: datetime
    crisis: int  # how many of them got crisis resources
    channels: tuple[str, ...]
    suggested: int = 0  # how many of them got the closest sections offered instead of an answer
    picks: tuple[Pick, ...] = ()  # the sections visitors then picked, the most picked first


@dataclass(frozen=True, slots=True)
class Fix:
    id: int
    at: datetime
    staff: str
    action: str
    section: str | None
    phrasings: tuple[str, ...]
    asked: int
    origin: str
    undone_at: datetime | None = None
    undone_by: str | None = None

    @property
    def active(self) -> bool:
        return self.undone_at is None

    def to_json(self) -> dict:
        return {
            "id": self.id, "at": self.at.isoformat(), "staff": self.staff, "action": self.action, "section": self.section,
            "phrasings": list(self.phrasings), "asked": self.asked, "origin": self.origin,
            "undone_at": self.undone_at.isoformat() if self.undone_at else None, "undone_by": self.undone_by,
        }


def misses(store: Store, channels: Iterable[str] = VISITOR_CHANNELS, since: datetime | None = None) -> list[Miss]:
    """Messages from ``channels`` with a logged question (asked after ``since``, when given)
    that got no answer (an abstention or suggestions: ``abstained``) or crisis resources,
    grouped by normalised text, most asked first; each with the suggested sections that
    visitors picked for that question (in the same channels and time)."""
    channels, marks = placeholders(channels)
    after = stamp(since) if since else ""
    with store.reading() as conn:
        rows = conn.execute(
            f"""
            WITH missed AS (
                SELECT {store.db.row_order} AS r, question_key, question, at, channel, crisis, kind FROM answers
                WHERE (abstained = 1 OR crisis = 1) AND question_key IS NOT NULL AND question_key != ''
                AND channel IN ({marks}) AND at > ?
            ),
            latest AS (
                SELECT question_key, question, row_number() OVER (PARTITION BY question_key ORDER BY at DESC, r DESC) AS k
                FROM missed
            )
            SELECT m.question_key, l.question, max(m.at) AS last, count(*) AS n, sum(m.crisis) AS cr,
                   sum(CASE WHEN m.kind = 'suggestions' THEN 1 ELSE 0 END) AS sg,
                   {store.db.concat_distinct.format("m.channel")} AS chans
            FROM missed m JOIN latest l ON l.question_key = m.question_key AND l.k = 1
            GROUP BY m.question_key, l.question ORDER BY n DESC, last DESC
            """,
            (*channels, after),
        ).fetchall()
        picked = conn.execute(
            f"""
            SELECT question_key, picked, max(picked_section) AS heading, count(*) AS n FROM answers
            WHERE picked IS NOT NULL AND question_key IS NOT NULL AND question_key != '' AND channel IN ({marks}) AND at > ?
            GROUP BY question_key, picked
            """,
            (*channels, after),
        ).fetchall() if rows else []
    picks: dict[str, list[Pick]] = {}
    for r in picked:
        picks.setdefault(r["question_key"], []).append(Pick(r["picked"], r["heading"] or r["picked"], r["n"]))
    return [Miss(r["question_key"], r["question"], r["n"], parse_stamp(r["last"]), r["cr"], tuple(sorted(r["chans"].split(","))),
                 r["sg"] or 0, tuple(sorted(picks.get(r["question_key"], ()), key=lambda p: (-p.count, p.key))))
            for r in rows]


def add_fix(store: Store, staff: str, action: str, phrasings: Iterable[str], asked: int, *,
            section: str | None = None, origin: str = "unanswered", at: datetime | None = None) -> int:
    """Record a fix; its id. ValueError for an unknown action or origin."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    if origin not in ORIGINS:
        raise ValueError(f"origin must be one of {', '.join(ORIGINS)}, not {origin!r}")
    with store.writing() as conn:
        row = conn.execute(
            "INSERT INTO fixes (at, staff, action, section, phrasings, asked, origin) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (stamp(at or utcnow()), staff, action, section, json.dumps(list(phrasings), ensure_ascii=False), asked, origin),
        ).fetchone()
        return int(row["id"])


def fixes(store: Store, *, active_only: bool = False) -> list[Fix]:
    """Every fix, newest first (``active_only``: those not undone)."""
    where = "WHERE undone_at IS NULL" if active_only else ""
    with store.reading() as conn:
        rows = conn.execute(f"SELECT * FROM fixes {where} ORDER BY at DESC, id DESC").fetchall()
    return [_fix(r) for r in rows]


def get_fix(store: Store, fix_id: int) -> Fix:
    with store.reading() as conn:
        row = conn.execute("SELECT * FROM fixes WHERE id = ?", (fix_id,)).fetchone()
    if row is None:
        raise StorageError(f"there is no fix {fix_id}: the Changes view lists them")
    return _fix(row)


def mark_undone(store: Store, fix_id: int, staff: str, at: datetime | None = None) -> None:
    with store.writing() as conn:
        conn.execute("UPDATE fixes SET undone_at = ?, undone_by = ? WHERE id = ? AND undone_at IS NULL",
                     (stamp(at or utcnow()), staff, fix_id))


def _fix(r) -> Fix:
    return Fix(r["id"], parse_stamp(r["at"]), r["staff"], r["action"], r["section"], tuple(json.loads(r["phrasings"])), r["asked"],
               r["origin"], parse_stamp(r["undone_at"]) if r["undone_at"] else None, r["undone_by"])


LOG_COLUMNS = ("time_utc", "channel", "message", "outcome", "cited_sections", "rating", "comment",
               "kind", "suggested_sections", "picked_section")


def log_rows(store: Store, since: datetime | None = None) -> Iterator[dict]:
    """One row per answered message, oldest first, as stored (redacted): LOG_COLUMNS, with
    the latest rating and comment on it if any. ``outcome`` is answered, abstained (no
    answer: an abstention or suggestions) or crisis; ``kind`` is which reply it was (answer,
    suggestions, abstention, crisis), ``suggested_sections`` the headings a suggestions reply
    offered, ``picked_section`` the one the visitor picked to get this answer."""
    with store.reading() as conn:
        rows = conn.execute(
            f"""
            SELECT a.at, a.channel, a.question, a.abstained, a.crisis, a.sections, a.kind, a.suggestions, a.picked_section,
                   f.rating, f.comment FROM answers a
            LEFT JOIN feedback f ON f.id = (SELECT max(id) FROM feedback WHERE answer_id = a.id)
            WHERE a.at >= ? ORDER BY a.at, a.{store.db.row_order}
            """,
            (stamp(since) if since else "",),
        ).fetchall()
    for r in rows:
        outcome = "crisis" if r["crisis"] else "abstained" if r["abstained"] else "answered"
        yield {
            "time_utc": r["at"], "channel": r["channel"], "message": r["question"], "outcome": outcome,
            "cited_sections": "; ".join(json.loads(r["sections"])), "rating": r["rating"], "comment": r["comment"],
            "kind": kind_of(r["kind"], bool(r["abstained"]), bool(r["crisis"])).value,
            "suggested_sections": "; ".join(o.section for o in offered(r["suggestions"])), "picked_section": r["picked_section"],
        }
