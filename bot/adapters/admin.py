"""Admin endpoints for maintainers: ``POST /admin/reload`` serves a newly built index now
(a server also notices one by itself within ``FAQBOT_RELOAD_INTERVAL`` seconds).

They work only when ``FAQBOT_ADMIN_TOKEN`` is set (404 otherwise), and answer only requests
that send it as ``Authorization: Bearer <token>`` (401 otherwise).
"""

from __future__ import annotations

import hmac
import logging

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from bot.serve.runtime import BotHolder

logger = logging.getLogger(__name__)


def _error(status: int, code: str, message: str, headers: dict | None = None, **extra) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}, **extra}, status_code=status, headers=headers)


def authorized(header: str, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` (compared in constant time)."""
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def add_admin_routes(api: FastAPI, holder: BotHolder) -> None:
    """Add ``/admin/*`` to ``api``; without an admin token in the settings they answer 404."""
    token = holder.settings.admin_token

    @api.post("/admin/reload")
    async def reload(request: Request) -> JSONResponse:
        if not token:  # answered here, in the API's own error shape, not by the console's 404
            return _error(404, "not_found", "this server has no admin routes: set FAQBOT_ADMIN_TOKEN to enable them")
        if not authorized(request.headers.get("authorization", ""), token):
            logger.warning("refused POST /admin/reload without the admin token")
            return _error(
                401, "unauthorized", "send the admin token as 'Authorization: Bearer <FAQBOT_ADMIN_TOKEN>'",
                {"WWW-Authenticate": "Bearer"},
            )
        result = await run_in_threadpool(holder.reload)
        if not result.ok:
            return _error(
                409, "reload_failed", f"the new index was refused, still serving {result.served}: {result.error}",
                served=result.served, reload=holder.reload_info(),
            )
        return JSONResponse({"status": result.outcome, "served": result.served, "reload": holder.reload_info()})
