"""Small text helpers shared by the corpus reader, the lexical ranker and answering."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")
_QUOTES = {ord("\u2018"): "'", ord("\u2019"): "'", ord("\u201c"): '"', ord("\u201d"): '"'}

# A sentence ends at . ! or ? (optionally followed by a closing quote or bracket) and the
# next one starts with a capital, a digit or an opening quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]?\s+(?=[\"'\u201c\u2018(]?[A-Z0-9$])")
_WORD = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can could did do does doing don't down during each
    few for from further had has have having he her here hers herself him himself his how i
    i'm if in into is isn't it it's its itself just let's me more most my myself no nor not now
    of off on once only or other our ours ourselves out over own same she should so some such
    than that that's the their theirs them themselves then there these they this those through
    to too under until up very was we were what what's when where which while who whom why will
    with would you your yours yourself yourselves tell know please want wanna like get got go
    going really much many also anything something thing things say said hi hello hey thanks
    thank ok okay would could might may us s t d ll m re ve y whats hows whens wheres whos im
    ive id dont doesnt didnt cant wont isnt arent wasnt werent havent hasnt hadnt shouldnt
    wouldnt couldnt youre theyre theres thats lets u ur pls plz gonna gotta kinda sorta
    much many often does did can't won't doesn't didn't isn't aren't wasn't haven't hasn't
    shouldn't wouldn't couldn't you're they're there's i've i'd i'll you've we're yes yeah
    yep nope someone""".split()
)


def normalize(text: str) -> str:
    """NFKC-normalise and map typographic dashes and quotes to ASCII ones."""
    return unicodedata.normalize("NFKC", text).translate(_DASHES).translate(_QUOTES)


def slugify(heading: str) -> str:
    """GitHub-style anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = normalize(heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return re.sub(r" ", "-", text)


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences, keeping every character of each one."""
    parts = [p.strip() for p in _SENTENCE_END.split(paragraph.strip())]
    return [p for p in parts if p]


def words(text: str) -> list[str]:
    """Lower-case word tokens of ``text``."""
    return _WORD.findall(normalize(text).lower())


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer: the Snowball English stemmer, also used by bm25s

    return Stemmer.Stemmer("english")


def stem(word: str) -> str:
    """Snowball stem of one lower-case word."""
    return _stemmer().stemWord(word)


def content_terms(text: str) -> list[str]:
    """Stemmed tokens of ``text`` without stop words: what the lexical ranker compares."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]
