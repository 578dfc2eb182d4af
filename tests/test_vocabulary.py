"""The frequent words' vectors are computed once, saved beside the index, and reused."""

from __future__ import annotations

import logging
import threading

import numpy as np

from bot.search.hash_embedder import HashEmbedder
from bot.serve import vocabulary
from bot.serve.embedders import CachingEmbedder

WORDS = ["whole", "afternoon", "kids", "school", "pretty", "stuff", "big", "pill", "mess", "weird"]


class Counting(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts):
        self.texts += list(texts)
        return super().encode(texts)


def test_computed_word_vectors_are_saved_and_the_next_start_loads_them(tmp_path):
    path = tmp_path / "index" / vocabulary.FILE
    model = Counting()
    assert vocabulary.compute(CachingEmbedder(model), WORDS, path, chunk=4)
    assert sorted(model.texts) == sorted(WORDS) and path.exists()

    later = Counting()
    cache = CachingEmbedder(later)
    assert vocabulary.pin_saved(cache, WORDS, path) == len(WORDS)
    vectors = cache.encode(["kids", "stuff"])
    assert later.texts == []  # no pass through the model for a frequent word
    assert np.array_equal(vectors, HashEmbedder().encode(["kids", "stuff"]))


def test_word_vectors_of_another_model_are_computed_again(tmp_path):
    path = tmp_path / vocabulary.FILE
    vocabulary.save(path, "another-model", WORDS, np.zeros((len(WORDS), 64), np.float32))
    assert vocabulary.pin_saved(CachingEmbedder(HashEmbedder()), WORDS, path) == 0


def test_a_server_stopped_half_way_leaves_the_words_done_so_far(tmp_path, monkeypatch):
    monkeypatch.setattr(vocabulary, "SAVE_EVERY", 4)
    path = tmp_path / vocabulary.FILE
    stop = threading.Event()
    first = Counting()

    def idle() -> bool:  # the server stops once six words are done
        if len(first.texts) >= 6:
            stop.set()
        return True

    assert not vocabulary.compute(CachingEmbedder(first), WORDS, path, idle=idle, stop=stop, chunk=2)
    later = Counting()
    cache = CachingEmbedder(later)
    start = vocabulary.pin_saved(cache, WORDS, path)
    assert start == 4  # saved every four words
    assert vocabulary.compute(cache, WORDS, path, start=start)
    assert later.texts == WORDS[4:]
    assert vocabulary.pin_saved(CachingEmbedder(HashEmbedder()), WORDS, path) == len(WORDS)


def test_words_are_computed_only_while_no_visitor_waits_and_stop_on_request(tmp_path):
    model = Counting()
    stop = threading.Event()
    busy = threading.Timer(0.2, stop.set)  # visitors keep the model busy until the server stops
    busy.start()
    finished = vocabulary.compute(CachingEmbedder(model), WORDS, tmp_path / vocabulary.FILE, idle=lambda: False, stop=stop)
    assert not finished and model.texts == []
    assert not (tmp_path / vocabulary.FILE).exists()


def test_a_read_only_index_folder_only_costs_the_saving(tmp_path, caplog):
    folder = tmp_path / "index"
    folder.mkdir()
    (folder / "cache").write_text("not a folder")  # the file cannot be written under it
    cache = CachingEmbedder(HashEmbedder())
    with caplog.at_level(logging.WARNING, logger="bot.serve.vocabulary"):
        assert vocabulary.compute(cache, WORDS, folder / vocabulary.FILE)
    assert cache.pinned == len(WORDS)
    assert "could not save the word vectors" in caplog.text
