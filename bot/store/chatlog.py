"""The question log as the servers write it: off the request path, never slowing an answer.

:class:`ChatLog` sits in front of a :class:`~bot.store.database.Store`: ``record()`` hands an
answered message to one background writer thread through a bounded queue and returns at
once (the writer writes queued rows in bursts, several times a second), so writing the log
never slows or breaks an answer. A failed write is logged (once per run of failures) and
dropped.

Privacy, because visitors ask health questions: emails and phone numbers are redacted
before a question is stored (:mod:`bot.store.redact`); with ``FAQBOT_LOG_QUESTIONS=0`` no
question text is stored at all (the row keeps only time, channel, outcome, cited sections
and latency, which the charts need); rows older than ``FAQBOT_RETENTION_DAYS`` are deleted,
with their feedback, at start-up and every hour.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime

from bot.replies import Reply
from bot.settings import Settings
from bot.store.database import Store
from bot.store.records import Exchange, StorageError, check_db_path, check_retention, utcnow
from bot.store.redact import redact

logger = logging.getLogger(__name__)

PURGE_EVERY = 3600.0  # seconds between purges of old rows
WRITE_EVERY = 0.2  # seconds the log writer sleeps between bursts of answered messages

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
        check_retention(retention_days)
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
        retention of less than a day, and :class:`UnusableDbSetting` (a ValueError) for a
        FAQBOT_DB that is not a file path."""
        check_retention(settings.retention_days)
        check_db_path(settings.db)  # a URL stops the start: it is a mistake, not a log to do without
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
