"""Serve the bot: the HTTP API, the widget and the staff console in one process.

    python app.py [--host 127.0.0.1] [--port 7860]

This file only composes: read the settings, start loading the bot, build the API, mount
the console, serve.
"""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import replace

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402

from bot.adapters.api import create_api  # noqa: E402
from bot.adapters.ui import build_ui  # noqa: E402
from bot.runtime import BotHolder  # noqa: E402
from bot.settings import Settings  # noqa: E402


def build_app(settings: Settings, holder: BotHolder | None = None):
    """The ASGI app: API routes first, the Gradio console mounted at ``/``."""
    holder = holder or BotHolder(settings)
    api = create_api(holder)
    return gr.mount_gradio_app(api, build_ui(holder), path="/"), holder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the clinic's FAQ bot.")
    parser.add_argument("--host", help="address to listen on (FAQBOT_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (FAQBOT_PORT, default 7860)")
    args = parser.parse_args(argv)
    settings = Settings.from_env(host=args.host, port=args.port)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app, holder = build_app(settings)
    holder.load_in_background()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
