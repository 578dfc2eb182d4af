"""Validate and clean what a visitor sends, before it reaches the bot."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .errors import BotError
from .replies import Turn
from .settings import Settings

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
ROLES = ("user", "assistant")


class InvalidRequest(BotError):
    """A request field is missing or wrong; ``field`` names it for the caller."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def clean_text(text: str) -> str:
    """NFC-normalise, drop control and invisible formatting characters, trim."""
    return _CONTROL.sub("", unicodedata.normalize("NFC", text)).strip()


@dataclass(frozen=True, slots=True)
class ChatRequest:
    message: str
    history: tuple[Turn, ...] = ()

    @classmethod
    def parse(cls, data: object, settings: Settings) -> ChatRequest:
        """Check a decoded JSON body against the request schema and the size limits."""
        if not isinstance(data, dict):
            raise InvalidRequest("body", "must be a JSON object like {\"message\": \"...\"}")
        unknown = set(data) - {"message", "history"}
        if unknown:
            raise InvalidRequest(sorted(unknown)[0], "unknown field; send only message and history")
        message = data.get("message")
        if not isinstance(message, str):
            raise InvalidRequest("message", "is required and must be a string")
        message = clean_text(message)
        if not message:
            raise InvalidRequest("message", "is empty: type a question")
        if len(message) > settings.max_message_chars:
            raise InvalidRequest("message", f"is longer than {settings.max_message_chars} characters: shorten it")
        raw_history = data.get("history") or []
        if not isinstance(raw_history, list):
            raise InvalidRequest("history", "must be a list of {role, content} objects")
        if len(raw_history) > settings.max_history_turns:
            raw_history = raw_history[-settings.max_history_turns :]
        history = []
        for i, turn in enumerate(raw_history):
            if not isinstance(turn, dict) or set(turn) - {"role", "content"}:
                raise InvalidRequest(f"history[{i}]", "must be an object with role and content")
            role, content = turn.get("role"), turn.get("content")
            if role not in ROLES:
                raise InvalidRequest(f"history[{i}].role", "must be 'user' or 'assistant'")
            if not isinstance(content, str):
                raise InvalidRequest(f"history[{i}].content", "must be a string")
            history.append(Turn(role, clean_text(content)[: settings.max_history_chars]))
        return cls(message, tuple(history))
