"""The index folder: build it (incrementally), swap it into place, load, check, roll back.

Layout (a plain folder you can read; no pickle)::

    index/
      current -> builds/20261127T101500-3f2a9c1d   (symlink, replaced atomically)
      previous -> builds/<build id>                (the build before, for --rollback)
      cache/embeddings.npz  vectors by model and text, so unchanged text is never embedded
                            again (see bot.embed_cache)
      builds/<build id>/
        manifest.json     format version, model, dimension, corpus hash and the hash of each
                          file, counts, build time
        passages.faiss    FAISS inner-product index; vectors are L2-normalised, so the
                          inner product is the cosine similarity. Exact (IndexFlatIP) up
                          to APPROXIMATE_ABOVE passages, an HNSW graph above; the
                          manifest's index_type says which
        passages.jsonl    one passage per line: row i is vector i
        sentences.npy     one vector per sentence (mean of three views, see sentence_views),
                          the passages' sentences in order
        questions.jsonl   curated phrasings (bot.questions), one per line: row i is vector i
        questions.npy     one vector per phrasing, embedded like a visitor's question

A build is written to a temporary folder, renamed into ``builds/`` and only then pointed
to by ``current``, so a crash at any moment leaves the previous index served; a server
notices the new ``current`` and swaps it in between requests (bot.runtime).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

from bot.errors import BotError, IndexCorrupt, IndexMismatch, IndexNotFound
from bot.ingest.corpus import Chunk, hash_of_files
from bot.ingest.questions import Phrasing
from bot.ingest.wording import Vocabulary
from bot.search.embed_cache import PASSAGE, QUESTION, SENTENCE, EmbedCache, Progress
from bot.search.embedder import Embedder

logger = logging.getLogger(__name__)

FORMAT_VERSION = 3
REBUILD_HINT = "run 'python -m bot index' (or 'make run', which rebuilds it) to rebuild"
CACHE_FILE = Path("cache") / "embeddings.npz"

# Up to this many passages the index is exact: every vector is compared with the question,
# about a millisecond per 10,000 passages on one core. Above it the passages go into an
# HNSW graph (IndexHNSWFlat, inner product), which finds the nearest ones of a million
# in about a millisecond with recall@10 above 0.95 against exact search; docs/BENCHMARKS.md
# has the figures. efSearch is saved in the FAISS file, so a loaded index searches as built.
APPROXIMATE_ABOVE = 20_000
HNSW_M = 32  # links per vector: more is better recall, more memory (M x 8 bytes per vector)
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256


class IndexBusy(BotError):
    """Another build is writing the same index folder right now."""


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
    questions: int = 0
    max_passage_words: int = 0  # passage size the corpus was cut with (0: not recorded)
    files: dict[str, str] = field(default_factory=dict)  # path under corpus/ -> sha256

    def to_json(self) -> dict:
        return asdict(self)

    def summary(self) -> dict:
        """The manifest without the per-file hashes (what /healthz shows)."""
        data = asdict(self)
        del data["files"]
        return data


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
    with _faiss_threads(os.cpu_count() or 1):  # a server searches with one (bot.runtime)
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
        passage_texts = [passage_text(c) for c in chunks]
        reused = sum(1 for t in passage_texts if t in cache)
        question_texts = [p.text for p in phrasings]
        view_texts = [t for c in chunks for triple in sentence_views(c) for t in triple]
        texts_embedded = cache.fill(passage_texts + view_texts + question_texts, embedder, progress)
        passage_vectors = cache.vectors(passage_texts, PASSAGE)
        sentence_vectors = embed_sentences(chunks, cache.view(SENTENCE))
        question_vectors = cache.vectors(question_texts, QUESTION)
        removed = cache.dropped(PASSAGE)

        builds = out / "builds"
        builds.mkdir(exist_ok=True)
        tmp = out / f".tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            index, index_type = passage_index(passage_vectors.reshape(-1, embedder.dim))
            faiss.write_index(index, str(tmp / "passages.faiss"))
            _write_jsonl(tmp / "passages.jsonl", (c.to_json() for c in chunks))
            np.save(tmp / "sentences.npy", sentence_vectors, allow_pickle=False)
            _write_jsonl(tmp / "questions.jsonl", (p.to_json() for p in phrasings))
            np.save(tmp / "questions.npy", question_vectors, allow_pickle=False)
            (tmp / "vocabulary.json").write_text(json.dumps((vocabulary or Vocabulary()).to_json(), ensure_ascii=False) + "\n")
            now = datetime.now(UTC)
            build_id = f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
            manifest = Manifest(
                format_version=FORMAT_VERSION,
                model=embedder.name,
                dim=embedder.dim,
                corpus_hash=corpus_hash,
                documents=len({c.source for c in chunks}),
                sections=len({(c.source, c.anchor) for c in chunks}),
                passages=len(chunks),
                sentences=len(sentence_vectors),
                built_at=now.isoformat(timespec="seconds"),
                index_type=index_type,
                build_id=build_id,
                questions=len(phrasings),
                max_passage_words=max_passage_words,
                files=dict(sorted((files or {}).items())),
            )
            (tmp / "manifest.json").write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
            for f in tmp.iterdir():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
            final = builds / build_id
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        cache.save(out / CACHE_FILE)
        _point_current(out, final)
        _prune(out, keep={final.name, *_previous(out)})
    logger.info(
        "built index %s: %d passages (%d embedded, %d reused, %d removed) in %.1fs",
        build_id, len(chunks), len(chunks) - reused, reused, removed, time.perf_counter() - started,
    )
    return BuildResult(manifest, len(chunks) - reused, reused, removed, texts_embedded)


def _write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


@contextmanager
def build_lock(out: Path) -> Iterator[None]:
    """Hold ``out/.lock`` while writing ``out``: two builds (a maintainer's command and the
    console's button) never interleave. The lock goes away with the process that holds it."""
    fh = open(out / ".lock", "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(f"another build of {out}/ is running: wait for it to finish, then try again") from None
        yield
    finally:
        fh.close()


def _point_current(out: Path, build: Path) -> None:
    link = out / f".current-{uuid.uuid4().hex[:8]}"
    previous = current_build(out)
    if previous is not None and previous.name != build.name and previous.parent.name == "builds":
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
    # A build killed between writing a link and renaming it leaves these behind.
    for link in [*out.glob(".current-*"), *out.glob(".previous-*")]:
        link.unlink(missing_ok=True)
    if (out / "cache").is_dir():
        for tmp in (out / "cache").glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def rollback(out: Path) -> tuple[Manifest, Manifest]:
    """Serve the previous build again; the build it replaces becomes ``previous`` (so a
    second rollback undoes the first). Returns (now served, no longer served)."""
    with build_lock(out):
        prev = out / "previous"
        if not prev.is_symlink() or not prev.resolve().is_dir():
            raise IndexNotFound(f"there is no previous build in {out}/ to roll back to")
        target = prev.resolve()
        served = read_manifest(out)
        restored = _read_manifest_at(target)
        _point_current(out, target)
    logger.info("rolled back %s from %s to %s", out, served.build_id, restored.build_id)
    return restored, served


def current_build(out: Path) -> Path | None:
    """The build folder ``out`` serves, or None when there is none."""
    link = out / "current"
    if link.exists():
        return link.resolve()
    if (out / "manifest.json").exists():  # a plain folder holding one build
        return out
    return None


def _read_manifest_at(build: Path) -> Manifest:
    try:
        data = json.loads((build / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{build}/manifest.json is unreadable ({exc}): {REBUILD_HINT}") from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        raise IndexMismatch(f"{build} has index format {version}, this bot reads {FORMAT_VERSION}: {REBUILD_HINT}")
    try:
        return Manifest(**data)
    except TypeError as exc:
        raise IndexCorrupt(f"{build}/manifest.json is unreadable ({exc}): {REBUILD_HINT}") from None


def read_manifest(out: Path) -> Manifest:
    """The manifest of the build ``out`` serves."""
    build = current_build(out)
    if build is None:
        raise IndexNotFound(f"no index in {out}/: {REBUILD_HINT}")
    return _read_manifest_at(build)


def load_index(out: Path, embedder: Embedder) -> LoadedIndex:
    """Load the served build of ``out`` and check it against the running model."""
    build = current_build(out)
    if build is None:
        raise IndexNotFound(f"no index in {out}/: {REBUILD_HINT}")
    return load_build(build, embedder)


def load_build(build: Path, embedder: Embedder) -> LoadedIndex:
    """Load one build folder, refusing one made by another model or that is damaged."""
    manifest = _read_manifest_at(build)
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


def staleness(out: Path, corpus_hash: str, model: str) -> str | None:
    """Why the index in ``out`` needs a rebuild (missing, another model or format, corpus
    changed), or None when it is current."""
    try:
        manifest = read_manifest(out)
    except IndexNotFound:
        return f"there is no index in {out}/ yet"
    except (IndexCorrupt, IndexMismatch) as exc:
        return str(exc)
    if manifest.model != model:
        return f"the index was built with {manifest.model}, the bot runs {model}"
    if manifest.corpus_hash != corpus_hash:
        return "the corpus changed since the index was built"
    return None


def changes(out: Path, files: dict[str, str], model: str, max_passage_words: int, folder: str = "corpus") -> list[str]:
    """What differs between the index in ``out`` and a corpus whose files hash to ``files``
    (path under the corpus folder -> sha256): one line per difference, none when current."""
    try:
        manifest = read_manifest(out)
    except IndexNotFound:
        return [f"there is no index in {out}/ yet"]
    except (IndexCorrupt, IndexMismatch) as exc:
        return [str(exc)]
    found = []
    if manifest.model != model:
        found.append(f"the index was built with {manifest.model}, the bot runs {model}")
    if manifest.max_passage_words and manifest.max_passage_words != max_passage_words:
        found.append(f"passages were cut at {manifest.max_passage_words} words, the settings say {max_passage_words}")
    if manifest.files:
        for rel in sorted(set(files) | set(manifest.files)):
            old, new = manifest.files.get(rel), files.get(rel)
            if old is None:
                found.append(f"added: {folder}/{rel}")
            elif new is None:
                found.append(f"removed: {folder}/{rel}")
            elif old != new:
                found.append(f"changed: {folder}/{rel}")
    elif manifest.corpus_hash != hash_of_files(files):
        found.append("the corpus changed since the index was built")
    return found

