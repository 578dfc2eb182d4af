"""The rate limit that replicas share: one token bucket per client in PostgreSQL.

:func:`take_token` refills and takes in one statement (an upsert on the client's row), on
the database's clock, so every replica counts against the same bucket and no two requests
can take the last token. The table is unlogged (:mod:`bot.store.schema`): after a crash
every client starts with a full bucket, which is what a limiter may forget.

The adapter wires it behind :class:`bot.serve.ratelimit.SharedRateLimiter`, which falls back
to the replica's own limiter when the database does not answer within :data:`WAIT`.
"""

from __future__ import annotations

from bot.store.database import Store

WAIT = 0.25  # seconds a request waits for a connection before the local limiter decides
IDLE = 3600  # seconds after which a client's bucket is full again and its row can go

_TAKE = """
INSERT INTO rate_buckets AS b (client, tokens, at, granted)
VALUES (?, ? - 1, extract(epoch FROM clock_timestamp()), true)
ON CONFLICT (client) DO UPDATE SET
    granted = least(?, b.tokens + (excluded.at - b.at) * ?) >= 1,
    tokens = least(?, b.tokens + (excluded.at - b.at) * ?) - CASE WHEN least(?, b.tokens + (excluded.at - b.at) * ?) >= 1 THEN 1 ELSE 0 END,
    at = excluded.at
RETURNING granted, tokens
"""


def take_token(store: Store, client: str, per_second: float, burst: int) -> float:
    """Take a token from ``client``'s shared bucket: 0.0 when the request may go on, else the
    seconds until its next token. :class:`StorageError` when the database does not answer
    in time (the caller decides without it)."""
    with store.db.reading(wait=WAIT, fail_fast=True) as conn:
        row = conn.execute(_TAKE, (client, burst, burst, per_second, burst, per_second, burst, per_second)).fetchone()
    return 0.0 if row["granted"] else (1.0 - row["tokens"]) / per_second


def forget_idle(store: Store) -> int:
    """Delete the buckets of clients not seen for :data:`IDLE` seconds; how many."""
    with store.writing() as conn:
        return conn.execute("DELETE FROM rate_buckets WHERE at < extract(epoch FROM clock_timestamp()) - ?", (IDLE,)).rowcount
