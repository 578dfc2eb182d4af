"""Hybrid retrieval: dense (FAISS) and lexical (BM25) scores over passages, and the
evidence the answer composer needs: which of the question's words each section covers.

A question word counts as covered by a section when the section contains it (after
stemming), a close spelling of it (a typo), or a word the embedding model places close to
it (a synonym such as "price" for "cost").
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field

import bm25s
import numpy as np
from rapidfuzz import fuzz, process

from .corpus import Chunk
from .embedder import Embedder
from .index import LoadedIndex
from .text import STOPWORDS, content_terms, stem, words

logger = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG


@dataclass(frozen=True, slots=True)
class Hit:
    """One passage with its scores for a query."""

    row: int
    chunk: Chunk
    dense: float  # cosine similarity of question and passage
    lexical: float  # BM25 score, divided by the best score of this query (0..1)


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
        self._chunk_terms = [set(content_terms(f"{c.section} {c.text}")) for c in chunks]
        self._section_terms: dict[tuple[str, str], set[str]] = {}
        for chunk, terms in zip(chunks, self._chunk_terms):
            self._section_terms.setdefault((chunk.source, chunk.anchor), set()).update(terms)
        doc_freq = Counter(t for terms in self._section_terms.values() for t in terms)
        n = max(len(self._section_terms), 1)
        self._idf = {t: math.log(1 + n / df) for t, df in doc_freq.items()}
        self._unknown_idf = math.log(1 + n) + 1.0
        surface = sorted({w for c in chunks for w in words(f"{c.section} {c.text}") if w not in STOPWORDS})
        self._surface = surface
        self._surface_stems = [stem(w) for w in surface]
        self._surface_vectors = embedder.encode(surface) if surface else np.zeros((0, embedder.dim), np.float32)
        self._bm25 = bm25s.BM25()
        self._bm25.index([content_terms(f"{c.section} {c.text}") or ["<empty>"] for c in chunks], show_progress=False)

    # -- question words -------------------------------------------------------------
    def query_terms(self, query: str) -> QueryTerms:
        """Stem the question's content words and find the corpus words each may stand for."""
        terms = QueryTerms(stems=[])
        unknown: list[tuple[str, str]] = []
        for word in words(query):
            if word in STOPWORDS or len(word) < 2:
                continue
            s = stem(word)
            if s in terms.variants:
                continue
            terms.stems.append(s)
            terms.variants[s] = {s}
            if s not in self._idf:
                if len(word) >= 4:
                    match = process.extractOne(word, self._surface, scorer=fuzz.ratio, score_cutoff=80)
                    if match is not None:
                        terms.variants[s].add(self._surface_stems[match[2]])
                unknown.append((s, word))
            terms.weights[s] = self._idf.get(s, self._unknown_idf)
        if unknown and len(self._surface):
            vectors = self.embedder.encode([w for _, w in unknown])
            sims = vectors @ self._surface_vectors.T
            for (s, _), row in zip(unknown, sims):
                close = np.nonzero(row >= self.synonym_threshold)[0]
                terms.variants[s].update(self._surface_stems[i] for i in close)
                known = [self._idf.get(self._surface_stems[i], 0.0) for i in close] or [0.0]
                if len(terms.variants[s]) > 1:
                    terms.weights[s] = max(known)
        return terms

    def coverage(self, terms: QueryTerms, section_terms: set[str]) -> tuple[float, list[str]]:
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

    def section_terms(self, chunk: Chunk) -> set[str]:
        return self._section_terms[(chunk.source, chunk.anchor)]

    # -- passages -------------------------------------------------------------------
    def search(self, query_vector: np.ndarray, terms: QueryTerms, k: int = 8) -> list[Hit]:
        """Passages by fused dense and lexical score, best first."""
        n = len(self.index.chunks)
        if n == 0:
            return []
        k = min(k, n)
        dense_scores, rows = self.index.faiss_index.search(query_vector.reshape(1, -1), k)
        dense = {int(r): float(s) for r, s in zip(rows[0], dense_scores[0]) if r >= 0}
        query_tokens = sorted({v for s in terms.stems for v in terms.variants[s]})
        lexical = np.zeros(n, dtype=np.float32)
        if query_tokens:
            lexical = self._bm25.get_scores(query_tokens)
        top_lexical = float(lexical.max()) if len(lexical) else 0.0
        if top_lexical > 0:
            lexical = lexical / top_lexical
        candidates = set(dense) | {int(i) for i in np.argsort(-lexical)[:k] if lexical[i] > 0}
        missing = [r for r in candidates if r not in dense]
        if missing:
            vecs = np.vstack([self.index.faiss_index.reconstruct(r) for r in missing])
            for r, s in zip(missing, vecs @ query_vector):
                dense[r] = float(s)
        hits = [Hit(r, self.index.chunks[r], dense[r], float(lexical[r])) for r in candidates]
        hits.sort(key=lambda h: h.dense + 0.25 * h.lexical, reverse=True)
        return hits

    def sentence_scores(self, row: int, query_vector: np.ndarray) -> np.ndarray:
        rows = self.index.sentence_rows(row)
        return self.index.sentence_vectors[rows.start : rows.stop] @ query_vector

    def sentence_coverage(self, sentence: str, terms: QueryTerms) -> float:
        return self.coverage(terms, set(content_terms(sentence)))[0]
