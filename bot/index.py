"""The index folder: build it, swap it into place, load and check it.

Layout (a plain folder you can read; no pickle)::

    index/
      current -> builds/20261127T101500-3f2a9c1d   (symlink, replaced atomically)
      builds/<build id>/
        manifest.json     format version, model, dimension, corpus hash, counts, build time
        passages.faiss    FAISS inner-product index; vectors are L2-normalised, so the
                          inner product is the cosine similarity
        passages.jsonl    one passage per line: row i is vector i
        sentences.npy     one vector per sentence, passages' sentences in order

A build is written to a temporary folder, renamed into ``builds/`` and only then pointed
to by ``current``, so a crash at any moment leaves the previous index served.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import faiss
import numpy as np

from .corpus import Chunk
from .embedder import Embedder
from .errors import IndexCorrupt, IndexMismatch, IndexNotFound

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
REBUILD_HINT = "run 'python -m bot index' (or 'make run', which rebuilds it) to rebuild"


@dataclass(frozen=True, slots=True)
class Manifest:
    format_version: int
    model: str
    dim: int
    corpus_hash: str
    documents: int
    sections: int
    passages: int
    sentences: int
    built_at: str
    index_type: str
    build_id: str

    def summary(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class LoadedIndex:
    """What the retriever searches: the FAISS index, its passages and sentence vectors."""

    manifest: Manifest
    path: Path
    faiss_index: faiss.Index
    chunks: list[Chunk]
    sentence_vectors: np.ndarray
    sentence_offsets: np.ndarray  # chunk i's sentences are rows offsets[i]:offsets[i+1]

    def sentence_rows(self, chunk_row: int) -> range:
        return range(int(self.sentence_offsets[chunk_row]), int(self.sentence_offsets[chunk_row + 1]))


def passage_text(chunk: Chunk) -> str:
    """What is embedded for a passage: its section heading gives the paragraph its topic."""
    return f"{chunk.section}\n{chunk.text}"


def build_index(chunks: list[Chunk], embedder: Embedder, out: Path, corpus_hash: str) -> Manifest:
    """Embed ``chunks`` and write a new build under ``out``, then point ``out/current`` to it."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    builds = out / "builds"
    builds.mkdir(exist_ok=True)
    tmp = out / f".tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        passage_vectors = embedder.encode([passage_text(c) for c in chunks])
        sentences = [s for c in chunks for s in c.sentences]
        sentence_vectors = embedder.encode(sentences) if sentences else np.zeros((0, embedder.dim), np.float32)
        index = faiss.IndexFlatIP(embedder.dim)
        index.add(passage_vectors)
        faiss.write_index(index, str(tmp / "passages.faiss"))
        with open(tmp / "passages.jsonl", "w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
        np.save(tmp / "sentences.npy", sentence_vectors, allow_pickle=False)
        now = datetime.now(timezone.utc)
        build_id = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        manifest = Manifest(
            format_version=FORMAT_VERSION,
            model=embedder.name,
            dim=embedder.dim,
            corpus_hash=corpus_hash,
            documents=len({c.source for c in chunks}),
            sections=len({(c.source, c.anchor) for c in chunks}),
            passages=len(chunks),
            sentences=len(sentences),
            built_at=now.isoformat(timespec="seconds"),
            index_type="IndexFlatIP",
            build_id=build_id,
        )
        (tmp / "manifest.json").write_text(json.dumps(manifest.summary(), indent=2) + "\n")
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        final = builds / build_id
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _point_current(out, final)
    _prune(out, keep={final.name, *_previous(out)})
    logger.info("built index %s: %d passages in %.1fs", build_id, len(chunks), time.perf_counter() - started)
    return manifest


def _point_current(out: Path, build: Path) -> None:
    link = out / f".current-{uuid.uuid4().hex[:8]}"
    previous = current_build(out)
    if previous is not None and previous.name != build.name:
        prev_link = out / f".previous-{uuid.uuid4().hex[:8]}"
        os.symlink(Path("builds") / previous.name, prev_link)
        os.replace(prev_link, out / "previous")
    os.symlink(Path("builds") / build.name, link)
    os.replace(link, out / "current")


def _previous(out: Path) -> set[str]:
    prev = out / "previous"
    return {os.readlink(prev).split("/")[-1]} if prev.is_symlink() else set()


def _prune(out: Path, keep: set[str]) -> None:
    for build in (out / "builds").iterdir():
        if build.name not in keep:
            shutil.rmtree(build, ignore_errors=True)
    for tmp in out.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def current_build(out: Path) -> Path | None:
    """The build folder ``out`` serves, or None when there is none."""
    link = out / "current"
    if link.exists():
        return link.resolve()
    if (out / "manifest.json").exists():  # a plain folder holding one build
        return out
    return None


def read_manifest(out: Path) -> Manifest:
    build = current_build(out)
    if build is None:
        raise IndexNotFound(f"no index in {out}/: {REBUILD_HINT}")
    try:
        data = json.loads((build / "manifest.json").read_text())
        return Manifest(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise IndexCorrupt(f"{build}/manifest.json is unreadable ({exc}): {REBUILD_HINT}") from None


def load_index(out: Path, embedder: Embedder) -> LoadedIndex:
    """Load the served build of ``out`` and check it against the running model."""
    manifest = read_manifest(out)
    build = current_build(out)
    assert build is not None
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatch(
            f"{build} has index format {manifest.format_version}, this bot reads "
            f"{FORMAT_VERSION}: {REBUILD_HINT}"
        )
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
    except Exception as exc:  # faiss raises RuntimeError, json ValueError, numpy ValueError
        raise IndexCorrupt(f"{build} cannot be read ({exc}): {REBUILD_HINT}") from None
    offsets = np.cumsum([0] + [len(c.sentences) for c in chunks])
    if (
        index.ntotal != len(chunks)
        or len(chunks) != manifest.passages
        or index.d != manifest.dim
        or sentence_vectors.shape != (int(offsets[-1]), manifest.dim)
    ):
        raise IndexCorrupt(
            f"{build} is inconsistent ({index.ntotal} vectors, {len(chunks)} passages, "
            f"manifest says {manifest.passages}): {REBUILD_HINT}"
        )
    return LoadedIndex(manifest, build, index, chunks, sentence_vectors, offsets)


def staleness(out: Path, corpus_hash: str, model: str) -> str | None:
    """Why the index in ``out`` needs a rebuild (missing, another model or format, corpus
    changed), or None when it is current."""
    try:
        manifest = read_manifest(out)
    except IndexNotFound:
        return f"there is no index in {out}/ yet"
    except IndexCorrupt as exc:
        return str(exc)
    if manifest.format_version != FORMAT_VERSION:
        return f"the index has format {manifest.format_version}, this bot reads {FORMAT_VERSION}"
    if manifest.model != model:
        return f"the index was built with {manifest.model}, the bot runs {model}"
    if manifest.corpus_hash != corpus_hash:
        return "the corpus changed since the index was built"
    return None
