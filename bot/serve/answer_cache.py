"""Replies remembered by question, for the visitors who ask the same few things.

The key is the question and the conversation before it, both normalised, and the build id
of the index that answered: a reply is only ever reused for the same words asked of the
same index. Normalising only folds case, runs of spaces and the ends, which the bot
ignores (the model is uncased, the crisis check and retrieval read lower case: the same
replies for all 277 evaluation and hold-out questions in upper and lower case; the bot
reads "do  i" as "do i"). Punctuation is kept: "?" changes a reply. The cache is bounded
(least recently used replies go first) and the serving holder empties it whenever it swaps
in a new index (bot.serve.runtime).

The cache never stands between a visitor and a reply: if it fails, the bot answers as if
there were no cache, and the failure is logged once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cachetools import LRUCache

from bot.replies import Reply, Turn

if TYPE_CHECKING:
    from bot.answer.service import Bot

logger = logging.getLogger(__name__)


def normalise(text: str) -> str:
    """``text`` as the cache compares it: case folded, runs of spaces as one, trimmed."""
    return " ".join(text.casefold().split())


@dataclass(frozen=True, slots=True)
class CacheKey:
    build_id: str
    message: str
    history: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, build_id: str, message: str, history: Sequence[Turn] = ()) -> CacheKey:
        return cls(build_id, normalise(message), tuple((t.role, normalise(t.content)) for t in history))


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int
    size: int  # replies held now
    capacity: int


class AnswerCache:
    """A bounded, thread-safe map from :class:`CacheKey` to :class:`Reply` (LRU)."""

    def __init__(self, capacity: int = 1024) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1: serve the bot without a cache to cache nothing")
        self.capacity = capacity
        self._replies: LRUCache[CacheKey, Reply] = LRUCache(maxsize=capacity)  # not thread-safe: under _lock
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def get(self, key: CacheKey) -> Reply | None:
        with self._lock:
            reply = self._replies.get(key)  # a hit becomes the most recently used
            if reply is None:
                self._misses += 1
                return None
            self._hits += 1
            return reply

    def put(self, key: CacheKey, reply: Reply) -> None:
        with self._lock:
            self._replies[key] = reply  # the least recently used goes when it is full

    def clear(self) -> None:
        """Forget every reply (the hit counts stay)."""
        with self._lock:
            self._replies.clear()

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._replies), self.capacity)


class CachedBot:
    """A :class:`~bot.answer.service.Bot` whose replies are remembered in an :class:`AnswerCache`.

    ``answer`` looks the question up first and asks the bot (``bot``) only on a miss.
    """

    def __init__(self, bot: Bot, cache: AnswerCache) -> None:
        self.bot = bot
        self.cache = cache
        self._build_id = bot.index.manifest.build_id
        self._failing = False  # a cache failure is logged once, until the cache works again

    def answer(self, message: str, history: Sequence[Turn] = ()) -> Reply:
        """The remembered reply to ``message`` after ``history``, or the bot's."""
        key = None
        try:
            key = CacheKey.of(self._build_id, message, history)
            reply = self.cache.get(key)
        except Exception:
            self._failed("reading")
            reply = None
        if reply is not None:
            return reply
        reply = self.bot.answer(message, history)
        if key is not None:
            try:
                self.cache.put(key, reply)
                self._failing = False
            except Exception:
                self._failed("writing")
        return reply

    def _failed(self, doing: str) -> None:
        if not self._failing:
            self._failing = True
            logger.exception("%s the answer cache failed: answering without it", doing)
