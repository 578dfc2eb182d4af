"""The question log's PostgreSQL engine: one database that several replicas share.

``FAQBOT_DB=postgresql://user:password@host:5432/db`` puts the log, feedback, staff fixes and
the shared rate limit there. Connections come from psycopg 3's pool, which checks each one
before lending it and reconnects by itself after the database restarts; a wait for a
connection is bounded (:data:`WAIT`), so a database that went away costs a visitor nothing
(the log's writer keeps rows in memory meanwhile, :mod:`bot.store.chatlog`).

The schema is migrated on the first connection, in one transaction under an advisory lock:
replicas that start together migrate once, the others wait and find it done.

The queries are :class:`bot.store.database.Store`'s, written with ``?`` placeholders as for
SQLite; :class:`_Connection` passes them to psycopg as ``%s``.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from contextlib import contextmanager

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from bot.store.records import StorageError, Unreachable, shown_db
from bot.store.schema import POSTGRES_MIGRATIONS, SCHEMA_VERSION

logger = logging.getLogger(__name__)
# The pool logs a warning at every failed connection attempt (each second or so while the
# database is away); the log writer says once that writes fail, and once that they work again.
logging.getLogger("psycopg.pool").setLevel(logging.ERROR)

WAIT = 2.0  # seconds a write or a console read waits for a connection
CONNECT_TIMEOUT = 3  # seconds to open one connection (libpq's connect_timeout)
STATEMENT_TIMEOUT_MS = 5000  # no query holds a connection longer
POOL_SIZE = 4
# The pool retries a lost connection with backoff (1 s, 2 s, 4 s ...) for this long, then
# leaves the next request to start again: a database back after an hour is used within
# seconds, not after an hour-long backoff.
RECONNECT = 10.0
PROBE_EVERY = 30.0  # seconds between looks at why the database is unreachable
MIGRATION_LOCK = 0x66617162  # pg_advisory_xact_lock key: "faqb"


class PostgresDatabase:
    """The pool of connections to one PostgreSQL database, usable from any thread."""

    engine = "postgresql"
    integrity_error = psycopg.errors.IntegrityError
    row_order = "seq"
    section_items = "jsonb_array_elements_text(a.sections::jsonb) AS s(value)"
    concat_distinct = "string_agg(DISTINCT {}, ',')"
    # Deleted with the hourly purge: the shared rate limit's buckets of clients not seen for
    # an hour, full again by then (bot.store.buckets).
    housekeeping = ("DELETE FROM rate_buckets WHERE at < extract(epoch FROM clock_timestamp()) - 3600",)

    def __init__(self, url: str, *, wait: float = WAIT, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self.where = shown_db(url)
        self.wait = wait
        self._migrated = False
        self._migrate_lock = threading.Lock()
        self._down_until = 0.0  # fail-fast callers skip the database until then
        self._probed_at, self._probed = float("-inf"), None  # the last look at why it is unreachable
        self._pool_size = pool_size
        self._pool_lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        try:
            with self.reading():
                pass  # migrates when the database is reachable now; later otherwise
        except Unreachable as exc:
            logger.warning("question log: %s; answers are served, and rows are kept in memory until it is back", exc)
        except StorageError:
            self.close()
            raise

    @contextmanager
    def reading(self, wait: float | None = None, fail_fast: bool = False):
        """A connection from the pool (autocommit), within ``wait`` seconds or
        :class:`StorageError`. ``fail_fast``: raise at once for a few seconds after the
        database was found unreachable, instead of waiting each time."""
        if fail_fast and time.monotonic() < self._down_until:
            raise Unreachable(f"{self.where}: the question log was unreachable a moment ago")
        try:
            with self._opened().connection(timeout=self.wait if wait is None else wait) as conn:
                if not self._migrated:
                    self._migrate(conn)
                yield _Connection(conn)
        except psycopg.errors.IntegrityError:
            raise
        except (PoolTimeout, psycopg.OperationalError) as exc:
            self._down_until = time.monotonic() + 5.0
            why = self._cause() if isinstance(exc, PoolTimeout) and not fail_fast else None
            raise Unreachable(f"{self.where}: the question log is unreachable ({why or _first_line(exc)})") from None
        except psycopg.Error as exc:
            raise StorageError(f"{self.where}: the question log could not be used ({_first_line(exc)})") from None

    writing = reading

    def _cause(self) -> str | None:
        """Why no connection came: the pool only says it waited, so try one connection
        ourselves ("connection refused", "password authentication failed"), at most every
        :data:`PROBE_EVERY` seconds; None when it connects (the pool was only busy)."""
        now = time.monotonic()
        if now - self._probed_at < PROBE_EVERY:
            return self._probed
        self._probed_at = now
        try:
            psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT, application_name="faqbot").close()
            self._probed = None
        except psycopg.Error as exc:
            self._probed = _first_line(exc)
        return self._probed

    @contextmanager
    def transaction(self):
        with self.reading() as conn, conn.raw.transaction():
            yield conn

    def _migrate(self, conn: psycopg.Connection) -> None:
        with self._migrate_lock:
            if self._migrated:
                return
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                conn.execute("CREATE TABLE IF NOT EXISTS faqbot_schema (version INTEGER NOT NULL)")
                row = conn.execute("SELECT version FROM faqbot_schema").fetchone()
                if row is None:
                    conn.execute("INSERT INTO faqbot_schema (version) VALUES (0)")
                version = row["version"] if row else 0
                if version > SCHEMA_VERSION:
                    raise StorageError(f"{self.where} has schema version {version}, newer than this bot's {SCHEMA_VERSION}: "
                                       "upgrade the bot, or set FAQBOT_DB to another database")
                for number in range(version + 1, SCHEMA_VERSION + 1):
                    conn.execute(POSTGRES_MIGRATIONS[number - 1])
                    conn.execute("UPDATE faqbot_schema SET version = %s", (number,))
                    logger.info("question log %s: migrated to schema version %d", self.where, number)
            self._migrated = True

    def schema_version(self) -> int:
        with self.reading() as conn:
            return conn.execute("SELECT version FROM faqbot_schema").fetchone()["version"]

    def _new_pool(self) -> ConnectionPool:
        try:
            return ConnectionPool(
                self.url, min_size=1, max_size=self._pool_size, open=False, timeout=self.wait, name="faqbot-log",
                check=ConnectionPool.check_connection, reconnect_timeout=RECONNECT,
                kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT,
                        "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}", "application_name": "faqbot"},
            )
        except psycopg.ProgrammingError as exc:  # a URL libpq cannot parse
            raise StorageError(f"FAQBOT_DB={self.where!r} is not a usable PostgreSQL URL ({_first_line(exc)}); "
                               "write it as postgresql://user:password@host:5432/database") from None

    def _opened(self) -> ConnectionPool:
        """The pool, opened on first use (again after :meth:`close`: a closed pool cannot reopen)."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = self._new_pool()
                self._pool.open(wait=False)
            return self._pool

    def close(self) -> None:
        """Close every connection (the next use opens a new pool)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


class _Connection:
    """A psycopg connection that takes the store's ``?`` placeholders."""

    __slots__ = ("raw",)

    def __init__(self, raw: psycopg.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, params=()):
        return self.raw.execute(_dialect(sql), params or None)

    def executemany(self, sql: str, rows) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(_dialect(sql), rows)


@functools.lru_cache(maxsize=256)
def _dialect(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
