"""A build read back for serving: its FAISS index, passages, sentence and phrasing vectors,
checked against the running model and against itself."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from bot.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from bot.ingest.corpus import Chunk
from bot.ingest.questions import Phrasing
from bot.ingest.wording import Vocabulary
from bot.search.embedder import Embedder
from bot.search.folder import REBUILD_HINT, Manifest, current_build, read_manifest_at


@dataclass(slots=True)
class LoadedIndex:
    """What the retriever searches: the FAISS index, its passages, sentence vectors and the
    curated phrasings with their vectors."""

    manifest: Manifest
    path: Path
    faiss_index: faiss.Index
    chunks: list[Chunk]
    sentence_vectors: np.ndarray
    sentence_offsets: np.ndarray  # chunk i's sentences are rows offsets[i]:offsets[i+1]
    questions: list[Phrasing] = field(default_factory=list)
    question_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # row i: questions[i]
    vocabulary: Vocabulary = field(default_factory=Vocabulary)  # corpus/vocabulary.yaml

    def sentence_rows(self, chunk_row: int) -> range:
        return range(int(self.sentence_offsets[chunk_row]), int(self.sentence_offsets[chunk_row + 1]))


def load_index(out: Path, embedder: Embedder) -> LoadedIndex:
    """Load the served build of ``out`` and check it against the running model."""
    build = current_build(out)
    if build is None:
        raise IndexNotFound(f"no index in {out}/: {REBUILD_HINT}")
    return load_build(build, embedder)


def load_build(build: Path, embedder: Embedder) -> LoadedIndex:
    """Load one build folder, refusing one made by another model or that is damaged."""
    manifest = read_manifest_at(build)
    if manifest.model != embedder.name or manifest.dim != embedder.dim:
        raise IndexMismatch(
            f"{build} was built with {manifest.model} ({manifest.dim} dimensions) but the bot "
            f"runs {embedder.name} ({embedder.dim}): {REBUILD_HINT}"
        )
    try:
        index = faiss.read_index(str(build / "passages.faiss"))
        with open(build / "passages.jsonl", encoding="utf-8") as fh:
            chunks = [Chunk.from_json(json.loads(line)) for line in fh if line.strip()]
        sentence_vectors = np.load(build / "sentences.npy", allow_pickle=False)
        with open(build / "questions.jsonl", encoding="utf-8") as fh:
            questions = [Phrasing.from_json(json.loads(line)) for line in fh if line.strip()]
        question_vectors = np.load(build / "questions.npy", allow_pickle=False)
        words_file = build / "vocabulary.json"  # builds made before it existed have none
        vocabulary = Vocabulary.from_json(json.loads(words_file.read_text(encoding="utf-8"))) if words_file.exists() else Vocabulary()
    except Exception as exc:  # faiss raises RuntimeError, json ValueError, numpy ValueError
        raise IndexCorrupt(f"{build} cannot be read ({exc}): {REBUILD_HINT}") from None
    offsets = np.cumsum([0] + [len(c.sentences) for c in chunks])
    if (
        index.ntotal != len(chunks)
        or len(chunks) != manifest.passages
        or index.d != manifest.dim
        or sentence_vectors.shape != (int(offsets[-1]), manifest.dim)
        or len(questions) != manifest.questions
        or question_vectors.shape != (len(questions), manifest.dim)
    ):
        raise IndexCorrupt(
            f"{build} is inconsistent ({index.ntotal} vectors, {len(chunks)} passages, "
            f"{len(questions)} phrasings; manifest says {manifest.passages} and "
            f"{manifest.questions}): {REBUILD_HINT}"
        )
    return LoadedIndex(manifest, build, index, chunks, sentence_vectors, offsets, questions, question_vectors, vocabulary)
