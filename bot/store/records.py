"""The question log's values: one answered message as stored, and what the console reads.

Also the normalised text a question is stored under (:func:`question_key`: Unicode NFKC,
lower case, punctuation dropped, spaces collapsed): rows with the same key are one question
for the Unanswered view, which then groups questions by meaning (bot.curation.groups).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bot.errors import BotError
from bot.replies import Reply, ReplyKind
from bot.store.redact import redact

CHANNELS = ("widget", "api", "staff")
VISITOR_CHANNELS = ("widget", "api")
# The website widget sends this header with the value "widget"; other API callers are "api".
CHANNEL_HEADER = "X-FAQBot-Channel"


class StorageError(BotError):
    """The question log cannot be opened or written; the message says what to do."""


class Unreachable(StorageError):
    """The database did not answer in time (stopped, restarting or cut off): try again later."""


class UnusableDbSetting(StorageError, ValueError):
    """``FAQBOT_DB`` is neither a file path nor a PostgreSQL URL: the server must not start."""


def utcnow() -> datetime:
    return datetime.now(UTC)



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


def check_retention(days: int) -> None:
    if days < 1:
        raise ValueError(f"FAQBOT_RETENTION_DAYS must be at least 1 (days), not {days}")


_URL = re.compile(r"^[a-z][a-z0-9+.\-]+:/", re.IGNORECASE)
_CREDENTIALS = re.compile(r"(:/+)([^/@:]*)(:[^/@]*)?@")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(target) -> bool:
    """``FAQBOT_DB`` names a PostgreSQL database (``postgresql://user@host:port/db``)."""
    return str(target).strip().lower().startswith(POSTGRES_SCHEMES)


def shown_db(target) -> str:
    """``FAQBOT_DB`` as it may be logged or shown: a URL's password replaced by ``…``."""
    return _CREDENTIALS.sub(lambda m: f"{m[1]}{m[2]}{':…' if m[3] else ''}@", str(target))


def check_db_path(target) -> None:
    """Refuse a ``FAQBOT_DB`` that is neither a file path nor a PostgreSQL URL (another
    database's URL would otherwise become a folder named ``mysql:``): raises
    :class:`UnusableDbSetting` saying what it accepts."""
    if _URL.match(str(target)) and not is_postgres_url(target):
        raise UnusableDbSetting(
            f"FAQBOT_DB={shown_db(target)!r} is a URL this bot cannot use: FAQBOT_DB takes the path of a SQLite file "
            "(default data/faqbot.sqlite3, created with its folder on first use) or a PostgreSQL URL, "
            "postgresql://user:password@host:5432/database"
        )


def check_rating(rating: int) -> None:
    if rating not in (1, -1):
        raise ValueError(f"rating must be 1 (thumbs up) or -1 (thumbs down), not {rating!r}")


_KINDS = frozenset(k.value for k in ReplyKind)


def kind_of(kind: str | None, abstained: bool, crisis: bool) -> ReplyKind:
    """The kind of reply a stored row got: as stored, or, for a row logged before schema 4
    (no kind; suggestions did not exist then), from its abstained and crisis flags."""
    if kind in _KINDS:
        return ReplyKind(kind)
    return ReplyKind.CRISIS if crisis else ReplyKind.ABSTENTION if abstained else ReplyKind.ANSWER


@dataclass(frozen=True, slots=True)
class Offered:
    """A section a reply offered when the bot was unsure, as stored."""

    key: str  # "<source>#<anchor>", what a visitor's pick names
    section: str  # its heading


@dataclass(frozen=True, slots=True)
class Exchange:
    """One answered message, as stored.

    ``kind`` is what the reply was; left out (None), it is derived from ``abstained`` and
    ``crisis`` as for a row logged before it was stored. ``suggestions``: the sections
    offered (a ``suggestions`` reply); ``picked``: the suggestion ("<source>#<anchor>") the
    visitor picked to get this reply, and ``picked_section`` its heading."""

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
    kind: ReplyKind | None = None
    suggestions: tuple[Offered, ...] = ()
    picked: str | None = None
    picked_section: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", kind_of(self.kind, self.abstained, self.crisis))

    @classmethod
    def of(cls, channel: str, question: str | None, reply: Reply, seconds: float, *, id: str | None = None, at: datetime | None = None) -> Exchange:
        """The row for ``reply`` to ``question`` (already redacted, or None to store none).
        The reply's kind, offered sections and pick are kept either way: they name the
        clinic's sections, never the visitor's words."""
        if channel not in CHANNELS:
            raise ValueError(f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
        sections = tuple(dict.fromkeys(c.section for c in reply.citations))
        picked = reply.picked or None
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
            kind=reply.kind,
            suggestions=tuple(Offered(s.key, s.section) for s in reply.suggestions),
            picked=picked,
            picked_section=_picked_heading(reply) if picked else None,
        )


def _picked_heading(reply: Reply) -> str:
    """The heading of the section the visitor picked: the citation from it (the reply quotes
    the picked section), else the last part of its anchor."""
    cited = next((c.section for c in reply.citations if f"{c.source}#{c.anchor}" == reply.picked), None)
    return cited or reply.picked.rpartition("#")[2]


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
    kind: ReplyKind | None = None  # derived from abstained and crisis when left out, as on Exchange
    suggestions: tuple[Offered, ...] = ()
    picked_section: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", kind_of(self.kind, self.abstained, self.crisis))


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
