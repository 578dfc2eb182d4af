"""The corpus's words, and the question's words read against them.

A question word counts as covered by a section when the section contains it (after
stemming), a close spelling of it (a typo), a synonym the corpus lists
(``corpus/vocabulary.yaml``) or, softly, a word the embedding model places near it: each
question word's best match among the section's words (late interaction at word level).
Rare words weigh more (inverse document frequency over sections); words that carry no
topic of their own (:data:`bot.answer.lexicon.VAGUE`) weigh little.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from rapidfuzz import fuzz, process

from bot.answer.lexicon import PHRASES, VAGUE
from bot.ingest.corpus import Chunk
from bot.ingest.text import STOPWORDS, stem, words
from bot.search.embedder import Embedder

VAGUE_WEIGHT = 0.2
_TOKEN = re.compile(r"[A-Za-z]+")


@dataclass(slots=True)
class QueryTerms:
    """The question's content words: stems, the corpus words they may stand for, weights."""

    stems: list[str]
    variants: dict[str, set[str]] = field(default_factory=dict)  # stem -> stems it may mean
    variants_exact: dict[str, frozenset[str]] = field(default_factory=dict)  # itself and listed synonyms
    weights: dict[str, float] = field(default_factory=dict)
    surface: dict[str, str] = field(default_factory=dict)  # stem -> the word as asked
    known: dict[str, bool] = field(default_factory=dict)  # stem -> the corpus has it (or a variant)

    @property
    def focus(self) -> str | None:
        """The rarest content word: what the question is most specifically about."""
        return max(self.stems, key=lambda s: self.weights[s]) if self.stems else None


