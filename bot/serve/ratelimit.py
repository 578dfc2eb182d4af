"""Per-client rate limiting of visitors' questions: a token bucket per client address.

Each client (an IP address; IPv6 addresses by their /64 network, which one household or
phone holds whole) has a bucket of ``burst`` tokens that refills at ``per_minute`` tokens a
minute. A request takes a token; an empty bucket means "wait", with the seconds until the
next token for the ``Retry-After`` header. ``FAQBOT_RATE_LIMIT=0`` turns limiting off.

Several replicas share one limit when the question log is in PostgreSQL
(:class:`SharedRateLimiter` over :mod:`bot.store.buckets`); each keeps its own buckets as the
fallback while the database does not answer.

The adapter decides what is limited: POST /api/chat, except crisis messages, which are
never withheld (see bot.adapters.api).

The client address is the connection's, unless the settings say how many proxies stand in
front of the server (``FAQBOT_TRUST_PROXY``): then it is read from ``X-Forwarded-For``,
counting from the right, because only the entries the trusted proxies appended are true
(anything to their left is whatever the client chose to send).

Why not a rate-limiting library: the crisis bypass, the /64 keying and the proxy counting
are ours and would wrap any of them; the bucket is ten lines. The bounded table of clients
is cachetools' LRU map.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import LRUCache

from bot.settings import Settings

logger = logging.getLogger(__name__)

MAX_CLIENTS = 10_000  # buckets kept; the least recently seen client is forgotten first


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # clock reading when ``tokens`` was last brought up to date


class RateLimiter:
    """Token buckets by client key. Thread-safe; memory bounded by ``max_clients``."""

    blocking = False  # memory only: cheap enough for the event loop

    def __init__(self, per_minute: int, burst: int, *, max_clients: int = MAX_CLIENTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError(f"FAQBOT_RATE_LIMIT must be 0 (no limit) or a number of requests per minute, not {per_minute}")
        if burst < 1:
            raise ValueError(f"FAQBOT_RATE_BURST must be at least 1 (requests a client may send at once), not {burst}")
        self.per_minute = per_minute
        self.burst = burst
        self._rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        # The least recently seen clients are forgotten beyond max_clients (under _lock).
        self._buckets: LRUCache[str, _Bucket] = LRUCache(maxsize=max_clients)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter | None:
        """The limiter the settings ask for, or None when ``rate_limit`` is 0 (off).
        Raises ValueError naming the variable when a value is out of range."""
        if settings.rate_limit < 0:
            raise ValueError(f"FAQBOT_RATE_LIMIT must be 0 (no limit) or more, not {settings.rate_limit}")
        if settings.rate_limit == 0:
            return None
        return cls(settings.rate_limit, settings.rate_burst)

    def take(self, client: str) -> float:
        """Take a token for ``client``: 0.0 when the request may go on, otherwise the
        seconds until the client's next token."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                bucket = self._buckets[client] = _Bucket(float(self.burst), now)
            else:
                bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self._rate)
                bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self._rate

    def clients(self) -> int:
        """How many clients have a bucket (for tests and diagnostics)."""
        return len(self._buckets)


class SharedRateLimiter:
    """The replicas' shared buckets (``take_shared``, one statement in PostgreSQL:
    :func:`bot.store.buckets.take_token`), with this process's own :class:`RateLimiter` as
    the fallback while the database does not answer: limiting goes on, per replica."""

    blocking = True  # asks the database: run it off the event loop

    def __init__(self, take_shared: Callable[[str, float, int], float], local: RateLimiter) -> None:
        self._take_shared = take_shared
        self.local = local
        self.per_minute, self.burst = local.per_minute, local.burst
        self._falling_back = False

    def take(self, client: str) -> float:
        try:
            wait = self._take_shared(client, self.per_minute / 60.0, self.burst)
        except Exception as exc:  # never a reason to refuse or fail a visitor
            if not self._falling_back:
                logger.warning("rate limit: the shared buckets cannot be used (%s); this replica limits on its own until they can", exc)
                self._falling_back = True
            return self.local.take(client)
        if self._falling_back:
            logger.info("rate limit: the shared buckets are used again")
            self._falling_back = False
        return wait


def retry_after(seconds: float) -> str:
    """``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


def client_key(peer: str | None, forwarded_for: str | None, trusted_proxies: int) -> str:
    """The key a client's requests are counted under.

    ``peer`` is the connection's address; ``forwarded_for`` the ``X-Forwarded-For`` header
    (comma-separated, each proxy appends the address it saw). With ``trusted_proxies`` = N
    > 0 the client is the N-th address from the right (the leftmost when there are fewer);
    when that entry is not an IP address, the peer. IPv6 addresses are counted by their /64
    network."""
    address = peer or ""
    if trusted_proxies > 0 and forwarded_for:
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        if hops:
            candidate = hops[-trusted_proxies] if len(hops) >= trusted_proxies else hops[0]
            if _ip(candidate) is not None:
                address = candidate
    ip = _ip(address)
    if ip is None:
        return address or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:  # "::ffff:203.0.113.7" is 203.0.113.7
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
