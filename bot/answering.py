"""Compose a reply from retrieved passages: the clinic's own sentences, with citations,
or an honest abstention when the evidence is not there.

The rule (calibrated on ``tests/data/eval.jsonl``; see docs/EVALUATION.md):

1. Hits are grouped by section. A section's score is its best passage's fused score.
2. The best section answers only when it covers the question's words (weighted by how rare
   they are in the corpus; typos and close synonyms count) and the passage is close to the
   question in meaning. A word the article never uses ("pregnancy", "milligrams") leaves
   the coverage low, which is what makes the bot abstain on questions next to its topic.
3. Inside the answering section, the sentences closest to the question are quoted (one to
   three, in document order). A second section is quoted too when its best sentence is about
   as good: that is how both sides of a contradiction in the article are shown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from .replies import Citation
from .retrieval import Hit, QueryTerms, Retriever

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Thresholds:
    min_coverage: float = 0.6
    min_dense: float = 0.3
    strong_dense: float = 0.62
    strong_min_coverage: float = 0.4
    sentence_margin: float = 0.08
    max_sentences: int = 3
    second_section_margin: float = 0.04


@dataclass(frozen=True, slots=True)
class SectionEvidence:
    hits: list[Hit]
    score: float
    dense: float
    coverage: float
    missing: list[str]

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


def fused(hit: Hit) -> float:
    return hit.dense + 0.25 * hit.lexical


def group_sections(hits: list[Hit], terms: QueryTerms, retriever: Retriever) -> list[SectionEvidence]:
    groups: dict[tuple[str, str], list[Hit]] = {}
    for hit in hits:
        groups.setdefault((hit.chunk.source, hit.chunk.anchor), []).append(hit)
    sections = []
    for group in groups.values():
        group.sort(key=fused, reverse=True)
        coverage, missing = retriever.coverage(terms, retriever.section_terms(group[0].chunk))
        sections.append(
            SectionEvidence(group, fused(group[0]), max(h.dense for h in group), coverage, missing)
        )
    sections.sort(key=lambda s: (s.coverage >= 0.5, s.score + 0.3 * s.coverage), reverse=True)
    return sections


def passes(section: SectionEvidence, t: Thresholds) -> bool:
    return (section.coverage >= t.min_coverage and section.dense >= t.min_dense) or (
        section.dense >= t.strong_dense and section.coverage >= t.strong_min_coverage
    )


def _sentences(section: SectionEvidence, qv: np.ndarray, terms: QueryTerms, retriever: Retriever):
    """(score, passage position, sentence index, sentence, hit) for every sentence of the section's hits."""
    out = []
    for hit in section.hits:
        scores = retriever.sentence_scores(hit.row, qv)
        for i, (sentence, dense) in enumerate(zip(hit.chunk.sentences, scores)):
            cov = retriever.sentence_coverage(sentence, terms)
            out.append((float(dense) + 0.3 * cov + 0.2 * fused(hit), hit.chunk.position, i, sentence, hit))
    out.sort(key=lambda x: x[0], reverse=True)
    return out


def decide(hits: list[Hit], qv: np.ndarray, terms: QueryTerms, retriever: Retriever, t: Thresholds) -> Decision:
    sections = group_sections(hits, terms, retriever)
    if not sections or not terms.stems:
        return Decision(False, "the question has no words the article could match", sections)
    best = sections[0]
    if not passes(best, t):
        reason = (
            f"best section '{best.chunk.section}' covers {best.coverage:.0%} of the question "
            f"(missing: {', '.join(best.missing) or 'none'}), similarity {best.dense:.2f}"
        )
        return Decision(False, reason, sections)

    ranked = _sentences(best, qv, terms, retriever)
    top = ranked[0][0]
    chosen = [r for r in ranked if r[0] >= top - t.sentence_margin][: t.max_sentences]
    picked = [(best, chosen)]
    for other in sections[1:3]:
        if not passes(other, t):
            continue
        other_ranked = _sentences(other, qv, terms, retriever)
        if other_ranked and other_ranked[0][0] >= top - t.second_section_margin:
            picked.append((other, other_ranked[:1]))
            break

    texts, citations = [], []
    for section, rows in picked:
        rows = sorted(rows, key=lambda r: (r[1], r[2]))
        quote = " ".join(r[3] for r in rows)
        texts.append(quote)
        chunk = section.chunk
        citations.append(
            Citation(
                section=chunk.section,
                anchor=chunk.anchor,
                source=chunk.source,
                url=chunk.url,
                quote=quote,
                score=round(float(section.dense), 4),
            )
        )
    reason = f"'{best.chunk.section}' covers {best.coverage:.0%} of the question, similarity {best.dense:.2f}"
    return Decision(True, reason, sections, tuple(citations), "\n\n".join(texts))
