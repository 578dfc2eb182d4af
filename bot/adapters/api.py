"""The HTTP API: ``POST /api/chat``, ``GET /healthz``, ``GET /source/<name>``, the widget.

Each route turns a request into one call on the core and maps the core's errors to status
codes. Only the outermost handler catches everything: it logs the traceback and answers a
short JSON error, so a visitor never sees one.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..corpus import corpus_files, parse_document
from ..errors import CorpusError
from ..inputs import ChatRequest, InvalidRequest
from ..replies import Reply
from ..runtime import BotHolder
from ..safety import is_crisis
from ..storage import CHANNEL_HEADER, channel_from_headers
from .admin import add_admin_routes
from .pages import render_document

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def error(status: int, code: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


async def read_json_body(request: Request, limit: int) -> object:
    """The request's JSON body, refusing non-JSON (415) and bodies over ``limit`` bytes (413)
    before reading them in full."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise _Refused(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _Refused(413, "body_too_large", f"the body is larger than {limit} bytes")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise _Refused(413, "body_too_large", f"the body is larger than {limit} bytes")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _Refused(400, "invalid_json", "the body is not valid UTF-8 JSON") from None


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message


def answered(request: Request, message: str, reply: Reply, started: float) -> JSONResponse:
    """The reply as JSON, recorded in the question log (``app.state.chat_log``, set by app.py)
    as channel "widget" (header ``X-FAQBot-Channel: widget``) or "api". Never raises."""
    chat_log = getattr(request.app.state, "chat_log", None)
    if chat_log is not None:
        chat_log.record(channel_from_headers(request.headers), message, reply, time.perf_counter() - started)
    return JSONResponse(reply.to_json())


def create_api(holder: BotHolder) -> FastAPI:
    """The FastAPI app for ``holder``'s bot (the Gradio console is mounted by app.py)."""
    settings = holder.settings
    api = FastAPI(title="Clinic FAQ bot", docs_url=None, redoc_url=None, openapi_url=None)
    api.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.allowed_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", CHANNEL_HEADER],
        expose_headers=["Retry-After"],
        max_age=600,
    )

    @api.exception_handler(_Refused)
    async def refused(_: Request, exc: _Refused) -> JSONResponse:
        return error(exc.status, exc.code, exc.message)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error(exc.status_code, code, str(exc.detail))

    @api.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return error(500, "internal_error", "something went wrong on our side; please try again")

    @api.post("/api/chat")
    async def chat(request: Request) -> JSONResponse:
        started = time.perf_counter()
        data = await read_json_body(request, settings.max_body_bytes)
        try:
            chat_request = ChatRequest.parse(data, settings)
        except InvalidRequest as exc:
            return error(422, "invalid_request", str(exc))
        bot = holder.bot
        if bot is None:
            # Crisis replies never wait for the model or the index.
            if is_crisis(chat_request.message):
                return answered(request, chat_request.message, holder.crisis_only(), started)
            return error(503, "not_ready", "the bot is starting; try again in a few seconds", {"Retry-After": "5"})
        reply = await run_in_threadpool(bot.answer, chat_request.message, chat_request.history)
        return answered(request, chat_request.message, reply, started)

    @api.get("/healthz")
    async def healthz() -> JSONResponse:
        bot = holder.bot
        if bot is None:
            status = "failed" if holder.error else "loading"
            return JSONResponse({"status": status, "error": holder.error, "reload": holder.reload_info()}, status_code=503)
        index_status = bot.index_status()
        return JSONResponse({"status": "ok", "index": bot.index.manifest.summary(), "stale": index_status.stale, "reload": holder.reload_info()})

    @api.get("/source/{name:path}")
    async def source(name: str) -> Response:
        root = settings.corpus_dir
        for path in corpus_files(root):
            if path.relative_to(root).with_suffix("").as_posix() == name:
                try:
                    return HTMLResponse(render_document(parse_document(path, root)))
                except CorpusError as exc:
                    logger.error("cannot render %s: %s", path, exc)
                    return error(500, "corpus_error", "this document cannot be shown right now")
        return error(404, "not_found", f"no document named {name!r}")

    @api.get("/widget.js")
    async def widget() -> Response:
        return Response((STATIC / "widget.js").read_bytes(), media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "public, max-age=300"})

    @api.get("/demo")
    async def demo() -> Response:
        return HTMLResponse((STATIC / "demo.html").read_text(encoding="utf-8"))

    add_admin_routes(api, holder)
    return api
