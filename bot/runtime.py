"""The bot a server runs: loaded in the background at start-up, so the server can answer
``/healthz`` (503 while loading) and crisis messages before the model is ready; then
swapped for a new one whenever a new index is built, without stopping.

A reload builds a whole new :class:`Bot` for the new index (its retriever and BM25 are
per index) beside the serving one, warms it up, and only then replaces ``holder.bot`` with
one assignment. A request reads ``holder.bot`` once and keeps that object to the end, so no
request fails or mixes the two indexes. A new index that cannot be loaded (damaged, built
with another model) is refused: the old bot keeps serving and ``reload_status`` says why.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from .embed_cache import Progress
from .embedder import Embedder, MiniLMEmbedder
from .errors import BotError
from .index import read_manifest
from .reindex import BuildSummary, reindex
from .replies import Reply
from .service import Bot
from .settings import Settings

logger = logging.getLogger(__name__)


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
        self.bot: Bot | None = None
        self.error: str | None = None
        self.ready = threading.Event()
        self.load_seconds: float | None = None
        self.embedder: Embedder | None = None
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
            self.embedder = embedder or self.embedder or MiniLMEmbedder(threads=self.settings.torch_threads or None)
            bot = Bot.load(self.settings, self.embedder)
            bot.warm_up()
        except Exception as exc:  # reported by /healthz; the server stays up for crisis replies
            logger.exception("the bot failed to load")
            self.error = str(exc)
        else:
            self.bot = bot
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
        self._stop.set()

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
                self.embedder = self.embedder or MiniLMEmbedder(threads=self.settings.torch_threads or None)
                bot = Bot.load(self.settings, self.embedder)
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
            self.bot = bot  # one assignment: a request holds either the old bot or the new one
            self.error = None
            self.ready.set()
            self.reload_status = ReloadStatus("ok", loaded, _now())
            logger.info("now serving index %s (loaded in %.1fs)", loaded, time.perf_counter() - started)
            return ReloadResult("reloaded", loaded)

    def reindex(self, progress: Progress | None = None) -> tuple[BuildSummary, ReloadResult]:
        """Re-index the corpus with the model this server holds, then serve the new index:
        what the console's "Re-index now" runs. Returns (BuildSummary, ReloadResult).

        Raises :class:`~bot.errors.CorpusError` (file and line) when the corpus has a
        mistake: nothing is built and the served index stays."""
        summary = reindex(self.settings, embedder=self.embedder, progress=progress)
        return summary, self.reload()

    def reload_info(self) -> dict:
        """Reload status and the build served, for ``/healthz``."""
        return {**self.reload_status.to_json(), "served": self.served_build_id()}

    def crisis_only(self) -> Reply:
        return Reply(self.settings.crisis_text, abstained=False, crisis=True, reason="the message speaks of suicide or self-harm")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
