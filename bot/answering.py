"""Compose a reply from retrieved passages: the clinic's own sentences, with citations,
or an honest abstention when the evidence is not there.

The rule (calibrated on ``tests/data/eval.jsonl``; see docs/EVALUATION.md):

1. Candidate passages are grouped by section. A section scores by its best sentence's
   similarity to the question, its best passage's similarity, its BM25 score and how much
   of the question's words it covers.
2. The best section answers only with enough evidence (``Thresholds``): it must cover the
   question's words (weighted by how rare they are; typos and synonyms count) and be close
   to it in meaning. A substantive word the article never uses ("pregnancy", "milligrams")
   leaves the coverage low, which is what makes the bot abstain next to its topic.
3. The sentences closest to the question are quoted in document order (with the sentence
   before one that leans on it, like "Again, these effects..."). A second section is quoted
   too when it scores nearly as well: that is how both sides of a contradiction in the
   article are shown, each with its own citation.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np

from .replies import Citation
from .retrieval import Hit, QueryTerms, Retriever, SectionKey
from .scope import out_of_scope

logger = logging.getLogger(__name__)

# A sentence that starts like this leans on the one before it.
_LEANS_BACK = re.compile(
    r"^(?:However|Again|This|These|That|Those|It|They|If this|If so|In addition|Additionally|"
    r"Also|For example|Still|Then|So|But|And)\b"
)


# A question that asks what to do or whom to ask ("who do I ask to find out if it's
# covered?", "what should I do if ...?") is answered by the article's advice: a sentence
# that tells the reader what to do ("check with your insurance provider", "let your doctor
# know") ranks above sentences that only state facts on the same subject.
_ASKS_WHAT_TO_DO = re.compile(
    r"\b(?:what (?:should|can|do|would) (?:i|we|you) do|what to do|who (?:do|should|can|would) (?:i|we) (?:ask|call|contact|talk to|speak to|see)|"
    r"who to (?:ask|call|contact)|how (?:do|can|would|should) (?:i|we) (?:find out|check|know|tell|make sure|confirm|verify)|"
    r"how to (?:find out|check)|where (?:do|can|should) (?:i|we) (?:find out|check|ask)|what are (?:my|the) (?:options|next steps?)|what now)\b",
    re.IGNORECASE,
)
_GIVES_ADVICE = re.compile(
    r"\b(?:check with|let (?:your|a) (?:doctor|physician|provider)|talk (?:to|with) (?:your|a)|speak (?:to|with) (?:your|a)|"
    r"ask (?:your|a)|contact (?:your|us|the)|call (?:your|us|the)|we recommend|recommend that you|be sure to|make sure (?:to|you))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When the best section may answer, and how much of it is quoted."""

    min_coverage: float = 0.2
    min_sentence: float = 0.1
    strong_sentence: float = 0.3
    strong_min_coverage: float = 0.0
    sentence_margin: float = 0.1
    next_sentence_margin: float = 0.15
    max_sentences: int = 3
    second_section_margin: float = 0.1
    # Another section's sentence this close in meaning to the quoted one says the same
    # thing, or contradicts it ("several hours" vs "30-60 minutes"): it is quoted too.
    better_sentence_margin: float = 0.03
    parallel_similarity: float = 0.6
    parallel_margin: float = 0.2
    # Section score = these weights times: best sentence similarity, best passage
    # similarity, BM25 score (capped at 10), coverage of the question's words.
    weights: tuple[float, float, float, float] = (1.0, 1.0, 0.05, 0.2)
    # A curated phrasing (corpus/questions.yaml) this close to the question counts as
    # evidence for its section, and the section's sentences are also ranked against it.
    phrasing_match: float = 0.7
    phrasing_weight: float = 1.0
    # Sentence score = similarity + this times the share of the question's words it uses.
    sentence_coverage_weight: float = 0.1
    # Added to a sentence's rank when the question asks what to do and the sentence says.
    advice_weight: float = 0.1


@dataclass(frozen=True, slots=True)
class Sentence:
    score: float  # similarity to the question
    row: int
    index: int
    text: str
    rank: float = 0.0  # what quoting orders by: similarity plus the words it shares with the question


