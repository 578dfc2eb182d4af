"""Crisis detection: runs on every message before anything else.

Patterns look for first-person self-harm or suicide intent, explicit or indirect, and
tolerate lower case, missing apostrophes and common misspellings. Figures of speech about
pain ("does ketamine kill pain?", "my back is killing me") do not match: the patterns need
the person as the object of the harm or a statement about not wanting to live.
"""

from __future__ import annotations

import re

from .text import normalize

_ME = r"(?:my\s*self|myself|my\s+own\s+life|my\s+life)"
_PATTERNS = [
    # suicide and its misspellings: suicide, suicidal, sucide, suicde, suiside, suicidial
    r"\bsu+[ie]?c+[ie]*[ds]+(?:e|al|ial|ing)?\b",
    r"\bsuis+id\w*",
    r"\bkill(?:ing|ed)?\s+" + _ME,
    r"\bk\s*m\s*s\b",
    r"\b(?:want|wish|need)\s+(?:someone\s+|somebody\s+|you\s+)?to\s+kill\s+me\b",
    r"\b(?:end|ending|take|taking|took)\s+(?:it\s+all|my\s+(?:own\s+)?life|my\s+self|myself)\b",
    r"\bend\s+(?:it|things|everything)\b(?!\s+(?:session|infusion|treatment))",
    r"\b(?:want|wanna|wish|going|ready|plan(?:ning)?)\s+(?:to\s+)?(?:die|be\s+dead|not\s+(?:be\s+)?(?:alive|here|exist))\b",
    r"\bwish\s+i\s+(?:was|were|could\s+be)\s+dead\b",
    r"\bwish\s+i\s+(?:had\s+never\s+been\s+born|wasn'?t\s+(?:alive|here|born))\b",
    r"\b(?:don'?t|do\s+not|dont|no\s+longer)\s+want\s+to\s+(?:live|be\s+(?:alive|here)|exist|wake\s+up|go\s+on)\b",
    r"\bnot\s+wake\s+up\b",
    r"\b(?:hurt|harm|cut|cutting|hurting|harming|burn|burning|starve|starving)\s+" + _ME,
    r"\bself[\s-]*harm\w*",
    r"\bno\s+(?:reason|point|purpose)\s+(?:to|in)\s+(?:live|living|go(?:ing)?\s+on|be(?:ing)?\s+alive|life|anything)\b",
    r"\b(?:what'?s|whats|what\s+is)\s+the\s+point\s+(?:of|in)\s+(?:living|life|going\s+on|anything)\b",
    r"\bbetter\s+off\s+(?:dead|without\s+me|if\s+i\s+(?:was|were|wasn'?t)\b)",
    r"\b(?:can'?t|cannot|cant)\s+(?:go\s+on|keep\s+going|do\s+this\s+anymore|take\s+(?:it|this)\s+any\s*more)\b",
    r"\b(?:life|living)\s+(?:is|isn'?t|feels)\s+(?:not\s+)?(?:worth\s+living|pointless|meaningless)\b",
    r"\bnot\s+worth\s+living\b",
    r"\boverdos\w*\s+(?:on\s+purpose|myself|to\s+die)\b",
    r"\b(?:hang|shoot|drown)\s+" + _ME + r"\b",
    r"\bjump\s+(?:off|from|in\s+front)\b",
    r"\b(?:disappear|vanish)\s+for(?:ever|\s+good)\b",
    r"\bgoodbye\s+(?:forever|cruel\s+world)\b",
    r"\bcrisis\s+line\b|\bhotline\b",
]
_CRISIS = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)


def is_crisis(message: str) -> bool:
    """True when ``message`` speaks of suicide or self-harm intent."""
    text = re.sub(r"\s+", " ", normalize(message).lower().replace("'", "'"))
    return bool(_CRISIS.search(text))


def crisis_reply(contacts_text: str) -> str:
    """The text that leads every crisis answer; the numbers come from the settings."""
    return contacts_text
