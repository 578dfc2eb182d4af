"""The vectors of the model's most frequent words, kept so a question costs one encode.

Retrieval embeds each question word the article does not contain ("afternoon", "kids")
to find the article's words closest in meaning (bot.answer.terms). About half of visitors'
questions have such a word, and a pass through the model for a few words costs nearly as
much as the question's own pass (the cost of a short input is reading the model's
weights). A server therefore keeps the vectors of the vocabulary's most frequent whole
words pinned in its vector cache (:meth:`~bot.serve.embedders.CachingEmbedder.pin`).

They are computed once per model, in the background after start-up and only while no
visitor's text is waiting for the model, then saved beside the index as
``<index>/cache/words.npz`` (model name, words, vectors; no pickle); every later start
loads them in milliseconds. The file is only a shortcut: when it is missing, unreadable,
for another model or cannot be written (a read-only index folder), the words are computed
again, and the answers are the same either way.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bot.serve.embedders import CachingEmbedder

logger = logging.getLogger(__name__)

FILE = Path("cache") / "words.npz"
CHUNK = 32  # words per pass (about 35 ms): a visitor who arrives meanwhile waits at most one
SAVE_EVERY = 2048


def load(path: Path, model: str, dim: int) -> tuple[list[str], np.ndarray] | None:
    """The words and vectors saved at ``path`` for ``model``, or None."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            saved_model = str(data["model"])
            words = [str(w) for w in data["words"]]
            vectors = data["vectors"].astype(np.float32)
    except Exception as exc:  # zip, numpy and key errors alike: the file is disposable
        logger.warning("ignoring the word vectors %s (%s): they will be computed again", path, exc)
        return None
    if saved_model != model or vectors.shape != (len(words), dim):
        logger.info("the word vectors %s are for %s %s: computing them again", path, saved_model, vectors.shape)
        return None
    return words, vectors


def save(path: Path, model: str, words: list[str], vectors: np.ndarray) -> None:
    """Write the words and their vectors atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, model=np.array(model), words=np.array(words), vectors=np.asarray(vectors, np.float32))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)




def pin_saved(cache: CachingEmbedder, words: list[str], path: Path) -> int:
    """Pin the vectors saved at ``path`` (for this model) of the first of ``words``: as
    many as the file holds, in order. Returns how many were pinned."""
    saved = load(path, cache.name, cache.dim)
    if saved is None:
        return 0
    n = 0
    for saved_word, word in zip(saved[0], words, strict=False):  # a file saved part of the way is still good
        if saved_word != word:
            break
        n += 1
    if n:
        cache.pin(words[:n], saved[1][:n])
        logger.info("loaded the vectors of %d of %d frequent words from %s", n, len(words), path)
    return n


def compute(
    cache: CachingEmbedder,
    words: list[str],
    path: Path | None,
    *,
    start: int = 0,
    idle: Callable[[], bool] = lambda: True,
    stop: threading.Event | None = None,
    chunk: int = CHUNK,
) -> bool:
    """Encode ``words[start:]`` ``chunk`` at a time, each chunk only when ``idle()``, pin
    their vectors in ``cache`` as they come, and save all of ``words`` pinned so far to
    ``path`` every ``SAVE_EVERY`` words and at the end (a server stopped half-way leaves
    half the work done). ``words[:start]`` must be pinned already.

    Returns True when every word is pinned, False when ``stop`` was set first."""
    stop = stop or threading.Event()
    started = time.perf_counter()
    saving = path is not None
    done = start
    for first in range(start, len(words), chunk):
        while not idle():
            if stop.wait(0.002):
                return False
        if stop.is_set():
            return False
        part = words[first : first + chunk]
        cache.pin(part, cache.inner.encode(part))
        done = first + len(part)
        if saving and (done // SAVE_EVERY > first // SAVE_EVERY or done == len(words)):
            saving = _save_pinned(cache, words[:done], path)
    logger.info("computed the vectors of %d frequent words in %.1fs", len(words) - start, time.perf_counter() - started)
    return True


def _save_pinned(cache: CachingEmbedder, words: list[str], path: Path) -> bool:
    try:
        save(path, cache.name, words, cache.encode_pinned(words))
        return True
    except OSError as exc:  # a read-only index folder: they are computed at each start
        logger.warning("could not save the word vectors to %s (%s): they will be computed at each start", path, exc)
        return False
