"""Concurrent questions are encoded together, and each visitor gets its own vectors."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from bot.search.hash_embedder import HashEmbedder
from bot.serve.embedders import BatchingEmbedder, CachingEmbedder
from bot.serve.runtime import BotHolder
from bot.settings import Settings


class SlowModel(HashEmbedder):
    """A fake model whose every pass takes ``seconds`` (as a real one does), counting passes."""

    def __init__(self, seconds: float = 0.03) -> None:
        super().__init__()
        self.seconds = seconds
        self.passes: list[list[str]] = []
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:  # one pass at a time, as MiniLMEmbedder
            self.passes.append(list(texts))
            time.sleep(self.seconds)
            return super().encode(texts)


QUESTIONS = [f"question {i} about the cost of session number {i}" for i in range(16)]


def ask_all(embedder, texts: list[str]) -> list[np.ndarray]:
    start = threading.Barrier(len(texts))

    def ask(text: str) -> np.ndarray:
        start.wait()
        return embedder.encode([text])[0]

    with ThreadPoolExecutor(len(texts)) as pool:
        return list(pool.map(ask, texts))


def test_sixteen_concurrent_questions_share_a_few_passes_and_get_their_own_vectors():
    model = SlowModel()
    batcher = BatchingEmbedder(model, max_batch=32)
    try:
        vectors = ask_all(batcher, QUESTIONS)
    finally:
        batcher.close()
    alone = HashEmbedder().encode(QUESTIONS)
    assert np.array_equal(np.vstack(vectors), alone)  # each caller got its own question's vector
    assert len(model.passes) <= 4  # not one pass per visitor
    assert sorted(t for p in model.passes for t in p) == sorted(QUESTIONS)


class ParallelSlowModel(HashEmbedder):
    """A fake model that lets passes run at once (as MiniLMEmbedder with ``passes=2``) and
    records how many ran together at most."""

    def __init__(self, seconds: float = 0.05) -> None:
        super().__init__()
        self.seconds = seconds
        self.running = self.most = 0
        self.passes: list[list[str]] = []
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.passes.append(list(texts))
        time.sleep(self.seconds)
        with self._lock:
            self.running -= 1
        return super().encode(texts)


def test_two_workers_run_two_passes_at_once_and_each_visitor_gets_their_own_vectors():
    model = ParallelSlowModel()
    batcher = BatchingEmbedder(model, max_batch=4, workers=2)
    try:
        vectors = ask_all(batcher, QUESTIONS)
    finally:
        batcher.close()
    assert np.array_equal(np.vstack(vectors), HashEmbedder().encode(QUESTIONS))
    # Two workers' passes at once (a lone visitor's direct pass may overlap them; the real
    # model's passes=2 caps what runs on the cores).
    assert 2 <= model.most <= 3
    assert sorted(t for p in model.passes for t in p) == sorted(QUESTIONS)
    assert len(model.passes) <= 8  # still batched: sixteen visitors, a few passes


def test_a_lone_question_does_not_wait_for_others():
    batcher = BatchingEmbedder(HashEmbedder(), max_batch=32, max_wait_ms=2000)
    try:
        started = time.perf_counter()
        for q in QUESTIONS[:3]:
            batcher.encode([q])
        assert time.perf_counter() - started < 1.0  # it never waited the 2 s for company
    finally:
        batcher.close()


def test_a_model_failure_reaches_every_waiting_visitor_and_none_hangs():
    class Broken(SlowModel):
        def encode(self, texts):
            time.sleep(0.02)
            raise RuntimeError("the model is gone")

    batcher = BatchingEmbedder(Broken(), max_batch=8)
    errors = []

    def ask(text):
        try:
            batcher.encode([text])
        except RuntimeError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=ask, args=(q,)) for q in QUESTIONS[:8]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    batcher.close()
    assert not any(t.is_alive() for t in threads)
    assert errors == ["the model is gone"] * 8


def test_large_requests_and_requests_after_close_go_to_the_model_directly():
    model = SlowModel(seconds=0)
    batcher = BatchingEmbedder(model, max_batch=4)
    texts = [f"passage {i}" for i in range(10)]
    assert np.array_equal(batcher.encode(texts), HashEmbedder().encode(texts))
    batcher.close()
    assert np.array_equal(batcher.encode(["after"]), HashEmbedder().encode(["after"]))
    assert model.passes == [texts, ["after"]]
    assert batcher.encode([]).shape == (0, model.dim)


def test_the_real_model_gives_batched_questions_the_vectors_it_gives_them_alone(embedder):
    questions = ["How much does it cost?", "is ketamine safe for teenagers", "do I need a referral",
                 "what are the side effects", "can I drive home afterwards?", "how long does an infusion take"]
    batcher = BatchingEmbedder(embedder, max_batch=32)
    try:
        together = np.vstack(ask_all(batcher, questions))
    finally:
        batcher.close()
    alone = np.vstack([embedder.encode([q]) for q in questions])
    # One pass over several texts sums in another order: the same vectors to float precision.
    assert np.allclose(together, alone, atol=1e-5)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_the_real_model_gives_a_mixed_length_batch_the_vectors_each_text_gets_alone(embedder):
    texts = ["cost?", "Hi there! I have been reading about ketamine infusions for treatment resistant depression "
             "and I was wondering whether my insurance plan would cover any part of the infusion series", "refund",
             "is it safe", "Thanks so much for the help earlier today, one more thing: how long does a typical "
             "infusion session take from arriving at the clinic to leaving again afterwards"]
    together = embedder.encode(texts)
    alone = np.vstack([embedder.encode([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_the_vector_cache_remembers_recent_texts_and_forgets_the_oldest():
    model = SlowModel(seconds=0)
    cache = CachingEmbedder(model, size=2)
    first = cache.encode(["stuff", "afternoon"])
    assert np.array_equal(cache.encode(["afternoon", "stuff"]), first[::-1])
    assert len(model.passes) == 1 and (cache.hits, cache.misses) == (2, 2)
    cache.encode(["kids"])  # "afternoon" is now the least recently used: it goes
    cache.encode(["stuff"])
    cache.encode(["afternoon"])
    assert model.passes[1:] == [["kids"], ["afternoon"]]
    mine = cache.encode(["stuff"])
    mine[0][:] = 0.0  # what one caller does with its vectors does not reach the next one
    assert np.array_equal(cache.encode(["stuff"]), first[:1])


def test_pinned_vectors_are_never_forgotten():
    model = SlowModel(seconds=0)
    cache = CachingEmbedder(model, size=1)
    cache.pin(["whole", "pretty"], HashEmbedder().encode(["whole", "pretty"]))
    for word in ("a", "b", "c", "whole", "pretty"):
        cache.encode([word])
    assert [p for p in model.passes] == [["a"], ["b"], ["c"]]
    assert np.array_equal(cache.encode(["pretty"]), HashEmbedder().encode(["pretty"]))


def test_a_server_encodes_through_the_cache_and_the_batcher(tmp_path):
    settings = Settings(index_dir=tmp_path / "index", reload_interval=0)
    holder = BotHolder(settings)
    embedder = holder._serving_embedder(HashEmbedder())
    assert isinstance(embedder, CachingEmbedder) and isinstance(embedder.inner, BatchingEmbedder)
    assert embedder.name == "hash-embedder" and embedder.dim == 64
    holder.stop()

    plain = BotHolder(Settings(index_dir=tmp_path / "index", encode_batch=0, vector_cache_size=0))
    assert isinstance(plain._serving_embedder(HashEmbedder()), HashEmbedder)
