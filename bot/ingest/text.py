"""Small text helpers shared by the corpus reader, the lexical ranker and answering."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")
_QUOTES = {ord("\u2018"): "'", ord("\u2019"): "'", ord("\u201c"): '"', ord("\u201d"): '"'}

# Where pysbd ends a sentence but a reader does not: before a comma, semicolon or colon (no
# sentence starts with one), and after an abbreviation that pysbd's English list lacks and
# that leads into what follows it ("approx. 45 minutes", "incl. Botox").
_CONTINUES = re.compile(r"[,;:]")
_LEADS_ON = re.compile(r"\b(?:approx|incl|excl|esp)\.$", re.IGNORECASE)
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


@lru_cache(maxsize=1)
def _pysbd():
    import pysbd  # rule-based segmenter built on the "Golden Rules" of sentence boundaries

    return pysbd


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences where an English reader would ("Dr. Patel", "$350 vs.
    $500", "2.5 mg" stay whole). Each sentence is a stripped substring of the paragraph, and
    together they hold every character of it: pysbd only says where sentences start."""
    text = paragraph.strip()
    if not text:
        return []
    # A Segmenter keeps the text it is given on itself: one per call, so threads never share one.
    spans = _pysbd().Segmenter(language="en", clean=False, char_span=True).segment(text)
    starts = [0]
    for span in spans:
        start = span.start
        if start <= starts[-1] or start >= len(text):
            continue
        if _CONTINUES.match(text, start) or _LEADS_ON.search(text[:start].rstrip()):
            continue
        starts.append(start)
    ends = [*starts[1:], len(text)]
    return [s for s in (text[a:b].strip() for a, b in zip(starts, ends, strict=True)) if s]


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
