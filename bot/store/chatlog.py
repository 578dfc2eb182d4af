"""The question log as the servers write it: off the request path, never slowing an answer.

:class:`ChatLog` sits in front of a :class:`~bot.store.database.Store`: ``record()`` appends
an answered message to a bounded list in memory and returns at once; one background writer
thread writes what has gathered in one transaction, several times a second. So writing the
log never slows or breaks an answer.

When the database cannot be written (a full disk, a locked file, a PostgreSQL that stopped
or restarts), rows stay in memory, up to ``max_pending`` (10,000), and are written when it
works again: nothing is lost within the bound. Past it the oldest rows are dropped, and how
many is logged. The failure is logged once, the recovery once; :meth:`ChatLog.status` tells
``/healthz`` and the console that the log is degraded meanwhile.

Privacy, because visitors ask health questions: emails and phone numbers are redacted
before a question is stored (:mod:`bot.store.redact`); with ``FAQBOT_LOG_QUESTIONS=0`` no
question text is stored at all (the row keeps only time, channel, outcome and kind of
reply, the clinic's sections it cited, offered or the visitor picked, and latency, which the
charts need; without the question, picks cannot be matched to questions); rows older than ``FAQBOT_RETENTION_DAYS`` are deleted,
with their feedback, at start-up and every hour.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from bot.replies import Reply
from bot.settings import Settings
from bot.store.database import Store
from bot.store.records import Exchange, StorageError, check_db_path, check_retention, utcnow
from bot.store.redact import redact

logger = logging.getLogger(__name__)

PURGE_EVERY = 3600.0  # seconds between purges of old rows
WRITE_EVERY = 0.2  # seconds the log writer sleeps between bursts of answered messages
RETRY_EVERY = 1.0  # seconds between attempts while the database cannot be written
MAX_PENDING = 10_000  # answered messages kept in memory while they cannot be written
BATCH = 500  # rows written in one transaction

_STOP = object()


@dataclass(frozen=True, slots=True)
class LogStatus:
    """The question log as ``/healthz`` and the console report it."""

    state: str  # "ok", "degraded" (rows kept in memory until the database works) or "off"
    engine: str | None  # "sqlite", "postgresql", or None when off
    pending: int  # rows not yet written
    dropped: int  # rows dropped since the start because more than max_pending waited
    error: str | None

    def to_json(self) -> dict:
        return {"state": self.state, "engine": self.engine, "pending": self.pending, "dropped": self.dropped, "error": self.error}


class ChatLog:
    """Records answered messages in a :class:`Store` from one background writer thread.

    ``record()`` never blocks and never raises. Feedback goes to the same writer after the
    rows gathered before it (so it lands after the answer it refers to) and waits for its
    write, because the staff member is told whether it was stored.
    """

    def __init__(self, store: Store | None, *, log_questions: bool = True, retention_days: int = 30,
                 max_pending: int = MAX_PENDING, error: str | None = None) -> None:
        check_retention(retention_days)
        self.store = store
        self.log_questions = log_questions
        self.retention_days = retention_days
        self.max_pending = max_pending
        self.error = error  # why there is no store, for the console
        self._rows: deque[tuple] = deque()  # answered messages not yet written, oldest first
        self._rows_lock = threading.Lock()
        self._calls: queue.Queue = queue.Queue()
        self._dropped = 0  # since the start
        self._dropped_now = 0  # in the current run of failures, for its log line
        self._failure: str | None = None  # the last write's error while writes fail
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
        FAQBOT_DB that is neither a file path nor a PostgreSQL URL."""
        check_retention(settings.retention_days)
        check_db_path(settings.db)  # a wrong URL stops the start: it is a mistake, not a log to do without
        try:
            store = Store(settings.db)
        except StorageError as exc:
            logger.error("question log disabled: %s", exc)
            return cls(None, log_questions=settings.log_questions, retention_days=settings.retention_days, error=str(exc))
        logger.info("question log: %s (questions %s, kept %d days)", store.where,
                    "logged, redacted" if settings.log_questions else "not logged", settings.retention_days)
        return cls(store, log_questions=settings.log_questions, retention_days=settings.retention_days)

    @property
    def enabled(self) -> bool:
        return self.store is not None

    def status(self) -> LogStatus:
        if self.store is None:
            return LogStatus("off", None, 0, 0, self.error)
        failure = self._failure
        return LogStatus("degraded" if failure else "ok", self.store.engine, len(self._rows), self._dropped, failure)

    def record(self, channel: str, question: str, reply: Reply, seconds: float) -> str | None:
        """Keep one answered message for the writer; its id (for feedback), or None if it is not logged."""
        if self.store is None:
            return None
        try:
            answer_id = uuid.uuid4().hex
            row = (answer_id, utcnow(), channel, question, reply, seconds)
            with self._rows_lock:
                if len(self._rows) >= self.max_pending:
                    self._rows.popleft()
                    self._dropped += 1
                    self._dropped_now += 1
                    if self._dropped_now == 1:
                        logger.warning("question log: %s rows wait to be written; dropping the oldest until writes succeed",
                                       f"{self.max_pending:,}")
                self._rows.append(row)
            return answer_id
        except Exception:  # the visitor gets the reply whatever happens here
            logger.exception("could not keep an answered message for the question log")
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
        """Have the writer try to write everything recorded so far; True when all of it is
        written, False when some waits (the database cannot be written), on timeout, or
        without a store."""
        if self.store is None:
            return False
        try:
            return self._call(lambda: not self._rows, timeout=timeout)
        except StorageError:
            return False

    def close(self, timeout: float = 10.0) -> None:
        """Write what is kept, then stop the writer."""
        if self._thread is None:
            return
        self._calls.put((_STOP, None))
        self._wake.set()
        self._thread.join(timeout)
        self._thread = None
        if self._rows:
            logger.error("question log: %d answered messages could not be written before stopping", len(self._rows))
        if self.store is not None:
            self.store.close()

    # --- the writer ----------------------------------------------------------------------

    def _store(self) -> Store:
        if self.store is None:
            raise StorageError(f"feedback cannot be stored: {self.error or 'the question log is off'}")
        return self.store

    def _call(self, fn: Callable, *args, timeout: float):
        future: Future = Future()
        self._calls.put((lambda: fn(*args), future))
        self._wake.set()
        try:
            return future.result(timeout)
        except TimeoutError:
            raise StorageError("the question log is busy; try again in a moment") from None

    def _run(self) -> None:
        """Write what has gathered, then sleep until woken or ``WRITE_EVERY`` seconds pass
        (``RETRY_EVERY`` while writes fail).

        Answered messages do not wake the writer (``record()`` only appends): a wake-up per
        answer would take the interpreter from the next request's thread every time. Rows
        are written in bursts a few times a second instead; feedback, ``flush()`` and
        ``close()`` wake it at once, since someone waits for them."""
        self._purge()
        while True:
            self._wake.wait(RETRY_EVERY if self._failure else WRITE_EVERY)
            self._wake.clear()
            self._write_rows()
            while True:
                try:
                    job, future = self._calls.get_nowait()
                except queue.Empty:
                    break
                if job is _STOP:
                    self._write_rows()
                    return
                self._do(job, future)
            if time.monotonic() - self._last_purge > PURGE_EVERY:
                self._purge()

    def _write_rows(self) -> None:
        """Write the kept rows, a batch per transaction; on a failure keep them for the next try."""
        if self._failure and not self._rows:
            try:
                self.store.ping()  # is it back, though nobody asked anything meanwhile?
            except Exception as exc:
                self._failed(exc)
                return
            self._succeeded()
        while self._rows:
            with self._rows_lock:
                batch = list(itertools.islice(self._rows, BATCH))
            try:
                self.store.add_many([self._exchange(*row) for row in batch])
            except Exception as exc:
                self._failed(exc)
                return
            with self._rows_lock:
                for row in batch:  # the oldest may have been dropped meanwhile
                    if self._rows and self._rows[0] is row:
                        self._rows.popleft()
            self._succeeded()

    def _failed(self, exc: Exception) -> None:
        if self._failure is None:
            logger.error("question log: a write failed (%s); answers are served, and their rows are kept in memory "
                         "(up to %s) until writes succeed again", exc, f"{self.max_pending:,}")
        self._failure = str(exc) or type(exc).__name__

    def _succeeded(self) -> None:
        with self._rows_lock:
            dropped, self._dropped_now = self._dropped_now, 0
        if self._failure is not None:
            logger.info("question log: writing again; the rows kept meanwhile are written%s",
                        f", except the {dropped} oldest, dropped past the bound of {self.max_pending}" if dropped else "")
            self._failure = None
        elif dropped:
            logger.warning("question log: the %d oldest rows were dropped past the bound of %d", dropped, self.max_pending)

    def _do(self, job: Callable[[], object], future: Future) -> None:
        try:
            result = job()
        except Exception as exc:
            future.set_exception(exc if isinstance(exc, StorageError | ValueError) else StorageError(f"the question log could not be written ({exc})"))
        else:
            future.set_result(result)

    def _purge(self) -> None:
        self._last_purge = time.monotonic()
        try:
            removed = self.store.purge(self.retention_days)
        except Exception as exc:
            logger.warning("question log: could not delete rows older than %d days (%s)", self.retention_days, exc)
            if isinstance(exc, StorageError):
                self._failed(exc)
            return
        if removed:
            logger.info("question log: deleted %d rows older than %d days", removed, self.retention_days)
