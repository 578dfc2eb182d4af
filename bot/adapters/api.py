"""The HTTP API: ``POST /api/chat``, ``GET /healthz``, ``GET /source/<name>``, the widget,
and its own contract at ``GET /api/openapi.json`` (bot.adapters.openapi).

Each route turns a request into one call on the core and maps the core's errors to status
codes. Only the outermost handler catches everything: it logs the traceback and answers a
short JSON error, so a visitor never sees one.

``POST /api/chat`` is public, so it checks what it is sent before anything else: the
declared size (413 before reading), the media type (415), the time the body takes to
arrive (408), the JSON (400) and the fields (422, naming the field); then the client's rate
(429 with ``Retry-After``, see bot.serve.ratelimit), except for crisis messages, which are never
withheld. Security headers and closed Gradio routes: bot.adapters.security.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.adapters.admin import add_admin_routes
from bot.adapters.guard import SignInGuard, replay_body
from bot.adapters.openapi import openapi_document
from bot.adapters.pages import render_document
from bot.adapters.security import SecurityHeaders, check_origins
from bot.answer.service import UnknownSection
from bot.errors import CorpusError
from bot.ingest.corpus import corpus_files, document_name, parse_document
from bot.replies import Reply
from bot.safety.patterns import sure_sign
from bot.serve.inputs import ChatRequest, InvalidRequest
from bot.serve.ratelimit import RateLimiter, client_key, retry_after
from bot.serve.runtime import BotHolder
from bot.settings import Settings
from bot.store import CHANNEL_HEADER, channel_from_headers

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


async def read_json_body(request: Request, limit: int, timeout: float = 10.0) -> object:
    """The request's JSON body, refusing non-JSON (415), bodies over ``limit`` bytes (413,
    from the declared length before reading anything, else as soon as the limit is passed),
    bodies that take longer than ``timeout`` seconds to arrive (408) and anything that is not
    UTF-8 JSON (400: bad bytes, bad syntax, NaN or Infinity, nesting too deep to parse)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise _Refused(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise _Refused(400, "invalid_length", "the Content-Length header is not a number of bytes")
        if int(declared) > limit:
            raise _Refused(413, "body_too_large", f"the body is larger than {limit} bytes")
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async for part in request.stream():
                body += part
                if len(body) > limit:
                    raise _Refused(413, "body_too_large", f"the body is larger than {limit} bytes")
    except TimeoutError:
        raise _Refused(408, "request_timeout", f"the body did not arrive within {timeout:g} seconds") from None
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError):
        raise _Refused(400, "invalid_json", "the body is not valid UTF-8 JSON") from None
    except RecursionError:
        raise _Refused(400, "invalid_json", "the JSON is nested too deeply") from None


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message

    def response(self, instead: JSONResponse | None = None) -> JSONResponse:
        """The error (or ``instead``, a 429). A body left unread (413, 408) makes the server
        close the connection after the reply: ``Connection: close`` says so, or the client
        would send its next request on a connection already closing and get no reply."""
        response = instead or error(self.status, self.code, self.message)
        if self.status in (408, 413):
            response.headers["Connection"] = "close"
        return response


def answered(request: Request, message: str, reply: Reply, started: float) -> JSONResponse:
    """The reply as JSON, recorded in the question log (``app.state.chat_log``, set by app.py)
    as channel "widget" (header ``X-FAQBot-Channel: widget``) or "api". Never raises."""
    chat_log = request.app.state.chat_log
    if chat_log is not None:
        chat_log.record(channel_from_headers(request.headers), message, reply, time.perf_counter() - started)
    return JSONResponse(reply.to_json())


def check_limits(settings: Settings) -> None:
    """Refuse request limits that cannot work, naming the variable (ValueError)."""
    for name in ("max_message_chars", "max_history_turns", "max_history_chars", "max_body_bytes", "body_timeout", "rate_burst"):
        if getattr(settings, name) < 1:
            raise ValueError(f"FAQBOT_{name.upper()} must be at least 1, not {getattr(settings, name)}")
    if settings.trust_proxy < 0:
        raise ValueError(f"FAQBOT_TRUST_PROXY is the number of proxies in front of the server (0 or more), not {settings.trust_proxy}")


async def warm_up(app: FastAPI) -> None:
    """Pay at start-up what the first visitor would otherwise pay (about 6 ms): anyio's
    thread pool (its asyncio backend imported, its first worker thread started) and the
    first pass through ``POST /api/chat`` (FastAPI reads an endpoint's source lines on its
    first call). The pass is one request handed to the app in process, not over the
    network, that is refused (422: no message) and so neither answered nor logged."""
    await run_in_threadpool(lambda: None)
    receive = replay_body(b"{}")

    async def send(_: dict) -> None:
        pass

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/chat", "raw_path": b"/api/chat", "query_string": b"", "root_path": "", "client": None,
             "server": None, "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]}
    try:
        await app(scope, receive, send)
    except Exception:  # a warm-up must never stop the server from starting
        logger.debug("the start-up request failed", exc_info=True)


def _warmed(lifespan: Callable | None) -> Callable:
    @asynccontextmanager
    async def both(app: FastAPI):
        await warm_up(app)
        if lifespan is None:
            yield
        else:
            async with lifespan(app):
                yield

    return both


