"""Serving in one process: the bot a server holds and swaps when the index is rebuilt, the
answer and vector caches, batched encoding, request checks and per-client rate limits."""

from bot.serve.runtime import BotHolder

__all__ = ["BotHolder"]
