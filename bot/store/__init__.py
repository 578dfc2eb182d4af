"""The question log: what visitors asked, how the bot replied and how staff rated it, stored
redacted (SQLite, or PostgreSQL shared by replicas) and written off the request path."""

from bot.store.chatlog import ChatLog
from bot.store.database import Store
from bot.store.records import CHANNEL_HEADER, Exchange, StorageError, channel_from_headers, question_key
from bot.store.schema import SCHEMA_VERSION

__all__ = ["CHANNEL_HEADER", "SCHEMA_VERSION", "ChatLog", "Exchange", "StorageError", "Store", "channel_from_headers", "question_key"]
