"""Large corpora get an approximate (HNSW) passage index, chosen by size and recorded."""

from __future__ import annotations

import shutil

import faiss
import numpy as np
import pytest
from conftest import CORPUS

import bot.search.index as index_module
from bot.answer.service import Bot
from bot.search.folder import read_manifest
from bot.search.hash_embedder import HashEmbedder
from bot.search.index import passage_index
from bot.search.load import load_index
from bot.search.reindex import reindex
from bot.settings import Settings

QUESTIONS = ["how much does it cost?", "is ketamine infusion covered by insurance?", "what are the side effects",
             "how long does an infusion take", "where can I park?"]


def clustered(n: int, dim: int = 64, seed: int = 3) -> np.ndarray:
    """Unit vectors around 50 centres (as embeddings of passages on a few topics are)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, dim))
    x = centres[rng.integers(0, 50, n)] + 0.6 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_small_corpora_are_searched_exactly_and_large_ones_with_hnsw():
    vectors = clustered(300)
    exact, kind = passage_index(vectors, approximate_above=300)
    assert kind == "IndexFlatIP" and isinstance(exact, faiss.IndexFlatIP)
    approximate, kind = passage_index(vectors, approximate_above=299)
    assert kind == "IndexHNSWFlat" and approximate.ntotal == 300


def test_hnsw_finds_the_ten_nearest_passages_as_brute_force_does(tmp_path):
    vectors, queries = clustered(4000), clustered(100, seed=4)
    index, _ = passage_index(vectors, approximate_above=1000)
    path = tmp_path / "passages.faiss"
    faiss.write_index(index, str(path))
    loaded = faiss.read_index(str(path))
    assert loaded.hnsw.efSearch == index_module.HNSW_EF_SEARCH  # searches as it was built
    scores, rows = loaded.search(queries, 10)
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = np.mean([len(set(r) & set(t)) / 10 for r, t in zip(rows, truth, strict=True)])
    assert recall >= 0.95
    assert np.allclose(scores[:, 0], (queries @ vectors.T).max(axis=1), atol=1e-5)  # inner products, as exact
    assert np.allclose(loaded.reconstruct(7), vectors[7])  # retrieval rescored passages this way


@pytest.fixture()
def corpus(tmp_path):
    shutil.copytree(CORPUS, tmp_path / "corpus")
    return tmp_path / "corpus"


def test_a_corpus_above_the_threshold_is_indexed_with_hnsw_and_answered_the_same(corpus, tmp_path, monkeypatch):
    embedder = HashEmbedder()
    exact = Settings(corpus_dir=corpus, index_dir=tmp_path / "exact")
    reindex(exact, embedder)
    monkeypatch.setattr(index_module, "APPROXIMATE_ABOVE", 3)
    approximate = Settings(corpus_dir=corpus, index_dir=tmp_path / "approximate")
    reindex(approximate, embedder)

    assert read_manifest(exact.index_dir).index_type == "IndexFlatIP"
    manifest = read_manifest(approximate.index_dir)
    assert manifest.index_type == "IndexHNSWFlat"
    assert isinstance(load_index(approximate.index_dir, embedder).faiss_index, faiss.IndexHNSWFlat)
    one, other = Bot.load(exact, embedder), Bot.load(approximate, embedder)
    for q in QUESTIONS:
        assert one.answer(q) == other.answer(q)
