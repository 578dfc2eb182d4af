"""The model as a server runs it: recent vectors remembered, concurrent questions encoded together.

Both wrap any :class:`~bot.search.embedder.Embedder` and keep its interface, so the
answering code never knows whether it talks to the model, a cache or a batcher.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import numpy as np
from cachetools import LRUCache

from bot.search.embedder import Embedder

logger = logging.getLogger(__name__)


class CachingEmbedder:
    """Remembers the vectors of the last ``size`` texts it encoded (least recently used go).

    Visitors ask the same few things, and retrieval embeds single question words ("whole",
    "afternoon") that recur across questions; a remembered vector costs a dictionary lookup
    instead of a pass through the model. Only small requests (a question, its words) are
    remembered: a list of more than ``max_texts`` texts (an index build) goes straight
    through. The vectors depend only on the text and the model, so the cache never needs
    invalidating while the model is the same. Thread-safe.
    """

    def __init__(self, inner: Embedder, size: int = 4096, max_texts: int = 32) -> None:
        if size < 1:
            raise ValueError("size must be at least 1: leave the embedder unwrapped to cache nothing")
        self.inner = inner
        self.name = inner.name
        self.engine = getattr(inner, "engine", "torch")
        self.dim = inner.dim
        self.size = size
        self.max_texts = max_texts
        self.hits = 0
        self.misses = 0
        self._vectors: LRUCache[str, np.ndarray] = LRUCache(maxsize=size)  # not thread-safe: under _lock
        self._pinned: dict[str, np.ndarray] = {}  # never evicted (see pin)
        self._lock = threading.Lock()

    def known_words(self) -> frozenset[str]:
        return self.inner.known_words()

    def frequent_words(self, n: int) -> list[str]:
        return self.inner.frequent_words(n)

    def pin(self, texts: list[str], vectors: np.ndarray) -> None:
        """Keep these vectors for good, beside the least-recently-used ones (the vectors of
        frequent words, see bot.serve.vocabulary). They must be this model's vectors of ``texts``."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(texts), self.dim):
            raise ValueError(f"{len(texts)} texts but vectors of shape {vectors.shape}, expected (n, {self.dim})")
        vectors = vectors.copy()
        vectors.flags.writeable = False
        with self._lock:
            self._pinned.update(zip(texts, vectors, strict=True))

    @property
    def pinned(self) -> int:
        """How many vectors are pinned."""
        return len(self._pinned)

    def encode_pinned(self, texts: list[str]) -> np.ndarray:
        """The pinned vectors of ``texts`` (KeyError for one that is not pinned)."""
        with self._lock:
            rows = [self._pinned[t] for t in texts]
        return np.vstack(rows) if rows else np.zeros((0, self.dim), np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if len(texts) > self.max_texts:
            return self.inner.encode(texts)
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in texts:
                vector = self._pinned.get(text)
                if vector is None:
                    vector = self._vectors.get(text)  # a hit becomes the most recently used
                if vector is not None:
                    found[text] = vector
            missing = list(dict.fromkeys(t for t in texts if t not in found))
            self.hits += len(texts) - len(missing)
            self.misses += len(missing)
        if missing:
            # Outside the lock: other threads' lookups must not wait for the model.
            vectors = np.asarray(self.inner.encode(missing), dtype=np.float32)
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    vector = vector.copy()
                    vector.flags.writeable = False  # shared by every caller that asks again
                    found[text] = self._vectors[text] = vector  # the least recently used go
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.vstack([found[t] for t in texts])

    def clear(self) -> None:
        """Forget the recently used vectors and the hit counts (pinned vectors stay)."""
        with self._lock:
            self._vectors.clear()
            self.hits = self.misses = 0


class _Request:
    __slots__ = ("texts", "done", "vectors", "error")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.done = threading.Event()
        self.vectors: np.ndarray | None = None
        self.error: BaseException | None = None


class BatchingEmbedder:
    """Encodes concurrent requests together (micro-batching), for a server's many visitors.

    A request that finds the model idle is encoded at once in its caller's thread: a lone
    visitor pays nothing for batching (not even a hand-over to another thread). Requests
    that arrive while the model is busy wait in a queue; a worker thread then takes all
    of them (up to ``max_batch`` texts) and encodes them in one pass: a pass over 16
    questions costs about four passes over one, so sixteen visitors asking at once are not
    queued one encode behind another. With ``workers`` > 1 (a server's default is 2, one
    per core) that many passes run at once, each on one torch thread: while one pass runs,
    the next visitors' texts need not wait for it, and both cores compute (a single pass on
    two torch threads is slower on a busy machine, see SERVING_TORCH_THREADS). When the
    last pass served several requests (the server is busy) the worker also waits up to
    ``max_wait_ms`` for more to join. Requests of more than ``max_batch`` texts (an index
    build) go to the model directly. Each caller gets the vectors of its own texts, the
    same as an encode of those texts alone (to float precision: a pass over several texts
    sums in another order, differences of about 1e-7).
    """

    def __init__(self, inner: Embedder, max_batch: int = 32, max_wait_ms: float = 0.0, workers: int = 1) -> None:
        if max_batch < 2:
            raise ValueError("max_batch must be at least 2: leave the embedder unwrapped to batch nothing")
        if max_wait_ms < 0:
            raise ValueError("max_wait_ms must be 0 or more")
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.inner = inner
        self.name = inner.name
        self.engine = getattr(inner, "engine", "torch")
        self.dim = inner.dim
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.batches = 0  # passes through the model
        self.requests = 0  # requests served by them
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._state = threading.Condition()  # guards the three below
        self._closed = False
        self._direct = 0  # encodes running in their callers' threads
        self._encoding = 0  # workers encoding a batch
        self.workers = workers
        self._workers = [threading.Thread(target=self._run, name=f"embed-batcher-{i}", daemon=True) for i in range(workers)]
        for worker in self._workers:
            worker.start()

    def known_words(self) -> frozenset[str]:
        return self.inner.known_words()

    def frequent_words(self, n: int) -> list[str]:
        return self.inner.frequent_words(n)

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        if len(texts) > self.max_batch:
            return self.inner.encode(texts)
        request = _Request(texts)
        with self._state:
            direct = self._closed or (not self._encoding and not self._direct and self._queue.empty())
            if not direct:
                self._queue.put(request)
            elif not self._closed:
                self._direct += 1
        if direct:
            try:
                return self.inner.encode(texts)
            finally:
                with self._state:
                    if not self._closed:
                        self._direct -= 1
                        self.batches += 1
                        self.requests += 1
                        self._state.notify_all()
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.vectors is not None
        return request.vectors

    def idle(self) -> bool:
        """No request is waiting or being encoded (background work may use the model)."""
        with self._state:
            return not self._encoding and not self._direct and self._queue.empty()

    def close(self) -> None:
        """Stop the worker; later encodes go to the model directly."""
        with self._state:
            if not self._closed:
                self._closed = True
                self._direct = 0
                for _ in self._workers:
                    self._queue.put(None)
                self._state.notify_all()

    def _run(self) -> None:
        busy = False  # the last pass served more than one request
        carried: _Request | None = None  # a request too big to join the last pass
        while True:
            first = carried or self._queue.get()
            carried = None
            if first is None:
                return
            with self._state:
                self._encoding += 1
                # A lone visitor's encode is running: take everyone who arrives meanwhile
                # (with more workers than one, the others' passes may run beside it).
                while self._direct and self.workers == 1:
                    self._state.wait()
            batch, size = [first], len(first.texts)
            stopping = False
            deadline = time.monotonic() + self.max_wait if busy else 0.0
            while size < self.max_batch:
                try:
                    remaining = deadline - time.monotonic()
                    nxt = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                if size + len(nxt.texts) > self.max_batch:
                    carried = nxt
                    break
                batch.append(nxt)
                size += len(nxt.texts)
            busy = len(batch) > 1
            self._encode(batch)
            with self._state:
                self._encoding -= 1
            if stopping:
                if carried is not None:
                    self._encode([carried])
                return

    def _encode(self, batch: list[_Request]) -> None:
        unique = list(dict.fromkeys(t for r in batch for t in r.texts))
        try:
            vectors = np.asarray(self.inner.encode(unique), dtype=np.float32)
            row = {text: i for i, text in enumerate(unique)}
            for r in batch:
                r.vectors = vectors[[row[t] for t in r.texts]]
        except BaseException as exc:  # every waiting caller gets the error, none hangs
            for r in batch:
                r.error = exc
        finally:
            with self._state:
                self.batches += 1
                self.requests += len(batch)
            for r in batch:
                r.done.set()
