"""The question log's SQLite engine: one file on this machine (the default, ``make run``).

Reads (the console's, rare) open a short-lived connection each; writes share one kept-open
connection behind a lock, in WAL mode with ``synchronous=NORMAL``: a commit appends to the
write-ahead log without waiting for the disk (synced at checkpoints), so logging an answer
costs tens of microseconds instead of an open and an fsync. A power cut can lose the last
moments of the log, never corrupt it. The console reads while the log writes.

The queries are :class:`bot.store.database.Store`'s; this module only connects, migrates
(``PRAGMA user_version``) and turns the driver's errors into :class:`StorageError`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

from bot.store.records import StorageError
from bot.store.schema import SCHEMA_VERSION, SQLITE_MIGRATIONS

logger = logging.getLogger(__name__)


class SQLiteDatabase:
    """The SQLite file, usable from any thread; connections yield rows readable by name."""

    engine = "sqlite"
    integrity_error = sqlite3.IntegrityError
    row_order = "rowid"  # insertion order
    section_items = "json_each(a.sections) s"  # one row per cited section, as s.value
    concat_distinct = "group_concat(DISTINCT {})"
    housekeeping: tuple[str, ...] = ()  # what else the hourly purge deletes (nothing here)

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.where = str(self.path)
        self._write_lock = threading.Lock()
        self._write_conn: sqlite3.Connection | None = None
        self._write_file: tuple[int, int] | None = None  # (device, inode) it was opened on
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.reading() as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                self._migrate(conn)
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot create its folder ({exc}); set FAQBOT_DB to a writable file") from None

    @contextmanager
    def reading(self):
        try:
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: cannot open the question log ({exc}); set FAQBOT_DB to a writable file") from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            yield conn
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: cannot open the question log ({exc}); set FAQBOT_DB to a writable file") from None
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
                self._open_writer()
            try:
                yield self._write_conn
            except sqlite3.IntegrityError:
                raise
            except sqlite3.Error as exc:
                self._close_writer()
                raise StorageError(f"{self.path}: the question log cannot be written ({exc})") from None

    def _open_writer(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: cannot open the question log ({exc})") from None
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA journal_mode=WAL")
            self._migrate(conn)  # a deleted log comes back with its tables
        except sqlite3.Error as exc:
            conn.close()
            raise StorageError(f"{self.path}: cannot open the question log ({exc})") from None
        self._write_conn, self._write_file = conn, _file_id(self.path)

    @contextmanager
    def transaction(self):
        """The write connection inside BEGIN ... COMMIT (rolled back on an error)."""
        with self.writing() as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

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
            conn.executescript(f"BEGIN;\n{SQLITE_MIGRATIONS[number - 1]}\nPRAGMA user_version = {number};\nCOMMIT;")
            logger.info("question log %s: migrated to schema version %d", self.path, number)

    def schema_version(self) -> int:
        with self.reading() as conn:
            return conn.execute("PRAGMA user_version").fetchone()[0]


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino
