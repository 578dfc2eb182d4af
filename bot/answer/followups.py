"""Read a message with the conversation before it, only where it needs it.

A message that names its own topic ("what about the side effects?", "how much does it
cost?") is answered on its own, whatever was asked before. History only fills in what is
missing: a message that leans on an earlier turn (a pronoun, a leading "and" / "what
about") and names at most a couple of things of its own ("is it covered by insurance?",
"and for the face?") is also read with the previous question's words added, and the
reading the answerability model trusts more wins (:meth:`bot.answer.service.Bot.answer`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.ingest.text import STOPWORDS, words
from bot.replies import Turn

_PRONOUNS = frozenset("it its that this they them those these their there he she one".split())
# Pronouns that point at something said before ("how long do they last?"); "it" more often
# names the treatment the whole site is about ("how much does it cost?").
_POINTING = frozenset("that this they them those these their".split())
_LEADS = re.compile(r"^\s*(?:and|also|plus|so|but|then|ok(?:ay)?\s+and|what\s+about|how\s+about|what\s+if|and\s+what\s+about)\b", re.I)
_QUESTION_WORDS = frozenset("how why when where which who whom whose long often soon".split())


def previous_question(history: Sequence[Turn]) -> str | None:
    for turn in reversed(history):
        if turn.role == "user" and turn.content.strip():
            return turn.content.strip()
    return None


def own_terms(message: str, generic: frozenset[str] = frozenset()) -> list[str]:
    """The message's own topic words: not stopwords, pronouns, question words or words
    nearly every section of the corpus shares."""
    return [w for w in words(message) if w not in STOPWORDS and w not in _PRONOUNS and w not in generic and w not in _QUESTION_WORDS]


def leans(message: str) -> bool:
    """The message points back at the conversation (a pronoun, or a leading "and")."""
    return bool(_PRONOUNS.intersection(words(message))) or bool(_LEADS.match(message))


def with_context(message: str, previous: str) -> str:
    """``message`` with the previous question's content words it lacks."""
    have = set(words(message))
    extra = [w for w in dict.fromkeys(words(previous)) if w not in STOPWORDS and w not in have and w not in _PRONOUNS]
    return f"{message} {' '.join(extra)}" if extra else message


def readings(message: str, history: Sequence[Turn], generic: frozenset[str] = frozenset()) -> tuple[list[str], bool]:
    """The texts to answer ``message`` as, most likely first, and whether the most likely
    passing one wins (True) or the one the model trusts most (False).

    A message that points back ("how long do they last?") is read with the previous
    question's words first; one that names its own topic ("what about side effects?") is
    read alone first; for the rest ("is it covered?") both readings compete."""
    previous = previous_question(history)
    if previous is None:
        return [message], True
    own = own_terms(message, generic)
    combined = with_context(message, previous)
    if combined == message:
        return [message], True
    if _POINTING.intersection(words(message)) and len(own) <= 2:
        return [combined, message], True
    if _LEADS.match(message) and own:
        return [message, combined], True
    if (leans(message) and len(own) <= 2) or len(own) <= 1:
        return [message, combined], False
    return [message], True
