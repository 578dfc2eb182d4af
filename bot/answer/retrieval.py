"""Hybrid retrieval: dense (FAISS) and lexical (BM25) passages, gathered into ranked
section evidence for one query.

The retriever owns every access to the index. For a :class:`~bot.answer.query.Query` it returns
:class:`SectionEvidence`: each candidate section with its sentences and the general
features that say how well it answers (similarity of its best sentence, passage and
heading to the question, BM25, how much of the question's words it covers, above all the
rarest one, and where it sits in its document). The answerability model
(:mod:`bot.answer.answerability`) turns the features into a probability; sections are ranked by it.

How a question's words are matched against the corpus's is :mod:`bot.answer.terms`.
"""

from __future__ import annotations

import logging
import math

import bm25s
import numpy as np

from bot.answer.answerability import AnswerabilityModel
from bot.answer.evidence import Hit, SectionEvidence, SectionKey, Sentence
from bot.answer.forms import Form, gives
from bot.answer.terms import VAGUE_WEIGHT, CorpusWords, QueryTerms
from bot.ingest.corpus import Chunk
from bot.ingest.outline import LIST_ITEM as LIST_ITEM_LINE
from bot.ingest.text import content_terms, split_sentences
from bot.search.embedder import Embedder
from bot.search.load import LoadedIndex

logger = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG

EAGER_SENTENCE_TERMS = 20_000  # passages up to which sentence terms are computed at load
CANDIDATES = 8  # passages taken from each ranker
PHRASING_CANDIDATE = 0.6  # a curated phrasing this close brings its section into the candidates
SENTENCE_COVERAGE_WEIGHT = 0.1  # added to a sentence's rank times the share of the question's words it uses
FORM_WEIGHT = 0.1  # added to a sentence's rank when it gives the kind of answer asked for
TOP_SENTENCES = 3  # the best sentences a section's sentence-level features look at
UNMATCHED = 0.5  # a question word whose best match in a section is below this is not there

