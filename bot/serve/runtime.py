"""The bot a server runs: loaded in the background at start-up, so the server can answer
``/healthz`` (503 while loading) and crisis messages before the model is ready; then
swapped for a new one whenever a new index is built, without stopping.

A reload builds a whole new :class:`Bot` for the new index (its retriever and BM25 are
per index) beside the serving one, warms it up, and only then replaces ``holder.bot`` with
one assignment. A request reads ``holder.bot`` once and keeps that object to the end, so no
request fails or mixes the two indexes. A new index that cannot be loaded (damaged, built
with another model) is refused: the old bot keeps serving and ``reload_status`` says why.

For many visitors at once the holder serves the model behind two wrappers (bot.serve.embedders):
a :class:`~bot.serve.embedders.CachingEmbedder` that remembers recent vectors by text, over a
:class:`~bot.serve.embedders.BatchingEmbedder` that encodes concurrent questions in one pass; and
the bot behind an :class:`~bot.serve.answer_cache.AnswerCache` of replies by question and index
build, emptied whenever a new index is swapped in. torch and FAISS get one thread each
(see ``SERVING_TORCH_THREADS``). Each setting is in :class:`~bot.settings.Settings`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import faiss

from bot.answer.service import Bot, IndexStatus
from bot.errors import BotError
from bot.replies import Reply, ReplyKind, Turn
from bot.safety.check import CrisisCheck
from bot.safety.patterns import sure_sign
from bot.search.embed_cache import Progress
from bot.search.embedder import SERVING_TORCH_THREADS, Embedder
from bot.search.engines import embedder_for
from bot.search.folder import read_manifest
from bot.search.reindex import BuildSummary, reindex
from bot.serve import vocabulary
from bot.serve.answer_cache import AnswerCache, CachedBot
from bot.serve.embedders import BatchingEmbedder, CachingEmbedder
from bot.settings import Settings

logger = logging.getLogger(__name__)

# FAISS's threads for one question's search: a search of one vector runs on one thread
# anyway, and an exact search of a large index split over two cores that another process
# also uses waits for the slower one (docs/BENCHMARKS.md). OpenMP keeps this count per
# thread, so each thread that answers sets it (ServedBot).
SERVING_FAISS_THREADS = 1
_thread = threading.local()


class ServedBot:
    """The bot as a server serves it: replies from the answer cache when there is one,
    and FAISS searching on ``SERVING_FAISS_THREADS`` in every thread that answers.
    ``index`` and ``index_status`` are the bot's own."""

    def __init__(self, bot: Bot, cache: AnswerCache | None = None) -> None:
        self.bot = bot
        self.index = bot.index
        self._cached = CachedBot(bot, cache) if cache is not None else None

    def index_status(self) -> IndexStatus:
        return self.bot.index_status()

    def answer(self, message: str, history: Sequence[Turn] = ()) -> Reply:
        _serving_thread()
        return (self._cached or self.bot).answer(message, history)

    def answer_section(self, message: str, section: str, history: Sequence[Turn] = ()) -> Reply:
        """The picked suggestion's answer (never cached: picks are few, and a pick is logged)."""
        _serving_thread()
        return self.bot.answer_section(message, section, history)


def _serving_thread() -> None:
    """FAISS searches on ``SERVING_FAISS_THREADS`` in this thread (set once per thread)."""
    if not getattr(_thread, "faiss_threads_set", False):
        faiss.omp_set_num_threads(SERVING_FAISS_THREADS)
        _thread.faiss_threads_set = True


@dataclass(frozen=True, slots=True)
class ReloadStatus:
    """The last attempt to serve a new index (for ``/healthz`` and the console)."""

    status: str  # "none" (never tried), "ok" (serving it), "failed" (refused, old one served)
    build_id: str | None = None  # the build the attempt tried
    at: str | None = None  # when, ISO 8601 UTC
    error: str | None = None  # why it was refused

    def to_json(self) -> dict:
        return {"status": self.status, "build_id": self.build_id, "at": self.at, "error": self.error}


@dataclass(frozen=True, slots=True)
class ReloadResult:
    outcome: str  # "reloaded", "unchanged" (already serving the current build) or "failed"
    served: str | None  # build id served after the attempt
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"