def create_api(holder: BotHolder, lifespan: Callable | None = None) -> FastAPI:
    """The FastAPI app for ``holder``'s bot (the Gradio console is mounted by app.py);
    ``lifespan``: what to start and stop with the server (app.py closes the question log).

    Raises ValueError, naming the variable, when a limit or an allowed origin in the
    settings cannot work."""
    settings = holder.settings
    check_limits(settings)
    limiter = RateLimiter.from_settings(settings)
    api = FastAPI(title="Clinic FAQ bot", docs_url=None, redoc_url=None, openapi_url=None, lifespan=_warmed(lifespan))
    api.state.chat_log = None  # a ChatLog when app.py gives one: each answered message is recorded
    api.state.rate_limiter = limiter
    api.add_middleware(
        CORSMiddleware,
        allow_origins=list(check_origins(settings.allowed_origins)),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", CHANNEL_HEADER],
        expose_headers=["Retry-After"],
        max_age=600,
    )
    api.add_middleware(SignInGuard, trust_proxy=settings.trust_proxy)  # the console's sign-in limits, no cross-site writes
    api.add_middleware(SecurityHeaders)  # outermost: refused routes never reach CORS or Gradio
    _add_error_handlers(api)
    _add_chat(api, holder)
    _add_pages(api, holder)
    add_admin_routes(api, holder)
    return api


def _add_error_handlers(api: FastAPI) -> None:
    """Every error as JSON in one shape, ``{"error": {"code", "message"}}``; no traceback."""

    @api.exception_handler(_Refused)
    async def refused(_: Request, exc: _Refused) -> JSONResponse:
        return exc.response()

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error(exc.status_code, code, str(exc.detail))

    @api.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return error(500, "internal_error", "something went wrong on our side; please try again")


def _add_chat(api: FastAPI, holder: BotHolder) -> None:
    """``POST /api/chat``: checked, rate-limited (never a crisis message), answered, logged."""
    settings = holder.settings

    async def too_many(request: Request) -> JSONResponse | None:
        """429 when the client has used up its questions for now, else None. The limiter is
        the app's (``app.state.rate_limiter``): shared by replicas when app.py gives one."""
        limiter = request.app.state.rate_limiter
        if limiter is None:
            return None
        client = client_key(request.client.host if request.client else None,
                            ",".join(request.headers.getlist("x-forwarded-for")), settings.trust_proxy)
        wait = await run_in_threadpool(limiter.take, client) if limiter.blocking else limiter.take(client)
        if not wait:
            return None
        seconds = retry_after(wait)
        unit = "second" if seconds == "1" else "seconds"
        return error(429, "rate_limited", f"too many questions in a short time; try again in {seconds} {unit}", {"Retry-After": seconds})

    @api.post("/api/chat")
    async def chat(request: Request) -> JSONResponse:
        started = time.perf_counter()
        try:
            data = await read_json_body(request, settings.max_body_bytes, settings.body_timeout)
            chat_request = ChatRequest.parse(data, settings)
        except _Refused as exc:  # a bad request still counts against the client's rate
            return exc.response(await too_many(request))
        except InvalidRequest as exc:
            return await too_many(request) or error(422, "invalid_request", str(exc))
        # Crisis messages are never withheld, by the limiter or while the bot loads: a sure
        # sign is read here at once; the crisis model is asked only when the message would
        # otherwise be refused (the bot asks it anyway when it answers).
        crisis = sure_sign(chat_request.message)
        if not crisis and (limited := await too_many(request)) is not None:
            if not await run_in_threadpool(holder.is_crisis, chat_request.message):
                return limited
            crisis = True
        bot = holder.bot
        if bot is None:
            if crisis or await run_in_threadpool(holder.is_crisis, chat_request.message):
                return answered(request, chat_request.message, holder.crisis_only(), started)
            return error(503, "not_ready", "the bot is starting; try again in a few seconds", {"Retry-After": "5"})
        if chat_request.section:
            try:
                reply = await run_in_threadpool(bot.answer_section, chat_request.message, chat_request.section, chat_request.history)
            except UnknownSection as exc:
                return error(422, "unknown_section", str(exc))
        else:
            reply = await run_in_threadpool(bot.answer, chat_request.message, chat_request.history)
        return answered(request, chat_request.message, reply, started)


def _add_pages(api: FastAPI, holder: BotHolder) -> None:
    """Health, the source documents, the API's contract, the widget and its demo page."""
    settings = holder.settings

    @api.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        """200 while the bot answers; the question log's own state beside it ("degraded" while
        rows wait in memory for the database), which never makes answering unhealthy."""
        chat_log = request.app.state.chat_log
        log = chat_log.status().to_json() if chat_log is not None else None
        bot = holder.bot
        if bot is None:
            status = "failed" if holder.error else "loading"
            return JSONResponse({"status": status, "error": holder.error, "reload": holder.reload_info(), "log": log}, status_code=503)
        index_status = bot.index_status()
        return JSONResponse({"status": "ok", "index": bot.index.manifest.summary(), "stale": index_status.stale,
                             "reload": holder.reload_info(), "log": log})

    @api.get("/source/{name:path}")
    async def source(name: str) -> Response:
        root = settings.corpus_dir
        for path in corpus_files(root):
            if document_name(path, root) == name:
                try:
                    return HTMLResponse(render_document(parse_document(path, root)))
                except CorpusError as exc:
                    logger.error("cannot render %s: %s", path, exc)
                    return error(500, "corpus_error", "this document cannot be shown right now")
        return error(404, "not_found", f"no document named {name!r}")

    contract = openapi_document(settings)

    @api.get("/api/openapi.json")
    async def openapi() -> JSONResponse:
        return JSONResponse(contract)

    @api.get("/widget.js")
    async def widget() -> Response:
        return Response((STATIC / "widget.js").read_bytes(), media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "public, max-age=300"})

    @api.get("/demo")
    async def demo() -> Response:
        return HTMLResponse((STATIC / "demo.html").read_text(encoding="utf-8"))
