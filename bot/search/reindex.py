"""Re-index the corpus: what ``python -m bot index`` and the console's "Re-index now" run.

    summary = reindex(settings)                  # read, check, embed what changed, swap in
    changes = check(settings)                    # [] when the index is current
    now, was = rollback(settings)                # serve the previous build again

The whole corpus is read and checked before anything is written, so a mistake in a file
(named with its line) leaves the served index untouched. Only passages, sentences and
phrasings whose text is not in the embedding cache run through the model; a running server
notices the new build and swaps it in by itself (see :mod:`bot.serve.runtime`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from bot.ingest.corpus import Chunk, Document, chunk_document, file_hashes, hash_of_files, load_corpus
from bot.ingest.questions import Phrasing, load_questions
from bot.ingest.wording import Vocabulary, load_vocabulary
from bot.search.embed_cache import Progress
from bot.search.embedder import Embedder, MiniLMEmbedder
from bot.search.engines import embedder_for, space_name
from bot.search.folder import IndexBusy, Manifest, changes
from bot.search.folder import rollback as rollback_index
from bot.search.index import build
from bot.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Corpus:
    """Everything a build is made of, read and checked."""

    documents: list[Document]
    chunks: list[Chunk]
    phrasings: list[Phrasing]
    files: dict[str, str]  # path under the corpus folder -> sha256
    vocabulary: Vocabulary = Vocabulary()

    @property
    def hash(self) -> str:
        return hash_of_files(self.files)


@dataclass(frozen=True, slots=True)
class BuildSummary:
    """What a re-index did; ``to_json`` is the ``--json`` output (keys are a contract)."""

    documents: int
    chunks: int
    embedded: int  # passages run through the model
    reused: int  # passages whose vector came from the cache
    removed: int  # cached passages no longer in the corpus
    seconds: float
    build_id: str | None = None  # None when nothing was built (already current)

    def to_json(self) -> dict:
        return {
            "documents": self.documents,
            "chunks": self.chunks,
            "embedded": self.embedded,
            "reused": self.reused,
            "removed": self.removed,
            "seconds": self.seconds,
        }

    def line(self, out: Path) -> str:
        """One line a person can read."""
        docs = f"{self.documents} document{'s' if self.documents != 1 else ''}"
        return (
            f"indexed {docs}, {self.chunks} passages into {out}/ in {self.seconds}s: "
            f"{self.embedded} embedded, {self.reused} unchanged, {self.removed} removed"
        )


def read_corpus(settings: Settings) -> Corpus:
    """Read and check every document and the phrasings file of ``settings.corpus_dir``.

    Raises :class:`~bot.errors.CorpusError` naming the file and line of the first mistake.
    """
    root = settings.corpus_dir
    files = file_hashes(root)
    documents = load_corpus(root)
    chunks = [c for d in documents for c in chunk_document(d, settings.max_passage_words)]
    _warn_about_copies(chunks)
    phrasings = load_questions(root, documents)
    return Corpus(documents, chunks, phrasings, files, load_vocabulary(root))


def _warn_about_copies(chunks: list[Chunk]) -> None:
    """A paragraph found in two documents is often an old copy of a page left behind."""
    first: dict[str, Chunk] = {}
    for chunk in chunks:
        earlier = first.setdefault(chunk.text, chunk)
        if earlier is not chunk and earlier.source != chunk.source and len(chunk.text.split()) >= 8:
            logger.warning(
                "%s:%d: this paragraph is also in %s:%d: if one of the files is an old copy, delete it",
                chunk.source, chunk.line, earlier.source, earlier.line,
            )


class _ModelOnDemand:
    """The real model, loaded only when a text is missing from the cache: an unchanged
    re-index does not pay the seconds it takes to load."""

    dim = MiniLMEmbedder.dim

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.engine = settings.engine
        self.name = space_name(settings.embedding_model, settings.engine)  # the weights' hash, without loading them
        self._model: Embedder | None = None

    def encode(self, texts: list[str]):
        if self._model is None:
            self._model = embedder_for(self._settings, threads=self._settings.torch_threads or None)
            if self._model.dim != self.dim:  # pragma: no cover - a different model package
                raise RuntimeError(f"{self.name} has {self._model.dim} dimensions, expected {self.dim}")
        return self._model.encode(texts)

    def known_words(self) -> frozenset[str]:
        return frozenset()

    def frequent_words(self, n: int) -> list[str]:
        return []


def reindex(settings: Settings, embedder: Embedder | None = None, progress: Progress | None = None, wait: float = 0.0) -> BuildSummary:
    """:func:`build_once`, waiting up to ``wait`` seconds for another build of the same folder
    to finish first (a fix from the console during a maintainer's re-index): the build that
    runs after it reads the corpus as it is then, so neither change is lost."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return build_once(settings, embedder, progress)
        except IndexBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.25)


def build_once(settings: Settings, embedder: Embedder | None = None, progress: Progress | None = None) -> BuildSummary:
    """Rebuild the index of ``settings.index_dir`` from ``settings.corpus_dir``, embedding
    only text that changed, and swap it in; a running server picks it up by itself.

    ``embedder``: the model to use (a server passes the one it already holds); by default
    the real model, loaded only if some text needs embedding. ``progress(done, total)`` is
    called as texts are embedded. Raises :class:`~bot.errors.CorpusError` (file and line)
    before touching the index when the corpus has a mistake, and
    :class:`~bot.search.index.IndexBusy` when another build of the same folder is running.
    """
    started = time.perf_counter()
    corpus = read_corpus(settings)
    model = embedder or _ModelOnDemand(settings)
    result = build(
        corpus.chunks,
        model,
        settings.index_dir,
        corpus.hash,
        phrasings=corpus.phrasings,
        vocabulary=corpus.vocabulary,
        files=corpus.files,
        max_passage_words=settings.max_passage_words,
        progress=progress,
    )
    return BuildSummary(
        documents=len(corpus.documents),
        chunks=len(corpus.chunks),
        embedded=result.embedded,
        reused=result.reused,
        removed=result.removed,
        seconds=round(time.perf_counter() - started, 2),
        build_id=result.manifest.build_id,
    )


def check(settings: Settings, model: str | None = None) -> list[str]:
    """What a re-index would change, one line each ("changed: corpus/a.md"); an empty list
    when the index is current. Reads and checks the corpus (raising
    :class:`~bot.errors.CorpusError` on a mistake) but never loads the model."""
    corpus = read_corpus(settings)
    model = model or space_name(settings.embedding_model, settings.engine)
    return changes(settings.index_dir, corpus.files, model, settings.max_passage_words, settings.corpus_dir.name)


def current_summary(settings: Settings, corpus: Corpus | None = None) -> BuildSummary:
    """The summary of a re-index that found nothing to do."""
    corpus = corpus or read_corpus(settings)
    return BuildSummary(len(corpus.documents), len(corpus.chunks), 0, len(corpus.chunks), 0, 0.0)


def rollback(settings: Settings) -> tuple[Manifest, Manifest]:
    """Serve the build before the current one again; returns (now served, replaced)."""
    return rollback_index(settings.index_dir)
