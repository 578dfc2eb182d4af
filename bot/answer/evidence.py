"""What retrieval finds for one question: passages with their scores, and the candidate
sections with their sentences, features and the probability that they answer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.ingest.corpus import Chunk

SectionKey = tuple[str, str]  # (source, anchor)


@dataclass(frozen=True, slots=True)
class Hit:
    """One passage with its scores for a query."""

    row: int
    chunk: Chunk
    dense: float  # cosine similarity of question and passage
    lexical: float  # BM25 score


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
