"""The question log: what visitors asked, how the bot replied and how staff rated it, stored
redacted (SQLite) and written off the request path."""

from bot.store.storage import ChatLog, Exchange, StorageError, Store

__all__ = ["ChatLog", "Exchange", "Store", "StorageError"]
