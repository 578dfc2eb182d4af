"""The bot a server runs: loaded in the background at start-up, so the server can answer
``/healthz`` (503 while loading) and crisis messages before the model is ready."""

from __future__ import annotations

import logging
import threading
import time

from .replies import Reply
from .service import Bot
from .settings import Settings

logger = logging.getLogger(__name__)


class BotHolder:
    """Holds the serving :class:`Bot`, or why it is not there yet."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bot: Bot | None = None
        self.error: str | None = None
        self.ready = threading.Event()
        self.load_seconds: float | None = None

    def load(self, embedder=None) -> None:
        """Load and warm the bot; on failure keep the reason for ``/healthz``."""
        started = time.perf_counter()
        try:
            bot = Bot.load(self.settings, embedder)
            bot.warm_up()
        except Exception as exc:  # reported by /healthz; the server stays up for crisis replies
            logger.exception("the bot failed to load")
            self.error = str(exc)
        else:
            self.bot = bot
            self.load_seconds = time.perf_counter() - started
            logger.info("bot ready in %.1fs", self.load_seconds)
        finally:
            self.ready.set()

    def load_in_background(self, embedder=None) -> threading.Thread:
        thread = threading.Thread(target=self.load, args=(embedder,), name="bot-loader", daemon=True)
        thread.start()
        return thread

    def crisis_only(self) -> Reply:
        return Reply(self.settings.crisis_text, abstained=False, crisis=True, reason="the message speaks of suicide or self-harm")
