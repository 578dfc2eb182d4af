"""Validate and clean what a visitor sends, before it reaches the bot."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.errors import BotError
from bot.replies import Turn
from bot.settings import Settings

# Control characters (tab and newlines are kept), invisible formatting (zero-width, soft
# hyphen, word joiners, direction marks and overrides, byte order mark) and lone UTF-16
# surrogates, which JSON can carry (as an escaped \ud800) but UTF-8 text cannot.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e"
    r"\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]"
)
ROLES = ("user", "assistant")
MAX_SECTION_CHARS = 1000


class InvalidRequest(BotError):
    """A request field is missing or wrong; ``field`` names it for the caller."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


def clean_text(text: str) -> str:
    """Drop control and invisible formatting characters, NFC-normalise, trim."""
    return unicodedata.normalize("NFC", _CONTROL.sub("", text)).strip()


@dataclass(frozen=True, slots=True)
class ChatRequest:
    message: str
    history: tuple[Turn, ...] = ()
    section: str = ""  # "<source>#<anchor>": a suggestion the visitor picked

    @classmethod
    def parse(cls, data: object, settings: Settings) -> ChatRequest:
        """Check a decoded JSON body against the request schema and the size limits.

        Raises :class:`InvalidRequest` naming the field and what is wrong with it. History
        beyond ``settings.max_history_turns`` (the oldest turns) is dropped and each turn cut
        to ``settings.max_history_chars``: a long conversation is not the visitor's fault."""
        if not isinstance(data, dict):
            raise InvalidRequest("body", f"must be a JSON object like {{\"message\": \"...\"}}, not {_kind(data)}")
        unknown = sorted(set(data) - {"message", "history", "section"})
        if unknown:
            raise InvalidRequest(_clip(unknown[0]), "unknown field; send only message, history and section")
        if "message" not in data:
            raise InvalidRequest("message", "is required: send the question as a string")
        message = data["message"]
        if not isinstance(message, str):
            raise InvalidRequest("message", f"must be a string, not {_kind(message)}")
        message = clean_text(message)
        if not message:
            raise InvalidRequest("message", "is empty: type a question")
        if len(message) > settings.max_message_chars:
            raise InvalidRequest("message", f"is longer than {settings.max_message_chars} characters: shorten it")
        raw_history = data.get("history")
        if raw_history is None:
            raw_history = []
        if not isinstance(raw_history, list):
            raise InvalidRequest("history", f"must be a list of {{role, content}} objects, not {_kind(raw_history)}")
        first = max(0, len(raw_history) - settings.max_history_turns)
        history = []
        for i in range(first, len(raw_history)):
            turn = raw_history[i]
            if not isinstance(turn, dict) or set(turn) - {"role", "content"}:
                raise InvalidRequest(f"history[{i}]", "must be an object with only role and content")
            role, content = turn.get("role"), turn.get("content")
            if not isinstance(role, str) or role not in ROLES:
                raise InvalidRequest(f"history[{i}].role", "must be 'user' or 'assistant'")
            if not isinstance(content, str):
                raise InvalidRequest(f"history[{i}].content", f"must be a string, not {_kind(content)}")
            history.append(Turn(role, clean_text(content)[: settings.max_history_chars]))
        section = data.get("section")
        if section is None:
            section = ""
        if not isinstance(section, str):
            raise InvalidRequest("section", f"must be a string like 'page.md#anchor', not {_kind(section)}")
        section = clean_text(section)
        if section and ("#" not in section or len(section) > MAX_SECTION_CHARS):
            raise InvalidRequest("section", "must be a suggestion's '<source>#<anchor>', as the reply that offered it gave them")
        return cls(message, tuple(history), section)


def _kind(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _clip(name: str, limit: int = 40) -> str:
    name = clean_text(name) or "?"
    return name if len(name) <= limit else name[: limit - 1] + "…"