class Retriever:
    """Searches one loaded index. Built once per index; safe to share between threads."""

    def __init__(
        self,
        index: LoadedIndex,
        embedder: Embedder,
        model: AnswerabilityModel | None = None,
        synonym_threshold: float = 0.62,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.model = model or AnswerabilityModel.load()
        chunks = index.chunks
        self._sections(chunks)
        self.words = CorpusWords(chunks, self._section_terms.values(), index.vocabulary.synonyms, embedder, synonym_threshold)
        self._section_words = {
            key: self.words.word_ids(" ".join([chunks[rows[0]].section, *(chunks[r].text for r in rows)]))
            for key, rows in self.section_rows.items()
        }
        self._heading_words = {key: self.words.word_ids(chunks[rows[0]].section) for key, rows in self.section_rows.items()}
        self._sentence_word_rows: dict[int, list[np.ndarray]] = {}
        headings = list(dict.fromkeys(chunks[rows[0]].section for rows in self.section_rows.values()))
        vectors = embedder.encode(headings) if headings else np.zeros((0, embedder.dim), np.float32)
        by_heading = dict(zip(headings, vectors, strict=True))
        self._heading_vectors = {key: by_heading[chunks[rows[0]].section] for key, rows in self.section_rows.items()}
        self._items = [_item_sentences(c) for c in chunks]
        if len(chunks) <= EAGER_SENTENCE_TERMS:  # else on first use, passage by passage
            for row in range(len(chunks)):
                self.sentence_terms(row)
        self._bm25 = bm25s.BM25()
        self._bm25.index([content_terms(f"{c.section} {c.text}") or ["<empty>"] for c in chunks], show_progress=False)

    def _sections(self, chunks: list[Chunk]) -> None:
        """Group the passages by section: their rows, terms, heading terms and place."""
        self.section_rows: dict[SectionKey, list[int]] = {}
        self._section_terms: dict[SectionKey, set[str]] = {}
        self._sentence_terms: dict[int, list[frozenset[str]]] = {}
        for row, chunk in enumerate(chunks):
            key = (chunk.source, chunk.anchor)
            self.section_rows.setdefault(key, []).append(row)
            self._section_terms.setdefault(key, set()).update(content_terms(f"{chunk.section} {chunk.text}"))
        self._heading_terms = {key: set(content_terms(chunks[rows[0]].section)) for key, rows in self.section_rows.items()}
        # Where a section sits: its order among its document's sections (0: the first).
        order: dict[str, list[SectionKey]] = {}
        for key in self.section_rows:
            order.setdefault(key[0], []).append(key)
        self._place = {key: i / max(len(keys) - 1, 1) for keys in order.values() for i, key in enumerate(keys)}

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
    def search(self, query_vector: np.ndarray, terms: QueryTerms, k: int = CANDIDATES) -> list[Hit]:
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

    # -- evidence -------------------------------------------------------------------
    def evidence(
        self, vector: np.ndarray, terms: QueryTerms, word_vectors: dict[str, np.ndarray] | None = None, forms: tuple[Form, ...] = (),
        only: SectionKey | None = None,
    ) -> list[SectionEvidence]:
        """Every candidate section for the query, with features and probability, best first.
        ``forms``: the kinds of answer the question's form asks for (:mod:`bot.answer.forms`).
        ``only``: that section alone, whether or not the search finds it (a visitor picked it)."""
        phrasings = self.phrasing_matches(vector)
        groups = self._candidates(vector, terms, phrasings) if only is None else {only: self._section_hits(only, vector)}
        if not groups:
            return []
        soft = self.words.soft_matches(terms, word_vectors)
        weights = np.array([terms.weights[s] for s in terms.stems])
        rows_out = []
        for key, group in groups.items():
            group.sort(key=lambda h: h.dense, reverse=True)
            phrasing, phrasing_row = phrasings.get(key, (0.0, -1))
            alternative = self.index.question_vectors[phrasing_row] if phrasing >= PHRASING_CANDIDATE else None
            sentences = self._sentences(key, vector, terms, alternative, forms)
            raw, missing = self._raw_features(key, group, sentences, vector, terms, soft, weights, forms, phrasing)
            rows_out.append((key, group, sentences, raw, missing))
        top = {f: max(r[3][f] for r in rows_out) for f in ("sentence", "dense", "lexical", "heading")}
        focus_known = self._corpus_match(terms, soft)
        out = []
        for key, group, sentences, raw, missing in rows_out:
            features = {
                **raw,
                "lexical": min(raw["lexical"], 20.0) / 20.0,
                "lexical_share": raw["lexical"] / top["lexical"] if top["lexical"] > 0 else 0.0,
                "sentence_gap": raw["sentence"] - top["sentence"],
                "dense_gap": raw["dense"] - top["dense"],
                "heading_gap": raw["heading"] - top["heading"],
                "focus_known": focus_known,
                "words": math.log1p(len(terms.stems)),
            }
            p = self.model.probability(features)
            chunk = self.index.chunks[self.section_rows[key][0]]
            out.append(SectionEvidence(key, chunk, tuple(group), tuple(sentences), features, p, tuple(missing)))
        out.sort(key=lambda e: e.probability, reverse=True)
        return out

    def _candidates(
        self, vector: np.ndarray, terms: QueryTerms, phrasings: dict[SectionKey, tuple[float, int]]
    ) -> dict[SectionKey, list[Hit]]:
        """The candidate sections: those of the passages found, and those a close curated
        phrasing points to, each with its passages."""
        groups: dict[SectionKey, list[Hit]] = {}
        for hit in self.search(vector, terms):
            groups.setdefault((hit.chunk.source, hit.chunk.anchor), []).append(hit)
        for key, (similarity, _) in phrasings.items():
            if similarity >= PHRASING_CANDIDATE and key not in groups:
                row = self.section_rows[key][0]
                groups[key] = [Hit(row, self.index.chunks[row], float(self.index.faiss_index.reconstruct(row) @ vector), 0.0)]
        return groups

    def _section_hits(self, key: SectionKey, vector: np.ndarray) -> list[Hit]:
        """Every passage of section ``key``, scored for the query (KeyError: no such section)."""
        return [Hit(row, self.index.chunks[row], float(self.index.faiss_index.reconstruct(row) @ vector), 0.0)
                for row in self.section_rows[key]]

    def _raw_features(
        self, key: SectionKey, group: list[Hit], sentences: list[Sentence], vector: np.ndarray, terms: QueryTerms,
        soft: np.ndarray, weights: np.ndarray, forms: tuple[Form, ...], phrasing: float,
    ) -> tuple[dict[str, float], list[str]]:
        """One section's features before they are compared with the other candidates'."""
        best = sorted(sentences, key=lambda x: x.rank, reverse=True)[:TOP_SENTENCES]
        coverage, missing = self.words.coverage(terms, self._section_terms[key])
        raw = {
            "sentence": max((s.score for s in sentences), default=0.0),
            "dense": group[0].dense,
            "heading": float(self._heading_vectors[key] @ vector),
            "lexical": max(h.lexical for h in group),
            "coverage": coverage,
            **self.word_features(terms, soft, weights, key),
            **self.sentence_match(terms, soft, weights, key, best),
            "heading_coverage": self.words.coverage(terms, self._heading_terms[key])[0],
            "form": _form_feature(best, forms),
            "phrasing": max(phrasing, 0.0),
            "place": self._place[key],
        }
        return raw, missing

    def _sentences(
        self, key: SectionKey, vector: np.ndarray, terms: QueryTerms, alternative: np.ndarray | None, forms: tuple[Form, ...]
    ) -> list[Sentence]:
        out = []
        heading = self._heading_terms[key]
        asked = {v for s in terms.stems for v in terms.variants[s]}
        for row in self.section_rows[key]:
            chunk = self.index.chunks[row]
            scores = self.sentence_scores(row, vector)
            if alternative is not None:  # a close phrasing is a cleaner statement of the question
                scores = np.maximum(scores, self.sentence_scores(row, alternative))
            rows = self.index.sentence_rows(row)
            for i, (text, score) in enumerate(zip(chunk.sentences, scores, strict=True)):
                sentence_terms = self.sentence_terms(row)[i]
                shared = self.words.coverage(terms, sentence_terms)[0]
                rank = float(score) + SENTENCE_COVERAGE_WEIGHT * shared + (FORM_WEIGHT if forms and gives(text, forms) else 0.0)
                out.append(
                    Sentence(
                        row, i, text, float(score), rank,
                        len(sentence_terms - heading - asked), i in self._items[row][0], i in self._items[row][1],
                        self.index.sentence_vectors[rows.start + i],
                    )
                )
        return out

    def _corpus_match(self, terms: QueryTerms, soft: np.ndarray) -> float:
        """How close the corpus comes to the question's rarest word anywhere (1: it has it)."""
        if not terms.stems:
            return 0.0
        focus = terms.focus
        if terms.known[focus]:
            return 1.0
        return max(float(soft[terms.stems.index(focus)].max()), 0.0) if soft.shape[1] else 0.0

    def word_features(self, terms: QueryTerms, soft: np.ndarray, weights: np.ndarray, key: SectionKey) -> dict[str, float]:
        """How the question's words are matched by the section's: the weighted mean match
        (late interaction at word level), the rarest word's match, the weakest match among
        the specific words, and the weighted share of words nothing in the section is near."""
        if not terms.stems:
            return {"soft": 0.0, "focus": 0.0, "weakest": 0.0, "unmatched": 1.0}
        matches = self.words.matches(terms, soft, self._section_words[key], self._section_terms[key])
        focus = terms.stems.index(terms.focus)
        specific = weights > VAGUE_WEIGHT
        return {
            "soft": float(matches @ weights / weights.sum()),
            "focus": float(matches[focus]),
            "weakest": float(matches[specific].min()) if specific.any() else 1.0,
            "unmatched": float(weights[matches < UNMATCHED].sum() / weights.sum()),
        }

    def sentence_match(
        self, terms: QueryTerms, soft: np.ndarray, weights: np.ndarray, key: SectionKey, best: list[Sentence]
    ) -> dict[str, float]:
        """The same word matching within the ``best`` sentences (each with its heading):
        does the sentence that would be quoted speak of what the question asks?"""
        if not terms.stems or not best:
            return {"sentence_soft": 0.0, "sentence_focus": 0.0}
        focus = terms.stems.index(terms.focus)
        heading_idx = self._heading_words[key]
        best_soft = best_focus = 0.0
        for sentence in best:
            idx = np.union1d(self._sentence_words(sentence.row)[sentence.index], heading_idx)
            exact = self.sentence_terms(sentence.row)[sentence.index] | self._heading_terms[key]
            matches = self.words.matches(terms, soft, idx, exact)
            best_soft = max(best_soft, float(matches @ weights / weights.sum()))
            best_focus = max(best_focus, float(matches[focus]))
        return {"sentence_soft": best_soft, "sentence_focus": best_focus}

    def _sentence_words(self, row: int) -> list[np.ndarray]:
        """The word rows of each sentence of passage ``row``, computed on first use."""
        found = self._sentence_word_rows.get(row)
        if found is None:
            found = self._sentence_word_rows[row] = [self.words.word_ids(t) for t in self.index.chunks[row].sentences]
        return found


def _form_feature(best: list[Sentence], forms: tuple[Form, ...]) -> float:
    """1 when one of the ``best`` sentences gives the kind of answer the question's form
    asks for, 0 when none does, 0.5 when the form asks for no particular kind."""
    if not forms:
        return 0.5
    return float(any(gives(s.text, forms) for s in best))


def _item_sentences(chunk: Chunk) -> tuple[frozenset[int], frozenset[int]]:
    """Indices of the passage's sentences that come from list items, and of those that
    start an item (an item may hold several sentences)."""
    items, starts, i = set(), set(), 0
    for line in chunk.text.split("\n"):
        is_item = bool(LIST_ITEM_LINE.match(line))
        n = len(split_sentences(LIST_ITEM_LINE.sub("", line, count=1)))
        if is_item and n:
            items.update(range(i, i + n))
            starts.add(i)
        i += n
    return (frozenset(items), frozenset(starts)) if i == len(chunk.sentences) else (frozenset(), frozenset())


__all__ = ["Retriever"]
