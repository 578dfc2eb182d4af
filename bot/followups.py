"""Resolve follow-up questions with the conversation before retrieval.

"and does insurance cover that?" or "how long do they last?" only make sense with the
question before them; "what does it cost?" does not need it. A message is treated as a
follow-up when it leans on an earlier turn (a pronoun, or a leading "and"/"what about")
and names at most a couple of things of its own; then the previous question is put in
front of it. A message complete on its own is searched as it is, so old turns never
distort it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .replies import Turn
from .text import STOPWORDS, words

_PRONOUNS = frozenset("it its that this they them those these their there he she one".split())
_LEADS = re.compile(r"^\s*(?:and|also|plus|so|but|then|ok(?:ay)?\s+and|what\s+about|how\s+about|what\s+if|and\s+what\s+about)\b", re.I)
_QUESTION_WORDS = frozenset("how why when where which who whom whose long often soon".split())


def previous_question(history: Sequence[Turn]) -> str | None:
    for turn in reversed(history):
        if turn.role == "user" and turn.content.strip():
            return turn.content.strip()
    return None


def own_terms(message: str, generic: frozenset[str] = frozenset()) -> list[str]:
    return [w for w in words(message) if w not in STOPWORDS and w not in _PRONOUNS and w not in generic]


def candidates(message: str, history: Sequence[Turn], generic: frozenset[str] = frozenset()) -> list[str]:
    """The texts to search for ``message``, most likely reading first.

    A message that leans on the conversation ("how long do they last?") is read with the
    previous question first; a short one that does not ("why the range?", "benefits?") is
    read alone first and with the previous question if alone it finds no answer. A message
    complete on its own is only read alone.
    """
    previous = previous_question(history)
    if previous is None:
        return [message]
    combined = f"{previous} {message}"
    specific = [w for w in own_terms(message, generic) if w not in _QUESTION_WORDS]
    leans = bool(_PRONOUNS.intersection(words(message))) or bool(_LEADS.match(message))
    if leans and len(specific) <= 2:
        return [combined, message]
    if len(specific) <= 2:
        return [message, combined]
    return [message]


def resolve(message: str, history: Sequence[Turn], generic: frozenset[str] = frozenset()) -> str:
    """The most likely text to search for ``message`` given the conversation so far."""
    return candidates(message, history, generic)[0]