class CorpusWords:
    """Every word of one index's passages, with its stem, weight and vector. Built once per
    index; safe to share between threads."""

    def __init__(self, chunks: list[Chunk], section_terms: Iterable[set[str]], synonyms: dict[str, tuple[str, ...]],
                 embedder: Embedder, synonym_threshold: float = 0.62) -> None:
        self.embedder = embedder
        self.synonyms = synonyms  # corpus/vocabulary.yaml
        self.synonym_threshold = synonym_threshold
        section_terms = list(section_terms)
        doc_freq = Counter(t for terms in section_terms for t in terms)
        n = max(len(section_terms), 1)
        self._idf = {t: math.log(1 + n / df) for t, df in doc_freq.items()}
        self._unknown_idf = math.log(1 + n) + 1.0
        all_words = {w for c in chunks for w in words(f"{c.section} {c.text}")}
        self._surface = sorted(w for w in all_words if w not in STOPWORDS)
        self._surface_at = {w: i for i, w in enumerate(self._surface)}
        self._surface_stems = [stem(w) for w in self._surface]
        self._surface_vectors = (
            embedder.encode(self._surface) if self._surface else np.zeros((0, embedder.dim), np.float32)
        )
        # Words a typo may be corrected to: the corpus's own words and its synonym table's.
        self._spelling = sorted({w for w in all_words if len(w) >= 3} | set(self.synonyms) | set(VAGUE))
        self._spelling_set = frozenset(self._spelling) | STOPWORDS | embedder.known_words()

    def correct_spelling(self, text: str) -> str:
        """Replace misspelt words by a close spelling the corpus knows ("insurence").

        Only words that are neither in the corpus nor in the model's vocabulary (about 30,000
        English words) are touched, so "kids" never becomes "kinds"."""

        def fix(match: re.Match) -> str:
            word = match.group(0)
            lower = word.lower()
            if len(lower) < 4 or lower in self._spelling_set:
                return word
            best = process.extractOne(lower, self._spelling, scorer=fuzz.ratio, score_cutoff=85)
            if best is None:
                return word
            # "esketamine" is not a typo of "ketamine": a word that contains another is another word.
            if abs(len(best[0]) - len(lower)) > 1 and (best[0] in lower or lower in best[0]):
                return word
            return best[0]

        fixed = _TOKEN.sub(fix, text)
        for wrong, right in PHRASES.items():
            fixed = re.sub(rf"\b{wrong}\b", right, fixed, flags=re.IGNORECASE)
        return fixed

    def query_words(self, query: str) -> list[str]:
        """The question's content words as written, one per stem (what ``query_terms`` weighs)."""
        seen, out = set(), []
        for word in words(query):
            if (word in STOPWORDS and word not in self.synonyms) or len(word) < 2:
                continue
            s = stem(word)
            if s not in seen:
                seen.add(s)
                out.append(word)
        return out

    def query_terms(self, query: str, word_vectors: dict[str, np.ndarray] | None = None) -> QueryTerms:
        """Stem the question's content words and find the corpus words each may stand for:
        itself, a listed synonym, or a word the model places near it. ``word_vectors``:
        vectors of the words already computed (else they are encoded here)."""
        terms = QueryTerms(stems=[])
        for word in self.query_words(query):
            synonyms = self.synonyms.get(word, ())
            s = stem(word)
            terms.stems.append(s)
            terms.surface[s] = word
            variants = terms.variants[s] = {s, *(stem(w) for w in synonyms)}
            terms.variants_exact[s] = frozenset(variants)
            known = [self._idf[v] for v in variants if v in self._idf]
            terms.known[s] = bool(known)
            if word in VAGUE:
                terms.weights[s] = VAGUE_WEIGHT
            else:
                terms.weights[s] = max(known) if known else self._unknown_idf
        unknown = [s for s in terms.stems if not terms.known[s]]
        if unknown and len(self._surface):
            vectors = self.word_vectors([terms.surface[s] for s in unknown], word_vectors)
            sims = vectors @ self._surface_vectors.T
            for s, row in zip(unknown, sims, strict=True):
                close = np.nonzero(row >= self.synonym_threshold)[0]
                terms.variants[s].update(self._surface_stems[i] for i in close)
        return terms

    def word_vectors(self, texts: list[str], known: dict[str, np.ndarray] | None = None) -> np.ndarray:
        known = known or {}
        missing = [t for t in texts if t not in known]
        if missing:
            known = {**known, **dict(zip(missing, self.embedder.encode(missing), strict=True))}
        if not texts:
            return np.zeros((0, self.embedder.dim), np.float32)
        return np.vstack([known[t] for t in texts])

    def coverage(self, terms: QueryTerms, section_terms: set[str] | frozenset[str]) -> tuple[float, list[str]]:
        """Weighted share of the question's words found in ``section_terms``, and the missing ones."""
        total = covered = 0.0
        missing = []
        for s in terms.stems:
            w = terms.weights[s]
            total += w
            if terms.variants[s] & section_terms:
                covered += w
            else:
                missing.append(s)
        return (covered / total if total else 0.0), missing

    def soft_matches(self, terms: QueryTerms, word_vectors: dict[str, np.ndarray] | None) -> np.ndarray:
        """Similarity of each question word to each corpus word (rows: ``terms.stems``)."""
        if not terms.stems or not len(self._surface):
            return np.zeros((len(terms.stems), len(self._surface)), np.float32)
        vectors = self.word_vectors([terms.surface[s] for s in terms.stems], word_vectors)
        return vectors @ self._surface_vectors.T

    def matches(self, terms: QueryTerms, soft: np.ndarray, idx: np.ndarray, exact: set[str] | frozenset[str]) -> np.ndarray:
        """Each question word's best match among the words ``idx`` (stems ``exact``): 1 for the
        word itself or a listed synonym, else the closest word's cosine similarity."""
        best = soft[:, idx].max(axis=1) if len(idx) and soft.shape[0] else np.zeros(len(terms.stems), np.float32)
        return np.array(
            [1.0 if (terms.variants_exact[s] & exact) else max(float(best[i]), 0.0) for i, s in enumerate(terms.stems)],
            dtype=np.float64,
        )

    def word_ids(self, text: str) -> np.ndarray:
        """Rows of ``_surface_vectors`` for the words of ``text``."""
        return np.array(sorted({self._surface_at[w] for w in words(text) if w in self._surface_at}), dtype=np.int64)