class BotHolder:
    """Holds the serving :class:`Bot`, or why it is not there yet, and swaps in new indexes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bot: Bot | ServedBot | None = None
        self.error: str | None = None
        self.ready = threading.Event()
        self.load_seconds: float | None = None
        self.embedder: Embedder | None = None  # what the bot encodes with (the wrapped model)
        self.crisis: CrisisCheck | None = None  # loaded first, once, and shared by every index served
        self.answer_cache = AnswerCache(settings.answer_cache_size) if settings.answer_cache_size > 0 else None
        self._batcher: BatchingEmbedder | None = None
        self._warmer: threading.Thread | None = None
        self.reload_status = ReloadStatus("none")
        self._reload_lock = threading.Lock()
        self._tried: str | None = None  # build id of the last load attempt
        self._stop = threading.Event()

    # -- start-up -------------------------------------------------------------------------
    def load(self, embedder: Embedder | None = None) -> None:
        """Load and warm the bot; on failure keep the reason for ``/healthz``."""
        started = time.perf_counter()
        try:
            self._tried = self._current_build_id()
            # The crisis check first: while the index loads, a crisis message is recognised
            # by the model as well as by the sure signs.
            self.crisis = CrisisCheck.for_settings(self.settings)
            bot = Bot.load(self.settings, self._serving_embedder(embedder), crisis=self.crisis)
            self._warm_words(own_model=embedder is None)
            bot.warm_up()
        except Exception as exc:  # reported by /healthz; the server stays up for crisis replies
            logger.exception("the bot failed to load")
            self.error = str(exc)
        else:
            self._serve(bot)
            self.load_seconds = time.perf_counter() - started
            logger.info("bot ready in %.1fs", self.load_seconds)
        finally:
            self.ready.set()

    def load_in_background(self, embedder: Embedder | None = None) -> threading.Thread:
        """Load in a thread that then watches the index folder for new builds (every
        ``settings.reload_interval`` seconds; 0: never)."""

        def run() -> None:
            self.load(embedder)
            self.watch()

        thread = threading.Thread(target=run, name="bot-loader", daemon=True)
        thread.start()
        return thread

    # -- reloading ------------------------------------------------------------------------
    def watch(self) -> None:
        """Poll the served build id until :meth:`stop`; reload when a new build appears.

        A build that failed to load is not tried again until another one is built (or an
        admin asks with ``POST /admin/reload``)."""
        interval = self.settings.reload_interval
        if interval <= 0:
            return
        logger.info("watching %s for new builds every %ds", self.settings.index_dir, interval)
        while not self._stop.wait(interval):
            try:
                build_id = self._current_build_id()
                if build_id is not None and build_id != self.served_build_id() and build_id != self._tried:
                    logger.info("a new index build %s is in %s: loading it", build_id, self.settings.index_dir)
                    self.reload(force=False)
            except Exception:  # the watcher must outlive any one failure
                logger.exception("checking %s for a new build failed", self.settings.index_dir)

    def stop(self) -> None:
        """Stop watching for new builds and stop the encoder's batching thread."""
        self._stop.set()
        if self._batcher is not None:
            self._batcher.close()

    # -- serving many visitors --------------------------------------------------------------
    def _serving_embedder(self, given: Embedder | None = None) -> Embedder:
        """The model as the bot uses it: ``given`` (or the one held, or the real model,
        loaded with the serving thread settings), behind the batching and vector caches."""
        if given is None and self.embedder is not None:
            return self.embedder
        settings = self.settings
        if given is None:
            given = embedder_for(settings, threads=settings.torch_threads or SERVING_TORCH_THREADS,
                                 traced=settings.traced_model, passes=max(1, settings.encode_workers))
        if self._batcher is not None:
            self._batcher.close()
            self._batcher = None
        embedder = given
        if settings.encode_batch >= 2:
            embedder = self._batcher = BatchingEmbedder(embedder, settings.encode_batch, settings.encode_batch_wait_ms,
                                                               max(1, settings.encode_workers))
        if settings.vector_cache_size > 0:
            embedder = CachingEmbedder(embedder, settings.vector_cache_size)
        self.embedder = embedder
        return embedder

    def _warm_words(self, own_model: bool) -> None:
        """Pin the vectors of the model's frequent words (bot.serve.vocabulary): loaded now when
        they were saved beside the index, else computed in the background while no visitor
        waits. Only for the model the holder loaded itself (a server's), not one it was
        given (a test's or a tool's)."""
        cache = self.embedder
        n = self.settings.warm_words
        if n <= 0 or not own_model or not isinstance(cache, CachingEmbedder) or cache.pinned:
            return
        words = cache.frequent_words(n)
        path = self.settings.index_dir / vocabulary.FILE
        pinned = vocabulary.pin_saved(cache, words, path)
        if pinned == len(words):
            return
        batcher = self._batcher
        self._warmer = threading.Thread(
            target=vocabulary.compute, args=(cache, words, path),
            kwargs={"start": pinned, "idle": batcher.idle if batcher is not None else (lambda: True), "stop": self._stop},
            name="word-vectors", daemon=True,
        )
        self._warmer.start()

    def words_warmed(self, timeout: float | None = None) -> bool:
        """Wait until the frequent words' vectors are pinned (True), or ``timeout`` passes."""
        warmer = self._warmer
        if warmer is not None:
            warmer.join(timeout)
            return not warmer.is_alive()
        return True

    def _serve(self, bot: Bot) -> None:
        """Serve ``bot`` from now on (one assignment), with a fresh answer cache."""
        self.bot = ServedBot(bot, self.answer_cache)
        if self.answer_cache is not None:
            # Keys hold the build id, so no old reply could be served for the new index;
            # emptying the cache only frees the memory at once.
            self.answer_cache.clear()

    def clear_caches(self) -> None:
        """Forget remembered replies, vectors and crisis verdicts (a benchmark's cold start)."""
        if self.answer_cache is not None:
            self.answer_cache.clear()
        if isinstance(self.embedder, CachingEmbedder):
            self.embedder.clear()
        if self.crisis is not None:
            self.crisis.forget()

    def served_build_id(self) -> str | None:
        bot = self.bot
        return bot.index.manifest.build_id if bot is not None else None

    def _current_build_id(self) -> str | None:
        try:
            return read_manifest(self.settings.index_dir).build_id
        except BotError:
            return None

    def reload(self, force: bool = True) -> ReloadResult:
        """Serve the index folder's current build, if it is not served already.

        Builds and warms a new :class:`Bot` while the old one keeps answering, then swaps
        them. When the new index fails to load, the old bot stays and the failure is kept
        in ``reload_status`` (``force``: try again even a build that failed before)."""
        with self._reload_lock:
            build_id = self._current_build_id()
            if build_id is not None and build_id == self.served_build_id():
                return ReloadResult("unchanged", build_id)
            if not force and build_id is not None and build_id == self._tried:
                return ReloadResult("failed", self.served_build_id(), self.reload_status.error)
            self._tried = build_id
            started = time.perf_counter()
            try:
                bot = Bot.load(self.settings, self._serving_embedder(), crisis=self.crisis)
                bot.warm_up()
            except Exception as exc:
                served = self.served_build_id()
                logger.error(
                    "refused the new index %s: %s; still serving %s", build_id, exc, served or "nothing",
                    exc_info=not isinstance(exc, BotError),
                )
                self.reload_status = ReloadStatus("failed", build_id, _now(), str(exc))
                if self.bot is None:
                    self.error = str(exc)
                return ReloadResult("failed", served, str(exc))
            loaded = bot.index.manifest.build_id
            self._serve(bot)  # one assignment: a request holds either the old bot or the new one
            self.error = None
            self.ready.set()
            self.reload_status = ReloadStatus("ok", loaded, _now())
            logger.info("now serving index %s (loaded in %.1fs)", loaded, time.perf_counter() - started)
            return ReloadResult("reloaded", loaded)

    def reindex(self, progress: Progress | None = None, wait: float = 0.0) -> tuple[BuildSummary, ReloadResult]:
        """Re-index the corpus with the model this server holds, then serve the new index:
        what the console's "Re-index now" runs. Returns (BuildSummary, ReloadResult).

        Raises :class:`~bot.errors.CorpusError` (file and line) when the corpus has a
        mistake: nothing is built and the served index stays."""
        summary = reindex(self.settings, embedder=self.embedder, progress=progress, wait=wait)
        return summary, self.reload()

    def reload_info(self) -> dict:
        """Reload status and the build served, for ``/healthz``."""
        return {**self.reload_status.to_json(), "served": self.served_build_id()}

    def is_crisis(self, message: str) -> bool:
        """The crisis check, with the model once it is loaded (the sure signs before)."""
        crisis = self.crisis
        return crisis.is_crisis(message) if crisis is not None else sure_sign(message)

    def crisis_only(self) -> Reply:
        return Reply(self.settings.crisis_text, ReplyKind.CRISIS, reason="the message speaks of suicide or self-harm")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
