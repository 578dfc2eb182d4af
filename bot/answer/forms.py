"""What kind of answer a question's form asks for, in English: "how long" wants a
duration, "how much" an amount of money, "how often" a frequency, "how old" an age,
"where" a place. A sentence that gives that kind of answer ranks above one that only
shares the question's words ("Your first appointment is mostly an assessment" does not
say how long it takes; "The initial assessment is booked for 60 minutes" does).

Nothing here is about any one clinic's subject: only question forms and the shapes their
answers take (numbers with units, currency, addresses).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER = r"(?:\d+(?:[.,]\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|ninety|a few|several|a couple of|a|an)"
_RANGE = rf"{_NUMBER}(?:\s*(?:-|to|or|and)\s*{_NUMBER})?"
_UNIT_TIME = r"(?:seconds?|minutes?|mins?|hours?|hrs?|days?|nights?|weeks?|months?|years?|sessions?|visits?|appointments?)"


@dataclass(frozen=True, slots=True)
class Form:
    name: str
    asks: re.Pattern  # the question asks for this kind of answer
    gives: re.Pattern  # a sentence gives this kind of answer


def _re(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE)


FORMS: tuple[Form, ...] = (
    Form(
        "duration",
        _re(r"\bhow long\b|\bhow many (?:minutes|hours|days|weeks|months|years)\b|\bduration\b|\bhow much time\b|\blast(?:s)? (?:for )?how\b"),
        _re(rf"\b{_RANGE}[\s-]*{_UNIT_TIME}\b|\b(?:overnight|same[- ]day|next day|all day|half (?:an hour|a day))\b"),
    ),
    Form(
        "money",
        _re(r"\bhow much\b(?!\s+(?:time|longer|pain|notice|of))|\bcosts?\b|\bpric(?:e|es|ed|ing)\b|\bfees?\b|\bcharges?\b|\bexpensive\b|\bafford\w*\b|\bpay(?:ing)?\b"),
        _re(r"[$£€]\s?\d|\b\d+(?:[.,]\d+)?\s*(?:dollars|usd|cad|eur|gbp)\b|\b(?:free|no charge|no cost|complimentary|at no extra cost|included)\b"),
    ),
    Form(
        "frequency",
        _re(r"\bhow often\b|\bhow frequently\b|\bhow many times\b"),
        _re(rf"\bevery\b|\bper (?:day|week|month|year)\b|\b(?:once|twice|{_NUMBER} times)\b|\b(?:daily|weekly|monthly|yearly|annually)\b|\b{_RANGE}\s*(?:weeks|months|days) apart\b"),
    ),
    Form(
        "count",
        _re(r"\bhow many\b(?!\s+(?:minutes|hours|days|weeks|months|years|times)\b)"),
        _re(rf"\b{_RANGE}\b"),
    ),
    Form(
        "when",
        _re(r"^\s*(?:and |so |ok(?:ay)? )?when\b|\bwhat time\b|\bhow soon\b|\bhow quickly\b|\bhow fast\b"),
        _re(rf"\b{_RANGE}[\s-]*{_UNIT_TIME}\b|\b(?:before|after|within|until|by|from)\b[^.]{{0,40}}\b(?:\d+|day|week|month|year|morning|night|visit|session|appointment|treatment)\b|\b(?:immediately|right away|the same day|the next day)\b"),
    ),
    Form(
        "age",
        _re(r"\bhow old\b|\bwhat age\b|\bage (?:limit|requirement|minimum)\b|\bminimum age\b|\btoo (?:young|old)\b"),
        _re(r"\b\d+\s*(?:years? old|and (?:older|over|up)|\+)|\b(?:under|over|aged?|ages) \d+\b|\b\d+\s*(?:to|-)\s*\d+\b"),
    ),
    Form(
        "place",
        _re(r"^\s*where\b|\b(?:your|the clinic'?s?|the office'?s?) (?:address|location)\b|\bwhere (?:are|is) (?:you|your|the)\b|\blocated\b"),
        re.compile(
            r"\b(?:Street|St\.|Avenue|Ave\.?|Road|Rd\.|Boulevard|Blvd\.?|Drive|Lane|Parkway|Plaza|Suite|Floor)\b|"
            r"\b(?:floor|building|entrance|parking|garage|lot|downtown|next to|across from|behind|located|address)\b"
        ),
    ),
)


def asked_forms(question: str) -> tuple[Form, ...]:
    """The kinds of answer ``question`` asks for (often none)."""
    return tuple(f for f in FORMS if f.asks.search(question))


def gives(sentence: str, forms: tuple[Form, ...]) -> bool:
    """``sentence`` gives one of the kinds of answer ``forms``."""
    return any(f.gives.search(sentence) for f in forms)
