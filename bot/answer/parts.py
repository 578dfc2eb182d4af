"""Split a question in two parts ("how much is it and does insurance pay?") so each part
is answered and cited on its own.

Only how English joins questions is used: a question mark followed by more text, or
"and" / "also" / "plus" / "but" followed by a question word or auxiliary verb ("or" offers
alternatives of one question: "will my plan cover it or am I paying?"). A part needs
a content word of its own, so "what are the risks and side effects?" stays whole.
"""

from __future__ import annotations

import re

from bot.ingest.text import STOPWORDS, words

_STARTS = (
    r"how|what|what's|whats|when|where|who|why|which|is|are|do|does|did|can|could|will|would|"
    r"should|may|might|am|was|were|have|has"
)
_QUESTION = re.compile(rf"^(?:(?:and|also|plus|but|so|ok(?:ay)?)\s+)*(?:{_STARTS})\b|\?\s*$", re.IGNORECASE)
_SPLIT = re.compile(
    rf"(?<=\?)\s+(?=\S)|[,;]?\s+\b(?:and|also|plus|but)\s+(?:also\s+)?(?=(?:{_STARTS})\b)",
    re.IGNORECASE,
)
MAX_PARTS = 3


def split_parts(message: str) -> list[str]:
    """The message's parts, or ``[message]`` when it asks one thing."""
    pieces = [p.strip(" ,;") for p in _SPLIT.split(message) if p and p.strip(" ,;")]
    parts: list[str] = []
    for piece in pieces:
        if parts and not _has_content(piece):
            parts[-1] = f"{parts[-1]} {piece}"  # "... and how?" belongs to the part before
        elif parts and not _has_content(parts[-1]):
            parts[-1] = f"{parts[-1]} {piece}"
        else:
            parts.append(piece)
    # Every part must ask something: "I have two kids and do you see children?" is one question.
    if len(parts) > MAX_PARTS or len(parts) < 2 or not all(_QUESTION.search(p) for p in parts):
        return [message]
    return parts


def _has_content(text: str) -> bool:
    return sum(1 for w in words(text) if w not in STOPWORDS and len(w) > 2) >= 1
