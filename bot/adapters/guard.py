"""What stands in front of the console's routes: failed sign-ins limited, and no write
action triggered from another site.

:class:`SignInGuard` is an ASGI middleware around the whole app:

- ``POST /login`` (Gradio's sign-in form): each failure counts against the client's
  address and against the user name tried. After :data:`FREE_FAILURES` failures in a row,
  the next attempt must wait, 30 seconds at first and twice as long after each further
  failure, up to 15 minutes; an attempt that comes too early gets a 429 with
  ``Retry-After`` and its password is never checked. A success clears both counts.
  Failures are forgotten after :data:`FORGET_AFTER` seconds without one. Each failure is
  logged with the user name and address, never the password tried.
- Any other request that can change something (not GET, HEAD or OPTIONS) to the console's
  routes, sent by a browser from a page of another origin (:func:`is_cross_site`), gets a
  403 before Gradio sees it. Gradio's own
  session cookie is ``SameSite=None`` on HTTPS, so a page on another site could otherwise
  post to the console's queue with a signed-in staff member's cookie. The visitors' JSON
  API (``/api/...``) is left to its CORS allow-list, which the widget on the clinic's
  pages needs.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.serve.ratelimit import client_key, retry_after

logger = logging.getLogger(__name__)

FREE_FAILURES = 5  # failed sign-ins in a row allowed before the next one must wait
FIRST_WAIT = 30.0  # seconds, after FREE_FAILURES failures; doubled after each further one
LONGEST_WAIT = 15 * 60.0
FORGET_AFTER = 60 * 60.0  # failures older than this (without a newer one) are forgotten
MAX_KEYS = 10_000  # addresses and user names remembered; the least recent are dropped
MAX_FORM = 16 * 1024  # a sign-in form is a user name and a password
LOGIN_PATHS = ("/login", "/login/")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
OPEN_TO_OTHER_SITES = ("/api/", "/healthz")  # the visitors' API: CORS decides


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class FailedSignIns:
    """Failed sign-ins per key ("ip:..." or "user:..."), and how long the next must wait."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, _Failures] = OrderedDict()

    def wait(self, *keys: str) -> float:
        """Seconds before a sign-in under any of ``keys`` may be tried again (0: now)."""
        now = self._clock()
        with self._lock:
            return max((self._wait_for(key, now) for key in keys), default=0.0)

    def begin(self, *keys: str) -> tuple[float, int]:
        """Start a sign-in: (seconds to wait, 0) when it must wait, else (0, failures in a
        row so far, this attempt included). The attempt counts as a failure until
        :meth:`succeeded` says otherwise, so attempts sent at the same moment cannot all
        pass the check before any of them is counted."""
        now = self._clock()
        with self._lock:
            wait = max((self._wait_for(key, now) for key in keys), default=0.0)
            if wait:
                return wait, 0
            return 0.0, self._count(keys, now)

    def _wait_for(self, key: str, now: float) -> float:
        entry = self._seen.get(key)
        if entry is None or now - entry.last > FORGET_AFTER:
            return 0.0
        if entry.count < FREE_FAILURES:
            return 0.0
        lock = min(FIRST_WAIT * 2 ** min(entry.count - FREE_FAILURES, 20), LONGEST_WAIT)
        return max(0.0, entry.last + lock - now)

    def failed(self, *keys: str) -> int:
        """Count a failure under each key; the most failures in a row among them."""
        with self._lock:
            return self._count(keys, self._clock())

    def _count(self, keys: tuple[str, ...], now: float) -> int:
        most = 0
        for key in keys:
            entry = self._seen.pop(key, None)
            if entry is None or now - entry.last > FORGET_AFTER:
                entry = _Failures(0, now)
            entry.count, entry.last = entry.count + 1, now
            self._seen[key] = entry
            most = max(most, entry.count)
        while len(self._seen) > MAX_KEYS:
            self._seen.popitem(last=False)
        return most

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._seen.pop(key, None)


class SignInGuard:
    """ASGI middleware: the sign-in limits and the cross-site refusal of the module docstring."""

    def __init__(self, app: ASGIApp, trust_proxy: int = 0, failures: FailedSignIns | None = None) -> None:
        self.app = app
        self.trust_proxy = trust_proxy
        self.failures = failures or FailedSignIns()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if not path.startswith(OPEN_TO_OTHER_SITES) and is_cross_site(Request(scope)):
            logger.warning("refused %s %s from another site (Origin %s)", scope["method"], path[:200],
                           Request(scope).headers.get("origin", "-")[:200])
            await _refuse(403, "cross_site", "the staff console takes no actions sent from another website", scope, receive, send)
            return
        if path in LOGIN_PATHS:
            await self._sign_in(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _sign_in(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive, MAX_FORM)
        if body is None:
            await _refuse(413, "too_large", "a sign-in form is a user name and a password", scope, receive, send)
            return
        users = _user_names(scope, body)
        if len(users) > 1:
            await _refuse(400, "bad_form", "send the user name once", scope, receive, send)
            return
        user = users[0] if users else ""
        request = Request(scope)
        address = client_key(request.client.host if request.client else None,
                             ",".join(request.headers.getlist("x-forwarded-for")), self.trust_proxy)
        keys = (f"ip:{address}", f"user:{user.casefold()}")
        wait, count = self.failures.begin(*keys)
        if wait:
            logger.warning("staff sign-in as %r from %s refused for %ds: too many failed sign-ins", user[:64], address, math.ceil(wait))
            await _refuse(429, "too_many_sign_ins", f"too many failed sign-ins: try again in {retry_after(wait)} seconds",
                          scope, receive, send, {"Retry-After": retry_after(wait)})
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, replay_body(body), watch)
        if status == 200:
            self.failures.succeeded(*keys)
            logger.info("staff signed in as %r from %s", user[:64], address)
        else:  # counted as a failure when it began
            logger.warning("failed staff sign-in as %r from %s (%d in a row)", user[:64], address, count)


def is_cross_site(request: Request) -> bool:
    """Whether a browser sent ``request`` from a page of another origin: the check of Go's
    ``http.CrossOriginProtection``. Browsers since 2023 say where a request comes from in
    ``Sec-Fetch-Site``; older ones send an ``Origin`` that must match the ``Host``. A request
    with neither (curl, a script) was not sent by a page, so no visitor's cookie rides along
    unasked."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.lower() not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    host = request.headers.get("host") or ""
    return origin == "null" or urlsplit(origin).netloc.lower() != host.lower()


def _user_names(scope: Scope, body: bytes) -> list[str]:
    """Every user name a sign-in form (urlencoded or multipart) holds: a form with two is
    refused, since the limit must count the one the password is checked against."""
    content_type = Request(scope).headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return [v.strip() for v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).get("username", [])]
    if content_type.startswith("multipart/form-data"):
        from python_multipart.multipart import parse_options_header  # as FastAPI's forms

        _, options = parse_options_header(content_type)
        boundary = options.get(b"boundary", b"")
        names = []
        for part in body.split(b"--" + boundary) if boundary else []:
            head, _, value = part.partition(b"\r\n\r\n")
            if b'name="username"' in head:
                names.append(value.rstrip(b"\r\n").decode("utf-8", "replace").strip())
        return names
    return []


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay_body(body: bytes) -> Receive:
    """An ASGI ``receive`` that hands over ``body`` (read already) once, then a disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _refuse(status: int, code: str, message: str, scope: Scope, receive: Receive, send: Send,
                  headers: dict[str, str] | None = None) -> None:
    response = JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)
    await response(scope, receive, send)
