"""One build of the index: the passages' FAISS index and every vector retrieval needs.

A build folder (``index/builds/<build id>/``, see bot.search.folder) holds::

    manifest.json     format version, model, dimension, corpus hash and the hash of each
                      file, counts, build time
    passages.faiss    FAISS inner-product index; vectors are L2-normalised, so the
                      inner product is the cosine similarity. Exact (IndexFlatIP) up
                      to APPROXIMATE_ABOVE passages, an HNSW graph above; the
                      manifest's index_type says which
    passages.jsonl    one passage per line: row i is vector i
    sentences.npy     one vector per sentence (mean of three views, see sentence_views),
                      the passages' sentences in order
    questions.jsonl   curated phrasings (bot.ingest.questions), one per line: row i is vector i
    questions.npy     one vector per phrasing, embedded like a visitor's question
    vocabulary.json   the clinic's vocabulary (bot.ingest.wording)
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from bot.ingest.corpus import Chunk
from bot.ingest.questions import Phrasing
from bot.ingest.wording import Vocabulary
from bot.search.embed_cache import PASSAGE, QUESTION, SENTENCE, EmbedCache, Progress
from bot.search.embedder import Embedder
from bot.search.folder import (
    CACHE_FILE,
    FORMAT_VERSION,
    Manifest,
    build_lock,
    point_current,
    previous_builds,
    prune,
)

logger = logging.getLogger(__name__)


# Up to this many passages the index is exact: every vector is compared with the question,
# about a millisecond per 10,000 passages on one core. Above it the passages go into an
# HNSW graph (IndexHNSWFlat, inner product), which finds the nearest ones of a million
# in about a millisecond with recall@10 above 0.95 against exact search; docs/BENCHMARKS.md
# has the figures. efSearch is saved in the FAISS file, so a loaded index searches as built.
APPROXIMATE_ABOVE = 20_000
HNSW_M = 32  # links per vector: more is better recall, more memory (M x 8 bytes per vector)
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256


@dataclass(frozen=True, slots=True)
class BuildResult:
    manifest: Manifest
    embedded: int  # passages whose vector was computed by this build
    reused: int  # passages whose vector came from the cache
    removed: int  # cached passages no longer in the corpus
    texts_embedded: int  # every text the model ran on (passages, sentence views, phrasings)


def passage_text(chunk: Chunk) -> str:
    """What is embedded for a passage: its section heading gives the paragraph its topic."""
    return f"{chunk.section}\n{chunk.text}"


def sentence_views(chunk: Chunk) -> list[tuple[str, str, str]]:
    """Three texts per sentence: alone, after the sentence before it, under its heading.

    A sentence such as "Again, these effects are typically short-lived" means little alone;
    its vector is the mean of the three views, so the dot product with a question is the
    mean of the three cosine similarities.
    """
    views = []
    for i, sentence in enumerate(chunk.sentences):
        before = chunk.sentences[i - 1] if i else ""
        views.append((sentence, f"{before} {sentence}".strip(), f"{chunk.section} {sentence}"))
    return views


def passage_index(vectors: np.ndarray, approximate_above: float | None = None) -> tuple[faiss.Index, str]:
    """The FAISS index of the passages' (L2-normalised) vectors and its type for the
    manifest: exact up to ``approximate_above`` vectors (default APPROXIMATE_ABOVE), HNSW
    above."""
    dim = vectors.shape[1]
    if len(vectors) <= (APPROXIMATE_ABOVE if approximate_above is None else approximate_above):
        index = faiss.IndexFlatIP(dim)
        index.add(vectors)
        return index, "IndexFlatIP"
    index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = HNSW_EF_SEARCH
    with _faiss_threads(os.cpu_count() or 1):  # a server searches with one (bot.serve.runtime)
        index.add(vectors)
    return index, "IndexHNSWFlat"


_faiss_threads_lock = threading.Lock()


@contextmanager
def _faiss_threads(n: int) -> Iterator[None]:
    with _faiss_threads_lock:
        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(n)
        try:
            yield
        finally:
            faiss.omp_set_num_threads(before)


def embed_sentences(chunks: list[Chunk], embedder: Embedder) -> np.ndarray:
    views = [v for c in chunks for v in sentence_views(c)]
    if not views:
        return np.zeros((0, embedder.dim), np.float32)
    vectors = embedder.encode([text for triple in views for text in triple])
    return vectors.reshape(len(views), 3, embedder.dim).mean(axis=1).astype(np.float32)


def build(
    chunks: list[Chunk],
    embedder: Embedder,
    out: Path,
    corpus_hash: str,
    *,
    phrasings: Sequence[Phrasing] = (),
    vocabulary: Vocabulary | None = None,
    files: dict[str, str] | None = None,
    max_passage_words: int = 0,
    progress: Progress | None = None,
) -> BuildResult:
    """Write a build of ``chunks`` and ``phrasings`` under ``out`` and serve it.

    Every text is looked up in ``out/cache`` first (by model and content), so only new or
    changed text runs through the model; ``progress(done, total)`` follows the embedding.
    The build is written beside the served one, renamed into ``builds/`` and swapped in
    with one symlink replace; the build before is kept as ``previous``. Raises
    :class:`IndexBusy` when another build of ``out`` is running.
    """
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    with build_lock(out):
        cache = EmbedCache.load(out / CACHE_FILE, embedder.name, embedder.dim)
        vectors = _embed(chunks, phrasings, embedder, cache, progress)
        index, index_type = passage_index(vectors.passages)
        manifest = _manifest(chunks, embedder, corpus_hash, index_type, len(vectors.sentences), len(phrasings), max_passage_words, files)
        final = _write_build(out, manifest, index, chunks, phrasings, vocabulary or Vocabulary(), vectors)
        cache.save(out / CACHE_FILE)
        point_current(out, final)
        prune(out, keep={final.name, *previous_builds(out)})
    logger.info(
        "built index %s: %d passages (%d embedded, %d reused, %d removed) in %.1fs",
        manifest.build_id, len(chunks), len(chunks) - vectors.reused, vectors.reused, vectors.removed, time.perf_counter() - started,
    )
    return BuildResult(manifest, len(chunks) - vectors.reused, vectors.reused, vectors.removed, vectors.texts_embedded)


def _manifest(chunks: list[Chunk], embedder: Embedder, corpus_hash: str, index_type: str, sentences: int, questions: int,
              max_passage_words: int, files: dict[str, str] | None) -> Manifest:
    """The new build's manifest."""
    now = datetime.now(UTC)
    return Manifest(
        format_version=FORMAT_VERSION,
        model=embedder.name,
        dim=embedder.dim,
        corpus_hash=corpus_hash,
        documents=len({c.source for c in chunks}),
        sections=len({(c.source, c.anchor) for c in chunks}),
        passages=len(chunks),
        sentences=sentences,
        built_at=now.isoformat(timespec="seconds"),
        index_type=index_type,
        build_id=f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
        questions=questions,
        max_passage_words=max_passage_words,
        engine=getattr(embedder, "engine", "torch"),
        files=dict(sorted((files or {}).items())),
    )