@dataclass(frozen=True, slots=True)
class SectionEvidence:
    key: SectionKey
    hits: list[Hit]
    sentences: list[Sentence]  # best first
    score: float
    sentence: float  # best sentence similarity
    dense: float  # best passage similarity
    lexical: float
    coverage: float
    missing: list[str]
    phrasing: float = 0.0  # best curated phrasing's similarity to the question

    @property
    def chunk(self):
        return self.hits[0].chunk


@dataclass(frozen=True, slots=True)
class Decision:
    answerable: bool
    reason: str
    sections: list[SectionEvidence]
    citations: tuple[Citation, ...] = ()
    text: str = ""
    topic: str | None = None  # set when the question is on a topic the article does not cover


def section_evidence(
    hits: list[Hit], qv: np.ndarray, terms: QueryTerms, retriever: Retriever, t: Thresholds, asks_advice: bool = False
) -> list[SectionEvidence]:
    """Score every section that has a candidate passage, best first. ``asks_advice``: the
    question asks what to do (sentences that say so rank higher)."""
    groups: dict[SectionKey, list[Hit]] = {}
    for hit in hits:
        groups.setdefault((hit.chunk.source, hit.chunk.anchor), []).append(hit)
    phrasings = retriever.phrasing_matches(qv)
    for key, (similarity, _) in phrasings.items():
        if similarity >= t.phrasing_match and key not in groups:
            row = retriever.section_rows[key][0]
            chunk = retriever.index.chunks[row]
            vector = retriever.index.faiss_index.reconstruct(row)
            groups[key] = [Hit(row, chunk, float(vector @ qv), 0.0)]
    out = []
    for key, group in groups.items():
        group.sort(key=lambda h: h.dense, reverse=True)
        phrasing, phrasing_row = phrasings.get(key, (0.0, -1))
        # A close phrasing is a cleaner statement of the question: rank sentences by both.
        alternative = retriever.index.question_vectors[phrasing_row] if phrasing >= t.phrasing_match else None
        sentences = []
        for row in retriever.section_rows[key]:
            chunk = retriever.index.chunks[row]
            scores = retriever.sentence_scores(row, qv)
            if alternative is not None:
                scores = np.maximum(scores, retriever.sentence_scores(row, alternative))
            sentence_terms = retriever.sentence_terms(row)
            for i, (text, score) in enumerate(zip(chunk.sentences, scores, strict=True)):
                shared = retriever.coverage(terms, sentence_terms[i])[0] if t.sentence_coverage_weight else 0.0
                rank = float(score) + t.sentence_coverage_weight * shared
                if asks_advice and _GIVES_ADVICE.search(text):
                    rank += t.advice_weight
                sentences.append(Sentence(float(score), row, i, text, rank))
        sentences.sort(key=lambda s: s.score, reverse=True)
        coverage, missing = retriever.coverage(terms, retriever.section_terms(key))
        best_sentence = sentences[0].score if sentences else 0.0
        best_rank = max((x.rank for x in sentences), default=0.0)
        dense = group[0].dense
        lexical = max(h.lexical for h in group)
        w = t.weights
        score = w[0] * best_rank + w[1] * dense + w[2] * min(lexical, 10.0) + w[3] * coverage
        if phrasing >= t.phrasing_match:
            score += t.phrasing_weight * phrasing
        out.append(SectionEvidence(key, group, sentences, score, best_sentence, dense, lexical, coverage, missing, phrasing))
    out.sort(key=lambda s: s.score, reverse=True)
    return out


def passes(section: SectionEvidence, t: Thresholds) -> bool:
    """Enough evidence that ``section`` answers the question."""
    if section.phrasing >= t.phrasing_match:
        return True
    return (section.coverage >= t.min_coverage and section.sentence >= t.min_sentence) or (
        section.sentence >= t.strong_sentence and section.coverage >= t.strong_min_coverage
    )


