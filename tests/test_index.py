"""The index folder: search matches brute force, the manifest is checked, swaps are atomic."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import CORPUS

from bot.answer.service import Bot
from bot.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from bot.ingest.corpus import corpus_hash, load_chunks
from bot.search.folder import current_build, staleness
from bot.search.hash_embedder import HashEmbedder
from bot.search.index import build, passage_text
from bot.search.load import load_index
from bot.settings import Settings


@pytest.fixture()
def hashed_index(tmp_path, hash_embedder):
    chunks = load_chunks(CORPUS)
    build(chunks, hash_embedder, tmp_path / "index", corpus_hash(CORPUS))
    return tmp_path / "index", chunks


def test_faiss_search_matches_numpy_brute_force(hashed_index, hash_embedder):
    out, chunks = hashed_index
    index = load_index(out, hash_embedder)
    vectors = hash_embedder.encode([passage_text(c) for c in chunks])
    for question in ["how much does it cost", "insurance coverage plan", "side effects dizziness nausea"]:
        q = hash_embedder.encode([question])[0]
        expected = np.argsort(-(vectors @ q))[:5]
        scores, rows = index.faiss_index.search(q.reshape(1, -1), 5)
        assert list(rows[0]) == list(expected)
        np.testing.assert_allclose(scores[0], (vectors @ q)[expected], rtol=1e-5)


def test_real_index_matches_numpy_brute_force(bot, embedder):
    chunks = bot.index.chunks
    vectors = embedder.encode([passage_text(c) for c in chunks])
    q = embedder.encode(["is it covered by my insurance?"])[0]
    scores, rows = bot.index.faiss_index.search(q.reshape(1, -1), len(chunks))
    assert list(rows[0][:3]) == list(np.argsort(-(vectors @ q))[:3])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_folder_holds_manifest_passages_and_vectors(hashed_index):
    out, chunks = hashed_index
    folder = current_build(out)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model"] == "hash-embedder" and manifest["passages"] == len(chunks)
    assert manifest["corpus_hash"] == corpus_hash(CORPUS)
    lines = (folder / "passages.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [c.id for c in chunks]
    assert (out / "current").is_symlink()


def test_rebuild_swaps_and_keeps_the_previous_build(hashed_index, hash_embedder):
    out, chunks = hashed_index
    first = current_build(out)
    build(chunks, hash_embedder, out, corpus_hash(CORPUS))
    assert current_build(out) != first
    assert (out / "previous").resolve() == first
    assert not list(out.glob(".tmp-*"))


def test_model_mismatch_says_what_to_run(hashed_index):
    out, _ = hashed_index
    with pytest.raises(IndexMismatch, match="python -m bot index"):
        load_index(out, HashEmbedder(dim=32))


def test_missing_index_says_what_to_run(tmp_path, hash_embedder):
    with pytest.raises(IndexNotFound, match="python -m bot index"):
        load_index(tmp_path, hash_embedder)


def test_truncated_index_file_is_refused(hashed_index, hash_embedder):
    out, _ = hashed_index
    faiss_file = current_build(out) / "passages.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    with pytest.raises(IndexCorrupt, match="cannot be read"):
        load_index(out, hash_embedder)


def test_stale_index_is_reported(tmp_path, hash_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\n## Cost\n\nIt costs $10.\n")
    build(load_chunks(corpus), hash_embedder, tmp_path / "index", corpus_hash(corpus))
    assert staleness(tmp_path / "index", corpus_hash(corpus), "hash-embedder") is None
    (corpus / "a.md").write_text("# A\n\n## Cost\n\nIt costs $20.\n")
    assert "corpus changed" in staleness(tmp_path / "index", corpus_hash(corpus), "hash-embedder")
    assert "all-MiniLM" in staleness(tmp_path / "index", corpus_hash(corpus), "all-MiniLM-L6-v2")
    bot = Bot.load(Settings(corpus_dir=corpus, index_dir=tmp_path / "index"), hash_embedder)
    assert bot.index_status().stale
