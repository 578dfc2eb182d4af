"""Hybrid retrieval: dense (FAISS) and lexical (BM25) passages, gathered into ranked
section evidence for one query.

The retriever owns every access to the index. For a :class:`~bot.answer.query.Query` it returns
:class:`SectionEvidence`: each candidate section with its sentences and the general
features that say how well it answers (similarity of its best sentence, passage and
heading to the question, BM25, how much of the question's words it covers, above all the
rarest one, and where it sits in its document). The answerability model
(:mod:`bot.answer.answerability`) turns the features into a probability; sections are ranked by it.

A question word counts as covered by a section when the section contains it (after
stemming), a close spelling of it (a typo), a synonym the corpus lists
(``corpus/vocabulary.yaml``) or, softly, a word the embedding model places near it: each
question word's best match among the section's words (late interaction at word level).
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

from bot.answer.answerability import AnswerabilityModel
from bot.answer.forms import Form, gives
from bot.answer.lexicon import PHRASES, VAGUE
from bot.ingest.corpus import Chunk
from bot.ingest.formats import LIST_ITEM as LIST_ITEM_LINE
from bot.ingest.text import STOPWORDS, content_terms, split_sentences, stem, words
from bot.search.embedder import Embedder
from bot.search.load import LoadedIndex

logger = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG

VAGUE_WEIGHT = 0.2
_TOKEN = re.compile(r"[A-Za-z]+")
EAGER_SENTENCE_TERMS = 20_000  # passages up to which sentence terms are computed at load
CANDIDATES = 8  # passages taken from each ranker
PHRASING_CANDIDATE = 0.6  # a curated phrasing this close brings its section into the candidates
SENTENCE_COVERAGE_WEIGHT = 0.1  # added to a sentence's rank times the share of the question's words it uses
FORM_WEIGHT = 0.1  # added to a sentence's rank when it gives the kind of answer asked for
TOP_SENTENCES = 3  # the best sentences a section's sentence-level features look at
UNMATCHED = 0.5  # a question word whose best match in a section is below this is not there

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
    variants_exact: dict[str, frozenset[str]] = field(default_factory=dict)  # itself and listed synonyms
    weights: dict[str, float] = field(default_factory=dict)
    surface: dict[str, str] = field(default_factory=dict)  # stem -> the word as asked
    known: dict[str, bool] = field(default_factory=dict)  # stem -> the corpus has it (or a variant)

    @property
    def focus(self) -> str | None:
        """The rarest content word: what the question is most specifically about."""
        return max(self.stems, key=lambda s: self.weights[s]) if self.stems else None


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of a section, scored for the query."""

    row: int  # passage row
    index: int  # sentence index in the passage
    text: str
    score: float  # similarity to the question
    rank: float  # what quoting orders by: similarity plus the question words it uses
    novelty: int  # content words it has beyond the question and the heading
    is_item: bool  # from a list item
    starts_item: bool  # the first sentence of its list item
    vector: np.ndarray


