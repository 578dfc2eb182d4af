"""One visitor message, computed once: the text as written, its spelling correction, its
vector, its content words and their vectors.

Everything the answer path needs from the model for a message comes from one
``embedder.encode`` call (:func:`prepare`), whatever the number of readings (a follow-up
read with the question before it, each part of a two-part question).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.answer.forms import Form, asked_forms
from bot.answer.retrieval import Retriever
from bot.answer.terms import QueryTerms
from bot.search.embedder import Embedder


@dataclass(frozen=True, slots=True)
class Query:
    """A text to answer, with everything computed from it."""

    text: str  # as written (whitespace collapsed)
    searched: str  # spelling corrected: what is searched
    vector: np.ndarray  # of ``searched``
    terms: QueryTerms
    word_vectors: dict[str, np.ndarray]
    forms: tuple[Form, ...]  # the kinds of answer its form asks for


def prepare(texts: Sequence[str], retriever: Retriever, embedder: Embedder) -> dict[str, Query]:
    """A :class:`Query` for each text, with one pass through the model for all of them."""
    texts = list(dict.fromkeys(" ".join(t.split()) for t in texts))
    searched = {t: retriever.words.correct_spelling(t) for t in texts}
    content = {w for s in searched.values() for w in retriever.words.query_words(s)}
    batch = list(dict.fromkeys([*searched.values(), *sorted(content)]))
    vectors = dict(zip(batch, embedder.encode(batch), strict=True)) if batch else {}
    words = {w: vectors[w] for w in content}
    out = {}
    for text in texts:
        s = searched[text]
        out[text] = Query(text, s, vectors[s], retriever.words.query_terms(s, words), words, asked_forms(s))
    return out
