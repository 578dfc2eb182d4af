"""Serve the bot: the HTTP API, the widget and the staff console in one process.

    python app.py [--host 127.0.0.1] [--port 7860]

This file only composes: read the settings, open the question log, start loading the bot,
build the API, mount the console (behind the staff sign-in when one is set), serve.
"""

from __future__ import annotations

import argparse
import logging
import os
from contextlib import asynccontextmanager
from functools import partial

# No outbound calls of the app's own, whatever the environment says: no Gradio analytics or
# version checks, no model hub (the model ships in a package).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# numpy's BLAS on one thread: a server's matrix products are a question against a few
# hundred sentences, and a second BLAS thread only spins on the core the crisis check and
# the next visitor need (docs/BENCHMARKS.md). Set before numpy is imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402
from fastapi.concurrency import run_in_threadpool  # noqa: E402

from bot.adapters.api import create_api  # noqa: E402
from bot.adapters.console import build_ui, staff_auth  # noqa: E402
from bot.adapters.security import console_options  # noqa: E402
from bot.errors import BotError  # noqa: E402
from bot.serve.ratelimit import SharedRateLimiter  # noqa: E402
from bot.serve.runtime import BotHolder  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.store import ChatLog  # noqa: E402
from bot.store.buckets import take_token  # noqa: E402

# Seconds an idle kept-alive connection stays open. Longer than what clients and proxies keep
# idle connections for (httpx 5 s, nginx's upstream keepalive_timeout 60 s): when the server
# closes first, a request sent at that moment on the closing connection gets no reply
# (docs/RELIABILITY.md, "A dropped connection in the soak").
KEEP_ALIVE = 75


@asynccontextmanager
async def closing(log: ChatLog):
    """Write the question log's queued rows when the server stops. In the server's own
    shutdown, because uvicorn ends the process with the signal it caught (SIGTERM) right
    after: code after ``uvicorn.run`` does not run then."""
    yield
    await run_in_threadpool(log.close)


def build_app(settings: Settings, holder: BotHolder | None = None, log: ChatLog | None = None):
    """The ASGI app: API routes first, the Gradio console mounted at ``/``.

    Raises :class:`bot.adapters.console.OpenConsoleRefused` when the console would be open to
    the network without a sign-in."""
    auth = staff_auth(settings)
    holder = holder or BotHolder(settings)
    log = log or ChatLog.open(settings)
    api = create_api(holder, lifespan=lambda _: closing(log))
    api.state.chat_log = log  # /api/chat records each answered message here
    if api.state.rate_limiter is not None and log.store is not None and log.store.engine == "postgresql":
        # Replicas on one PostgreSQL count each client once, whichever replica it reaches.
        api.state.rate_limiter = SharedRateLimiter(partial(take_token, log.store), api.state.rate_limiter)
    app = gr.mount_gradio_app(
        api, build_ui(holder, log), path="/", auth=auth, auth_message="Staff sign-in: the clinic FAQ bot's console.",
        run_history=False,  # visitors' questions stay on the server, not in the staff's browser storage
        footer_links=["api", "settings"],
        **console_options(settings),  # no file routes into the index, log or corpus; uploads capped
    )
    return app, holder, log


class AnnouncingServer(uvicorn.Server):
    """uvicorn's server, which says once where to go when it is listening."""

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            host, port = self.config.host, self.config.port
            base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
            print(
                f"Clinic FAQ bot listening on {base}: staff console {base}/ · widget demo {base}/demo · "
                f"API POST {base}/api/chat (health {base}/healthz)",
                flush=True,
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the clinic's FAQ bot.")
    parser.add_argument("--host", help="address to listen on (FAQBOT_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (FAQBOT_PORT, default 7860)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(host=args.host, port=args.port)
    except ValueError as exc:
        parser.exit(2, f"error: {exc}\n")
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app, holder, log = build_app(settings)
    except (BotError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    holder.load_in_background()
    try:
        # Open console tabs keep a heartbeat stream open: without a limit, stopping the server
        # would wait for them.
        # proxy_headers=False: the client address is the connection's unless FAQBOT_TRUST_PROXY
        # says otherwise (bot.ratelimit reads X-Forwarded-For then).
        config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", access_log=False,
                                timeout_graceful_shutdown=5, proxy_headers=False, timeout_keep_alive=KEEP_ALIVE)
        AnnouncingServer(config).run()
    finally:
        log.close()


if __name__ == "__main__":
    main()