@dataclass(frozen=True, slots=True)
class SectionEvidence:
    """A candidate section, its sentences in document order, and its features."""

    key: SectionKey
    chunk: Chunk  # its first passage (heading, source, url)
    hits: tuple[Hit, ...]
    sentences: tuple[Sentence, ...]
    features: dict[str, float]
    probability: float  # that this section answers the question
    missing: tuple[str, ...]  # question words it does not cover

    @property
    def best(self) -> Sentence:
        return max(self.sentences, key=lambda s: s.rank)


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
        self.synonyms = index.vocabulary.synonyms  # corpus/vocabulary.yaml
        self.synonym_threshold = synonym_threshold
        chunks = index.chunks
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
        doc_freq = Counter(t for terms in self._section_terms.values() for t in terms)
        n = max(len(self._section_terms), 1)
        self._idf = {t: math.log(1 + n / df) for t, df in doc_freq.items()}
        self._unknown_idf = math.log(1 + n) + 1.0
        all_words = {w for c in chunks for w in words(f"{c.section} {c.text}")}
        self._surface = sorted(w for w in all_words if w not in STOPWORDS)
        self._surface_at = {w: i for i, w in enumerate(self._surface)}
        self._surface_stems = [stem(w) for w in self._surface]
        self._surface_vectors = (
            embedder.encode(self._surface) if self._surface else np.zeros((0, embedder.dim), np.float32)
        )
        self._section_words = {
            key: self._word_ids(" ".join([chunks[rows[0]].section, *(chunks[r].text for r in rows)]))
            for key, rows in self.section_rows.items()
        }
        self._heading_words = {key: self._word_ids(chunks[rows[0]].section) for key, rows in self.section_rows.items()}
        self._sentence_word_rows: dict[int, list[np.ndarray]] = {}
        headings = list(dict.fromkeys(chunks[rows[0]].section for rows in self.section_rows.values()))
        vectors = embedder.encode(headings) if headings else np.zeros((0, embedder.dim), np.float32)
        by_heading = dict(zip(headings, vectors, strict=True))
        self._heading_vectors = {key: by_heading[chunks[rows[0]].section] for key, rows in self.section_rows.items()}
        self._items = [_item_sentences(c) for c in chunks]
        # Words a typo may be corrected to: the corpus's own words and its synonym table's.
        self._spelling = sorted({w for w in all_words if len(w) >= 3} | set(self.synonyms) | set(VAGUE))
        self._spelling_set = frozenset(self._spelling) | STOPWORDS | embedder.known_words()
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
        self, vector: np.ndarray, terms: QueryTerms, word_vectors: dict[str, np.ndarray] | None = None, forms: tuple[Form, ...] = ()
    ) -> list[SectionEvidence]:
        """Every candidate section for the query, with features and probability, best first.
        ``forms``: the kinds of answer the question's form asks for (:mod:`bot.answer.forms`)."""
        hits = self.search(vector, terms)
        groups: dict[SectionKey, list[Hit]] = {}
        for hit in hits:
            groups.setdefault((hit.chunk.source, hit.chunk.anchor), []).append(hit)
        phrasings = self.phrasing_matches(vector)
        for key, (similarity, _) in phrasings.items():
            if similarity >= PHRASING_CANDIDATE and key not in groups:
                row = self.section_rows[key][0]
                groups[key] = [Hit(row, self.index.chunks[row], float(self.index.faiss_index.reconstruct(row) @ vector), 0.0)]
        if not groups:
            return []
        soft = self._soft_matches(terms, word_vectors)
        weights = np.array([terms.weights[s] for s in terms.stems])
        rows_out = []
        for key, group in groups.items():
            group.sort(key=lambda h: h.dense, reverse=True)
            phrasing, phrasing_row = phrasings.get(key, (0.0, -1))
            alternative = self.index.question_vectors[phrasing_row] if phrasing >= PHRASING_CANDIDATE else None
            sentences = self._sentences(key, vector, terms, alternative, forms)
            best = sorted(sentences, key=lambda x: x.rank, reverse=True)[:TOP_SENTENCES]
            coverage, missing = self.coverage(terms, self._section_terms[key])
            raw = {
                "sentence": max((s.score for s in sentences), default=0.0),
                "dense": group[0].dense,
                "heading": float(self._heading_vectors[key] @ vector),
                "lexical": max(h.lexical for h in group),
                "coverage": coverage,
                **self.word_features(terms, soft, weights, key),
                **self.sentence_match(terms, soft, weights, key, best),
                "heading_coverage": self.coverage(terms, self._heading_terms[key])[0],
                "form": _form_feature(best, forms),
                "phrasing": max(phrasing, 0.0),
                "place": self._place[key],
            }
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
                shared = self.coverage(terms, sentence_terms)[0]
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

    def _soft_matches(self, terms: QueryTerms, word_vectors: dict[str, np.ndarray] | None) -> np.ndarray:
        """Similarity of each question word to each corpus word (rows: ``terms.stems``)."""
        if not terms.stems or not len(self._surface):
            return np.zeros((len(terms.stems), len(self._surface)), np.float32)
        vectors = self.word_vectors([terms.surface[s] for s in terms.stems], word_vectors)
        return vectors @ self._surface_vectors.T

    def _matches(self, terms: QueryTerms, soft: np.ndarray, idx: np.ndarray, exact: set[str] | frozenset[str]) -> np.ndarray:
        """Each question word's best match among the words ``idx`` (stems ``exact``): 1 for the
        word itself or a listed synonym, else the closest word's cosine similarity."""
        best = soft[:, idx].max(axis=1) if len(idx) and soft.shape[0] else np.zeros(len(terms.stems), np.float32)
        return np.array(
            [1.0 if (terms.variants_exact[s] & exact) else max(float(best[i]), 0.0) for i, s in enumerate(terms.stems)],
            dtype=np.float64,
        )

    def word_features(self, terms: QueryTerms, soft: np.ndarray, weights: np.ndarray, key: SectionKey) -> dict[str, float]:
        """How the question's words are matched by the section's: the weighted mean match
        (late interaction at word level), the rarest word's match, the weakest match among
        the specific words, and the weighted share of words nothing in the section is near."""
        if not terms.stems:
            return {"soft": 0.0, "focus": 0.0, "weakest": 0.0, "unmatched": 1.0}
        matches = self._matches(terms, soft, self._section_words[key], self._section_terms[key])
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
            matches = self._matches(terms, soft, idx, exact)
            best_soft = max(best_soft, float(matches @ weights / weights.sum()))
            best_focus = max(best_focus, float(matches[focus]))
        return {"sentence_soft": best_soft, "sentence_focus": best_focus}

    def _word_ids(self, text: str) -> np.ndarray:
        """Rows of ``_surface_vectors`` for the words of ``text``."""
        return np.array(sorted({self._surface_at[w] for w in words(text) if w in self._surface_at}), dtype=np.int64)

    def _sentence_words(self, row: int) -> list[np.ndarray]:
        """The word rows of each sentence of passage ``row``, computed on first use."""
        found = self._sentence_word_rows.get(row)
        if found is None:
            found = self._sentence_word_rows[row] = [self._word_ids(t) for t in self.index.chunks[row].sentences]
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


__all__ = ["Hit", "QueryTerms", "Retriever", "SectionEvidence", "SectionKey", "Sentence"]