@dataclass(frozen=True, slots=True)
class _Vectors:
    passages: np.ndarray
    sentences: np.ndarray
    questions: np.ndarray
    reused: int  # passages whose vector was in the cache
    removed: int  # cached passages no longer in the corpus
    texts_embedded: int


def _embed(chunks: list[Chunk], phrasings: Sequence[Phrasing], embedder: Embedder, cache: EmbedCache,
           progress: Progress | None) -> _Vectors:
    """Every vector of a build, new text through the model and the rest from ``cache``."""
    passage_texts = [passage_text(c) for c in chunks]
    reused = sum(1 for t in passage_texts if t in cache)
    question_texts = [p.text for p in phrasings]
    view_texts = [t for c in chunks for triple in sentence_views(c) for t in triple]
    texts_embedded = cache.fill(passage_texts + view_texts + question_texts, embedder, progress)
    return _Vectors(
        passages=cache.vectors(passage_texts, PASSAGE).reshape(-1, embedder.dim),
        sentences=embed_sentences(chunks, cache.view(SENTENCE)),
        questions=cache.vectors(question_texts, QUESTION),
        reused=reused,
        removed=cache.dropped(PASSAGE),
        texts_embedded=texts_embedded,
    )


def _write_build(out: Path, manifest: Manifest, index: faiss.Index, chunks: list[Chunk], phrasings: Sequence[Phrasing],
                 vocabulary: Vocabulary, vectors: _Vectors) -> Path:
    """Write the build's files to a temporary folder, synced, then rename it into ``builds/``."""
    builds = out / "builds"
    builds.mkdir(exist_ok=True)
    tmp = out / f".tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        faiss.write_index(index, str(tmp / "passages.faiss"))
        _write_jsonl(tmp / "passages.jsonl", (c.to_json() for c in chunks))
        np.save(tmp / "sentences.npy", vectors.sentences, allow_pickle=False)
        _write_jsonl(tmp / "questions.jsonl", (p.to_json() for p in phrasings))
        np.save(tmp / "questions.npy", vectors.questions, allow_pickle=False)
        (tmp / "vocabulary.json").write_text(json.dumps(vocabulary.to_json(), ensure_ascii=False) + "\n")
        (tmp / "manifest.json").write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        final = builds / manifest.build_id
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