def quote(section: SectionEvidence, t: Thresholds, only_best: bool = False) -> list[Sentence]:
    """The sentences of ``section`` to quote, in document order."""
    ranked = sorted(section.sentences, key=lambda s: s.rank, reverse=True)
    best = ranked[0]
    top = best.rank
    chosen = ranked[:1] if only_best else [s for s in ranked if s.rank >= top - t.sentence_margin][: t.max_sentences]
    by_place = {(s.row, s.index): s for s in ranked}
    following = by_place.get((best.row, best.index + 1))
    if not only_best and following and following not in chosen and following.rank >= top - t.next_sentence_margin:
        chosen.append(following)
    for s in list(chosen):
        before = by_place.get((s.row, s.index - 1))
        if _LEANS_BACK.match(s.text) and before and before not in chosen:
            chosen.append(before)
    return sorted(chosen, key=lambda s: (s.row, s.index))


def section_text(section: SectionEvidence, retriever: Retriever) -> str:
    chunks = [retriever.index.chunks[r] for r in retriever.section_rows[section.key]]
    return " ".join([chunks[0].section, *(c.text for c in chunks)])


def _vector(retriever: Retriever, sentence: Sentence) -> np.ndarray:
    return retriever.index.sentence_vectors[retriever.index.sentence_rows(sentence.row).start + sentence.index]


def parallel_sentence(
    best: SectionEvidence, others: list[SectionEvidence], retriever: Retriever, t: Thresholds
) -> tuple[SectionEvidence, list[Sentence]] | None:
    """A sentence of another section that states the same thing as ``best``'s top sentence."""
    top = best.sentences[0]
    anchor = _vector(retriever, top)
    found = None
    for other in others:
        for sentence in other.sentences:
            if sentence.score < top.score - t.parallel_margin:
                break
            similarity = float(_vector(retriever, sentence) @ anchor)
            if similarity >= t.parallel_similarity and (found is None or similarity > found[0]):
                found = (similarity, other, sentence)
    return None if found is None else (found[1], [found[2]])


def decide(
    question: str, hits: list[Hit], qv: np.ndarray, terms: QueryTerms, retriever: Retriever, t: Thresholds
) -> Decision:
    """Answer ``question`` from the best sections, or abstain and say why."""
    sections = section_evidence(hits, qv, terms, retriever, t, asks_advice=bool(_ASKS_WHAT_TO_DO.search(question)))
    if not sections or not terms.stems:
        return Decision(False, "the question has no words the article could match", sections)
    best = sections[0]
    topic = out_of_scope(question, " ".join(section_text(s, retriever) for s in sections[:2]))
    if topic is not None:
        return Decision(False, f"it asks about {topic.name}, which the closest sections do not cover", sections, topic=topic.name)
    if not passes(best, t):
        reason = (
            f"best section '{best.chunk.section}' covers {best.coverage:.0%} of the question "
            f"(missing: {', '.join(best.missing) or 'none'}), best sentence similarity {best.sentence:.2f}"
        )
        return Decision(False, reason, sections)

    picked = [(best, quote(best, t))]
    top_rank = max(x.rank for x in best.sentences)
    # A section further down whose best sentence is closer to the question than anything in
    # the best section: its sentence is quoted too (the section won on its other passages).
    for other in sections[1:3]:
        if max(x.rank for x in other.sentences) >= top_rank - t.better_sentence_margin and passes(other, t):
            picked.append((other, quote(other, t, only_best=True)))
            break
    parallel = parallel_sentence(best, sections[1:], retriever, t)
    if parallel is not None and all(parallel[0].key != p[0].key for p in picked):
        picked.append(parallel)
    if len(picked) == 1:
        for other in sections[1:3]:
            if other.score >= best.score - t.second_section_margin and passes(other, t):
                picked.append((other, quote(other, t, only_best=True)))
                break
    # The sentence closest to the question comes first, whichever section holds it.
    picked.sort(key=lambda p: max(x.rank for x in p[1]), reverse=True)

    texts, citations = [], []
    for section, sentences in picked:
        text = " ".join(s.text for s in sentences)
        texts.append(text)
        chunk = retriever.index.chunks[sentences[0].row]
        citations.append(
            Citation(
                section=chunk.section,
                anchor=chunk.anchor,
                source=chunk.source,
                url=chunk.url,
                quote=text,
                score=round(section.sentence, 4),
            )
        )
    reason = (
        f"'{best.chunk.section}' covers {best.coverage:.0%} of the question, "
        f"best sentence similarity {best.sentence:.2f}"
    )
    return Decision(True, reason, sections, tuple(citations), "\n\n".join(texts))
