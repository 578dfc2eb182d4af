"""One message to one reply: the crisis check, contact requests, follow-ups, retrieval of
the sections that answer, and composing the quoted, cited answer or an honest abstention."""

from bot.answer.service import Bot

__all__ = ["Bot"]
