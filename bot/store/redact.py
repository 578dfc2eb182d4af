"""Redact contact details from what visitors type, before anything is stored.

Visitors write health questions, and some add their email or phone number ("call me at
555 123 4567, I have bipolar disorder"). The question log keeps the question and drops
the contact details: emails become ``[email]`` and phone numbers ``[phone]``.

Phone numbers are recognised generously, because a missed number costs more than a lost
digit string: any run of 7 to 15 digits, possibly grouped with spaces, dots, dashes,
slashes or brackets and led by ``+``. What stays: prices ("$400-$600"), short numbers
("988", "911", "6 sessions") and dates written as ``2024-05-01`` or ``5/1/2024``.
"""

from __future__ import annotations

import re

EMAIL_MARK = "[email]"
PHONE_MARK = "[phone]"

_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
# A digit run with separators between digits; checked for its digit count below.
_PHONE = re.compile(r"(?<![\w$])(?:\+\s?)?\(?\d(?:[\d\s().\-/]*\d)?(?![\w])")
_DATE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if digits < 7 or digits > 15 or _DATE.fullmatch(text.strip()):
        return text
    return PHONE_MARK


def redact(text: str) -> str:
    """``text`` with emails replaced by ``[email]`` and phone numbers by ``[phone]``."""
    text = _EMAIL.sub(EMAIL_MARK, text)
    return _PHONE.sub(_phone, text)
