"""What the HTTP edge does for safety, whatever route answers: security headers on every
response, Gradio's routes that fetch URLs closed, the allowed origins checked, and the
options the staff console is mounted with.

Headers (:class:`SecurityHeaders`, a plain ASGI middleware so streamed responses such as
the console's event stream pass through untouched):

- every response: ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: same-origin``;
- ``/demo`` and ``/source/...``: a Content Security Policy that allows only this server's
  own scripts, styles, images and API (inline styles are allowed: the pages and the
  widget's Shadow DOM carry their CSS inline), and no framing by other sites;
- every other HTML page (the Gradio console and its sign-in page): a policy that keeps
  the page to this server's origin (Gradio needs inline scripts and styles) and
  ``frame-ancestors 'self'`` plus ``X-Frame-Options: SAMEORIGIN``, so another site cannot
  frame the console to trick a signed-in staff member into clicks;
- the JSON API (``/api/...``, ``/healthz``, ``/admin/...``): ``Cache-Control: no-store``, so
  no proxy or browser cache keeps a visitor's health question or its answer.

Closed routes: Gradio's ``/gradio_api/file=<url>`` (and ``/gradio_api/file/<url>``)
fetches an http(s) URL from the server and streams it back, and ``/gradio_api/proxy=<url>``
proxies one: outbound requests on a visitor's behalf, which this app never needs. They
answer 403 before Gradio sees them. Local paths are left to Gradio's own allow-list
(uploads and its cache only), with the index and corpus folders and the question log added
to its ``blocked_paths`` (:func:`console_options`).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.settings import Settings
from bot.store.records import is_postgres_url

logger = logging.getLogger(__name__)

# /demo: the widget's script and its calls to this server; inline styles (the page's own
# <style> and the widget's Shadow DOM stylesheet).
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
# /source/...: static HTML with an inline stylesheet, no scripts at all.
SOURCE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
# The Gradio console: its own origin only (it inlines its config and styles).
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' data: blob:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
REFERRER_POLICY = "same-origin"
JSON_PREFIXES = ("/api/", "/healthz", "/admin/")
CONSOLE_MAX_UPLOAD = "5mb"  # an evaluation file is a few kilobytes

# Gradio routes that make the server fetch a URL: the value after "file=" / "file/" when
# it has a scheme ("https:") or is protocol-relative ("//host"), and any "proxy=".
_FETCHES_URL = re.compile(r"/(?:file=|file/)\s*(?:[a-z][a-z0-9+.\-]*:|[/\\]{2})|/proxy=", re.IGNORECASE)


def refused_path(path: str) -> str | None:
    """Why a request to ``path`` is refused before any route sees it, or None."""
    if _FETCHES_URL.search(path):
        return "this server does not fetch other addresses"
    return None


class SecurityHeaders:
    """ASGI middleware: the headers in the module docstring, and the closed routes (403)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        why = refused_path(path)
        if why is not None:
            logger.info("refused %s %s: %s", scope.get("method"), path[:200], why)
            response = JSONResponse({"error": {"code": "forbidden", "message": why}}, status_code=403)
            await _with_headers(response, scope, receive, send, path)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_headers(MutableHeaders(scope=message), path)
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _with_headers(response: JSONResponse, scope: Scope, receive: Receive, send: Send, path: str) -> None:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            add_headers(MutableHeaders(scope=message), path)
        await send(message)

    await response(scope, receive, send_with_headers)


def add_headers(headers: MutableHeaders, path: str) -> None:
    """Set the security headers of a response to ``path`` (see the module docstring)."""
    headers["X-Content-Type-Options"] = "nosniff"
    headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    if path.startswith(JSON_PREFIXES):
        headers["Cache-Control"] = "no-store"
        return
    if path == "/demo":
        csp = PAGE_CSP
    elif path.startswith("/source/"):
        csp = SOURCE_CSP
    elif headers.get("content-type", "").startswith("text/html"):
        csp = CONSOLE_CSP
    else:
        return
    headers["Content-Security-Policy"] = csp
    headers["X-Frame-Options"] = "SAMEORIGIN"


def check_origins(origins: tuple[str, ...]) -> tuple[str, ...]:
    """The allowed origins, normalised (lower-case scheme and host), or ValueError naming the
    one that is not an origin. ``*`` (any site) is allowed with a warning."""
    checked = []
    for origin in origins:
        if origin == "*":
            logger.warning("FAQBOT_ALLOWED_ORIGINS=*: any website may call the chat API from its visitors' browsers")
            checked.append(origin)
            continue
        parts = urlsplit(origin)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment \
                or parts.username or parts.password or port == -1:
            raise ValueError(
                f"FAQBOT_ALLOWED_ORIGINS: {origin!r} is not an origin: write each as scheme://host[:port], with no path "
                "and no trailing slash, e.g. https://www.clinic.example"
            )
        checked.append(f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port is not None else ""))
    return tuple(checked)


def console_options(settings: Settings) -> dict:
    """Keyword arguments of ``gr.mount_gradio_app`` that keep the console to what it needs:
    the index and corpus folders and the question log never served as files, uploads
    capped, and Gradio's MCP server, monitoring page, app install and server-side
    rendering off."""
    blocked = {settings.index_dir.resolve(), settings.corpus_dir.resolve()}
    if not is_postgres_url(settings.db):
        db = Path(settings.db).resolve()
        blocked |= {db, *(db.with_name(db.name + suffix) for suffix in ("-wal", "-shm", "-journal"))}
    # A folder holding Gradio's upload folder (an index in /tmp, say) would block the
    # console's own uploads: leave such a folder to Gradio's allow-list.
    from gradio.utils import get_upload_folder  # here: the API itself does not need Gradio

    uploads = Path(get_upload_folder()).resolve()
    return {
        "blocked_paths": sorted(str(p) for p in blocked if not uploads.is_relative_to(p)),
        "max_file_size": CONSOLE_MAX_UPLOAD,
        "mcp_server": False,
        "enable_monitoring": False,
        "pwa": False,
        "ssr_mode": False,
    }
