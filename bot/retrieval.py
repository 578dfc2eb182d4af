"""Hybrid retrieval: dense (FAISS) and lexical (BM25) scores over passages, and the
evidence the answer composer needs: which of the question's words each section covers.

A question word counts as covered by a section when the section contains it (after
stemming), a close spelling of it (a typo), a listed synonym (``bot/lexicon.py``), or a
word the embedding model places close to it.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass, field

import bm25s
import numpy as np
from rapidfuzz import fuzz, process

from .corpus import Chunk
from .embedder import Embedder
from .index import LoadedIndex
from .lexicon import PHRASES, SYNONYMS, VAGUE
from .text import STOPWORDS, content_terms, stem, words

logger = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG

VAGUE_WEIGHT = 0.2
_TOKEN = re.compile(r"[A-Za-z]+")
EAGER_SENTENCE_TERMS = 20_000  # passages up to which sentence terms are computed at load

SectionKey = tuple[str, str]  # (source, anchor)


@dataclass(frozen=True, slots=True)
class Hit:
    """One passage with its scores for a query."""

    row: int
    chunk: Chunk
    dense: float  # cosine similarity of question and passage
    lexical: float  # BM25 score


@dataclass(slots=True)
class QueryTerms:
    """The question's content words: stems, the corpus words they may stand for, weights."""

    stems: list[str]
    variants: dict[str, set[str]] = field(default_factory=dict)  # stem -> stems it may mean
    weights: dict[str, float] = field(default_factory=dict)


class Retriever:
    """Searches one loaded index. Built once per index; safe to share between threads."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, synonym_threshold: float = 0.62) -> None:
        self.index = index
        self.embedder = embedder
        self.synonym_threshold = synonym_threshold
        chunks = index.chunks
        self.section_rows: dict[SectionKey, list[int]] = {}
        self._section_terms: dict[SectionKey, set[str]] = {}
        self._sentence_terms: dict[int, list[frozenset[str]]] = {}
        for row, chunk in enumerate(chunks):
            key = (chunk.source, chunk.anchor)
            self.section_rows.setdefault(key, []).append(row)
            self._section_terms.setdefault(key, set()).update(content_terms(f"{chunk.section} {chunk.text}"))
        doc_freq = Counter(t for terms in self._section_terms.values() for t in terms)
        n = max(len(self._section_terms), 1)
        self._idf = {t: math.log(1 + n / df) for t, df in doc_freq.items()}
        self._unknown_idf = math.log(1 + n) + 1.0
        all_words = {w for c in chunks for w in words(f"{c.section} {c.text}")}
        self._surface = sorted(w for w in all_words if w not in STOPWORDS)
        self._surface_stems = [stem(w) for w in self._surface]
        self._surface_vectors = (
            embedder.encode(self._surface) if self._surface else np.zeros((0, embedder.dim), np.float32)
        )
        # Words a typo may be corrected to: the article's own words and the synonym table's.
        self._spelling = sorted({w for w in all_words if len(w) >= 3} | set(SYNONYMS) | set(VAGUE))
        known = getattr(embedder, "known_words", lambda: frozenset())()
        self._spelling_set = frozenset(self._spelling) | STOPWORDS | known
        if len(chunks) <= EAGER_SENTENCE_TERMS:  # else on first use, passage by passage
            for row in range(len(chunks)):
                self.sentence_terms(row)
        self._bm25 = bm25s.BM25()
        self._bm25.index([content_terms(f"{c.section} {c.text}") or ["<empty>"] for c in chunks], show_progress=False)

    # -- question words -------------------------------------------------------------
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

    def query_terms(self, query: str) -> QueryTerms:
        """Stem the question's content words and find the corpus words each may stand for:
        itself, a listed synonym, or a word the model places near it."""
        terms = QueryTerms(stems=[])
        unknown: list[tuple[str, str]] = []
        for word in words(query):
            synonyms = SYNONYMS.get(word, ())
            if (word in STOPWORDS and not synonyms) or len(word) < 2:
                continue
            s = stem(word)
            if s in terms.variants:
                continue
            terms.stems.append(s)
            variants = terms.variants[s] = {s, *(stem(w) for w in synonyms)}
            if s not in self._idf and not synonyms:
                unknown.append((s, word))
            if word in VAGUE:
                terms.weights[s] = VAGUE_WEIGHT
            else:
                known = [self._idf[v] for v in variants if v in self._idf]
                terms.weights[s] = max(known) if known else self._unknown_idf
        if unknown and len(self._surface):
            vectors = self.embedder.encode([w for _, w in unknown])
            sims = vectors @ self._surface_vectors.T
            for (s, _), row in zip(unknown, sims, strict=True):
                close = np.nonzero(row >= self.synonym_threshold)[0]
                terms.variants[s].update(self._surface_stems[i] for i in close)
        return terms

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

    def section_terms(self, key: SectionKey) -> set[str]:
        return self._section_terms[key]

    def sentence_terms(self, row: int) -> list[frozenset[str]]:
        """The content terms of each sentence of passage ``row``, computed once per passage:
        at load for corpora up to ``EAGER_SENTENCE_TERMS`` passages, else on first use (a
        large corpus does not pay at start-up for passages no question reaches)."""
        found = self._sentence_terms.get(row)
        if found is None:
            found = self._sentence_terms[row] = [frozenset(content_terms(s)) for s in self.index.chunks[row].sentences]
        return found

    # -- passages -------------------------------------------------------------------
    def search(self, query_vector: np.ndarray, terms: QueryTerms, k: int = 8) -> list[Hit]:
        """The top ``k`` passages by dense score and the top ``k`` by BM25, each with both scores."""
        n = len(self.index.chunks)
        if n == 0:
            return []
        k = min(k, n)
        dense_scores, rows = self.index.faiss_index.search(query_vector.reshape(1, -1), k)
        dense = {int(r): float(s) for r, s in zip(rows[0], dense_scores[0], strict=True) if r >= 0}
        query_tokens = sorted({v for s in terms.stems for v in terms.variants[s]})
        lexical = self._bm25.get_scores(query_tokens) if query_tokens else np.zeros(n, dtype=np.float32)
        candidates = set(dense) | {int(i) for i in np.argsort(-lexical)[:k] if lexical[i] > 0}
        missing = [r for r in candidates if r not in dense]
        if missing:
            vecs = np.vstack([self.index.faiss_index.reconstruct(r) for r in missing])
            for r, s in zip(missing, vecs @ query_vector, strict=True):
                dense[r] = float(s)
        return [Hit(r, self.index.chunks[r], dense[r], float(lexical[r])) for r in candidates]

    def phrasing_matches(self, query_vector: np.ndarray) -> dict[SectionKey, tuple[float, int]]:
        """For each section with curated phrasings: the best phrasing's similarity and row."""
        index = self.index
        if not index.questions:
            return {}
        sims = index.question_vectors @ query_vector
        best: dict[SectionKey, tuple[float, int]] = {}
        for row, (phrasing, sim) in enumerate(zip(index.questions, sims, strict=True)):
            key = (phrasing.source, phrasing.anchor)
            if key in self.section_rows and (key not in best or sim > best[key][0]):
                best[key] = (float(sim), row)
        return best

    def sentence_scores(self, row: int, query_vector: np.ndarray) -> np.ndarray:
        """Similarity of the question to each sentence of passage ``row``."""
        rows = self.index.sentence_rows(row)
        return self.index.sentence_vectors[rows.start : rows.stop] @ query_vector
