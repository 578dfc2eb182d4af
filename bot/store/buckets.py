"""The rate limit that replicas share: one token bucket per client in PostgreSQL.

:func:`take_token` refills and takes in one statement (an upsert on the client's row), on
the database's clock, so every replica counts against the same bucket and no two requests
can take the last token. The table is unlogged (:mod:`bot.store.schema`): after a crash
every client starts with a full bucket, which is what a limiter may forget; the hourly purge
deletes the buckets of clients not seen for an hour (``housekeeping`` in
:mod:`bot.store.postgres`).

The adapter wires it behind :class:`bot.serve.ratelimit.SharedRateLimiter`, which falls back
to the replica's own limiter when the database does not answer within :data:`WAIT`.
"""

from __future__ import annotations

from bot.store.database import Store

WAIT = 0.25  # seconds a request waits for a connection before the local limiter decides

# A new client starts with a full bucket less this request's token; a known one's bucket is
# refilled for the time since its last request (capped at the burst), then gives a token if
# it holds one.
_TAKE = """
INSERT INTO rate_buckets AS b (client, tokens, at, granted)
VALUES (?, ? - 1, extract(epoch FROM clock_timestamp()), true)
ON CONFLICT (client) DO UPDATE SET (granted, tokens, at) = (
    SELECT r >= 1, r - CASE WHEN r >= 1 THEN 1 ELSE 0 END, excluded.at
    FROM (SELECT least(?, b.tokens + (excluded.at - b.at) * ?) AS r) AS refill
)
RETURNING granted, tokens
"""


def take_token(store: Store, client: str, per_second: float, burst: int) -> float:
    """Take a token from ``client``'s shared bucket: 0.0 when the request may go on, else the
    seconds until its next token. :class:`StorageError` when the database does not answer
    in time (the caller decides without it)."""
    with store.db.reading(wait=WAIT, fail_fast=True) as conn:
        row = conn.execute(_TAKE, (client, burst, burst, per_second)).fetchone()
    return 0.0 if row["granted"] else (1.0 - row["tokens"]) / per_second

