"""The traced model a server runs gives the eager model's vectors, and falls back to eager."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from bot.search.embedder import MiniLMEmbedder

TEXTS = [
    "How much does it cost?",
    "cost",
    "Hi there! I read about ketamine infusions for depression. Does insurance cover any of it, and what "
    "do I pay for a series of six infusions if it does not? Thanks so much in advance for your help.",
    "whats ketamin",
    "can i drive home afterwards",
    "Is it safe?",
    "do i need a referral from my doctor or can I book directly with the clinic",
]


@pytest.fixture(scope="module")
def traced() -> MiniLMEmbedder:
    model = MiniLMEmbedder(traced=True)
    assert model._traced is not None, "the model should trace on this machine"
    return model


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_traced_vectors_are_the_eager_models_for_any_batch(traced, embedder, size):
    for start in range(0, len(TEXTS) - size + 1, 2):
        texts = TEXTS[start : start + size]
        assert np.allclose(traced.encode(texts), embedder.encode(texts), atol=1e-5)


def test_a_server_answers_the_same_with_the_traced_and_the_eager_model(traced, embedder, settings):
    from bot.answer.service import Bot

    eager_bot = Bot.load(settings, embedder)
    traced_bot = Bot.load(settings, traced)
    for question in ["how much is it", "can I drive myself home?", "is ketamine safe while pregnant", "whats ketamin"]:
        a, b = eager_bot.answer(question), traced_bot.answer(question)
        assert (a.answer, a.abstained, [c.anchor for c in a.citations]) == (b.answer, b.abstained, [c.anchor for c in b.citations])


def test_a_model_that_cannot_be_traced_runs_eagerly_with_a_warning(monkeypatch, caplog, embedder):
    import torch

    def refuse(*args, **kwargs):
        raise RuntimeError("tracing is not supported here")

    monkeypatch.setattr(torch.jit, "trace", refuse)
    with caplog.at_level(logging.WARNING, logger="bot.search.embedder"):
        model = MiniLMEmbedder(traced=True)
    assert model._traced is None and "running it eagerly" in caplog.text
    assert np.allclose(model.encode(TEXTS[:3]), embedder.encode(TEXTS[:3]), atol=1e-6)
