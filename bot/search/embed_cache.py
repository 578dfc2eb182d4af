"""Vectors by the text they embed, so a re-index embeds only what changed.

The key of a vector is sha256(model name, text): the same text embedded by the same model
is the same vector, whatever document, passage or build it belongs to. A build looks up
every text it needs (passages, the three views of each sentence, curated phrasings),
embeds only the missing ones, and saves the entries it used; entries no build uses any more
are dropped, so the cache stays the size of the corpus.

On disk it is one ``.npz`` file (no pickle): ``keys`` (n x 32 bytes), ``vectors``
(n x dim float32), ``kinds`` (what each text was used as) and ``model``. It is only ever a
shortcut: a missing, unreadable or other-model cache means everything is embedded again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from bot.search.embedder import Embedder

logger = logging.getLogger(__name__)

# What a cached text was used as (a bit mask: one text can be two things).
PASSAGE, SENTENCE, QUESTION = 1, 2, 4

Progress = Callable[[int, int], None]  # (texts embedded so far, texts to embed)


class EmbedCache:
    """The vectors of one model, by text."""

    def __init__(self, model: str, dim: int) -> None:
        self.model = model
        self.dim = dim
        self._vectors: dict[bytes, np.ndarray] = {}
        self._kinds: dict[bytes, int] = {}  # as loaded: what each text was used as before
        self._used: dict[bytes, int] = {}  # what this build uses each text as

    # -- persistence --------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path, model: str, dim: int) -> EmbedCache:
        """The cache saved at ``path`` for ``model``; empty when there is none or it is for
        another model or unreadable (then everything is embedded again)."""
        cache = cls(model, dim)
        if not path.exists():
            return cache
        try:
            with np.load(path, allow_pickle=False) as data:
                saved_model = str(data["model"])
                keys, vectors, kinds = data["keys"], data["vectors"], data["kinds"]
        except Exception as exc:  # zip, numpy and key errors alike: the cache is disposable
            logger.warning("ignoring the embedding cache %s (%s): every text will be embedded", path, exc)
            return cache
        shapes_agree = keys.shape == (len(vectors), 32) and kinds.shape == (len(vectors),)
        if saved_model != model or vectors.ndim != 2 or vectors.shape[1] != dim or not shapes_agree:
            logger.info("the embedding cache %s is for %s (%s): starting a new one", path, saved_model, vectors.shape)
            return cache
        for key, vector, kind in zip(keys, vectors.astype(np.float32), kinds, strict=True):
            k = key.tobytes()
            cache._vectors[k] = vector
            cache._kinds[k] = int(kind)
        return cache

    def save(self, path: Path) -> None:
        """Write the entries this build used (and only those), atomically."""
        keys = list(self._used)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    model=np.array(self.model),
                    keys=np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 32),
                    vectors=np.vstack([self._vectors[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32),
                    kinds=np.array([self._used[k] for k in keys], dtype=np.uint8),
                )
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    # -- lookups ------------------------------------------------------------------------
    def key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.model}\0{text}".encode()).digest()

    def __contains__(self, text: str) -> bool:
        return self.key(text) in self._vectors

    def fill(self, texts: Iterable[str], embedder: Embedder, progress: Progress | None = None, batch: int = 64) -> int:
        """Embed the texts that have no vector yet, ``batch`` at a time (so a server's
        requests can use the model in between); returns how many were embedded."""
        missing: dict[bytes, str] = {}
        for text in texts:
            k = self.key(text)
            if k not in self._vectors:
                missing.setdefault(k, text)
        todo = list(missing.items())
        if progress is not None and todo:
            progress(0, len(todo))
        for start in range(0, len(todo), batch):
            part = todo[start : start + batch]
            vectors = embedder.encode([text for _, text in part])
            for (k, _), vector in zip(part, vectors, strict=True):
                self._vectors[k] = np.asarray(vector, dtype=np.float32)
            if progress is not None:
                progress(min(start + batch, len(todo)), len(todo))
        return len(todo)

    def vectors(self, texts: list[str], kind: int) -> np.ndarray:
        """The vectors of ``texts`` (all must be filled), recorded as used as ``kind``."""
        keys = [self.key(t) for t in texts]
        for k in keys:
            self._used[k] = self._used.get(k, 0) | kind
        if not keys:
            return np.zeros((0, self.dim), np.float32)
        return np.vstack([self._vectors[k] for k in keys]).astype(np.float32)

    def view(self, kind: int) -> CachedEmbedder:
        """An :class:`Embedder` that answers from the cache, for code written for one."""
        return CachedEmbedder(self, kind)

    def dropped(self, kind: int) -> int:
        """How many texts used as ``kind`` before are not used as ``kind`` by this build."""
        return sum(1 for k, was in self._kinds.items() if was & kind and not self._used.get(k, 0) & kind)


class CachedEmbedder:
    """Looks vectors up in an :class:`EmbedCache` instead of running the model."""

    def __init__(self, cache: EmbedCache, kind: int) -> None:
        self.name = cache.model
        self.dim = cache.dim
        self._cache = cache
        self._kind = kind

    def encode(self, texts: list[str]) -> np.ndarray:
        return self._cache.vectors(list(texts), self._kind)

    def known_words(self) -> frozenset[str]:
        return frozenset()

    def frequent_words(self, n: int) -> list[str]:
        return []
