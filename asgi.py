"""Serve the bot with several worker processes (uvicorn's process manager).

    python asgi.py --workers 2 [--host 127.0.0.1] [--port 7860]

Each worker is a whole server as ``app.py`` builds it (settings from ``FAQBOT_*``, the API,
the console), with its own copy of the model and of the read-only index: about 0.7 GB
each. The API is stateless (the conversation comes with every request), so any worker
answers any request; the kernel spreads connections over them. The staff console keeps
its session in the worker that served its page: behind several workers it needs sticky
sessions, or its own single-worker server (see docs/BENCHMARKS.md, "Past one machine").

``create`` is the factory each worker calls; other process managers can use it too, e.g.
``uvicorn --factory asgi:create --workers 2`` (then set ``FAQBOT_HOST`` to the address
given to ``--host``: it decides whether the console needs a staff password).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

from app import KEEP_ALIVE, build_app
from bot.adapters.console import staff_auth
from bot.errors import BotError
from bot.settings import Settings


def create():
    """The ASGI app of one worker: settings from the environment, the bot loading in the
    background (``/healthz`` answers 503 until it is ready)."""
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    app, holder, _ = build_app(settings)  # the app writes the question log out when it stops
    holder.load_in_background()
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the clinic's FAQ bot with several worker processes.")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2: one per core)")
    parser.add_argument("--host", help="address to listen on (FAQBOT_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (FAQBOT_PORT, default 7860)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.exit(2, "error: --workers must be 1 or more\n")
    try:
        settings = Settings.from_env(host=args.host, port=args.port)
        staff_auth(settings)  # refuse an open console before starting any worker
    except (BotError, ValueError) as exc:
        parser.exit(2, f"error: {exc}\n")
    # The workers read their settings from the environment: the flags go there too.
    os.environ["FAQBOT_HOST"] = settings.host
    os.environ["FAQBOT_PORT"] = str(settings.port)
    config = uvicorn.Config(
        "asgi:create", factory=True, workers=args.workers, host=settings.host, port=settings.port,
        log_level="warning", access_log=False, timeout_graceful_shutdown=5, proxy_headers=False, timeout_keep_alive=KEEP_ALIVE,
    )
    if args.workers == 1:
        uvicorn.Server(config).run()
    else:
        Multiprocess(config, sockets=[listening_socket(settings.host, settings.port)]).run()


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket the workers share, made as uvicorn makes it but as a TCP socket by name.

    asyncio turns Nagle's algorithm off (TCP_NODELAY) only on connections accepted from a
    socket whose protocol says TCP; uvicorn's own shared socket says 0, and then every
    reply waits for the client's delayed acknowledgement: 40 ms more per request."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


if __name__ == "__main__":
    main()
