"""Repeated questions are answered from a bounded cache that a new index empties."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace

import pytest
from conftest import CORPUS

from bot.replies import Turn
from bot.search.reindex import reindex
from bot.serve.answer_cache import AnswerCache, CachedBot, CacheKey
from bot.serve.runtime import BotHolder

OLD_PRICE, NEW_PRICE = "$400-$600", "$450-$650"
PRICE = "how much does it cost?"


@pytest.fixture()
def clinic(tmp_path, settings):
    """A copy of the session's corpus and index (with its vector cache) to change."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    # (without the temporary files a server's vocabulary thread may be writing meanwhile)
    shutil.copytree(settings.index_dir, tmp_path / "index", symlinks=True, ignore=shutil.ignore_patterns(".*.tmp"))
    return replace(settings, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", reload_interval=0)


@pytest.fixture()
def serving(clinic, holder_for):
    """A holder serving the clinic copy, with ``changes`` to its settings."""
    return lambda **changes: holder_for(replace(clinic, **changes))


def count_answers(holder: BotHolder) -> list[str]:
    """Record every message the bot behind the cache is asked from now on."""
    asked = []
    bot = holder.bot.bot
    real = bot.answer

    def answer(message, history=()):
        asked.append(message)
        return real(message, history)

    bot.answer = answer
    return asked


def test_the_same_question_asked_again_is_answered_from_the_cache(serving):
    holder = serving()
    asked = count_answers(holder)
    first = holder.bot.answer(PRICE)
    again = holder.bot.answer(" How much does it COST? ")  # same words, other case, spaces around
    assert again == first and OLD_PRICE in again.answer
    assert asked == [PRICE]
    assert holder.answer_cache.stats().hits == 1


def test_a_question_after_another_conversation_or_with_other_punctuation_is_answered_afresh(serving):
    holder = serving()
    asked = count_answers(holder)
    holder.bot.answer("and is it covered?")
    holder.bot.answer("and is it covered?", [Turn("user", PRICE)])
    holder.bot.answer("and is it covered")
    holder.bot.answer("and  is  it  covered?")  # runs of spaces: the bot reads them as one, so the cache does too
    assert asked == ["and is it covered?", "and is it covered?", "and is it covered"]


def test_crisis_replies_are_cached_and_stay_crisis_replies(serving):
    holder = serving()
    asked = count_answers(holder)
    for _ in range(2):
        reply = holder.bot.answer("I want to end my life")
        assert reply.crisis and "988" in reply.answer
    assert len(asked) == 1


def test_the_cache_holds_at_most_its_size_and_forgets_the_least_recently_asked(serving):
    holder = serving(answer_cache_size=2)
    asked = count_answers(holder)
    for q in (PRICE, "what are the side effects?", PRICE, "is it covered by insurance?", "what are the side effects?"):
        holder.bot.answer(q)
    # the side effects went when the third question came; the price stayed (asked since)
    assert asked == [PRICE, "what are the side effects?", "is it covered by insurance?", "what are the side effects?"]
    assert holder.answer_cache.stats().size == 2


def test_after_a_reindex_the_new_text_is_answered_not_the_cached_one(serving, clinic, embedder):
    holder = serving()
    assert OLD_PRICE in holder.bot.answer(PRICE).answer
    article = clinic.corpus_dir / "ketamine-infusion-insurance.md"
    article.write_text(article.read_text().replace(OLD_PRICE, NEW_PRICE))
    reindex(clinic, embedder)
    assert holder.reload().outcome == "reloaded"
    assert holder.answer_cache.stats().size == 0
    reply = holder.bot.answer(PRICE)
    assert NEW_PRICE in reply.answer and OLD_PRICE not in reply.answer


def test_a_reply_is_never_reused_for_another_build():
    cache = AnswerCache(8)
    cache.put(CacheKey.of("build-1", PRICE), "old reply")  # type: ignore[arg-type]
    assert cache.get(CacheKey.of("build-2", PRICE)) is None
    assert cache.get(CacheKey.of("build-1", PRICE.upper())) == "old reply"


def test_a_broken_cache_never_keeps_a_visitor_from_the_reply(bot, caplog):
    class Broken(AnswerCache):
        def get(self, key):
            raise OSError("out of memory")

        def put(self, key, reply):
            raise OSError("out of memory")

    cached = CachedBot(bot, Broken(4))
    with caplog.at_level(logging.ERROR, logger="bot.serve.answer_cache"):
        replies = [cached.answer(PRICE) for _ in range(3)]
    assert all(OLD_PRICE in r.answer for r in replies)
    assert len([r for r in caplog.records if "answer cache failed" in r.getMessage()]) == 1  # logged once
    assert cached.bot is bot


def test_without_a_cache_every_question_is_answered_by_the_bot(serving):
    holder = serving(answer_cache_size=0)
    asked = count_answers(holder)
    holder.bot.answer(PRICE)
    holder.bot.answer(PRICE)
    assert asked == [PRICE, PRICE] and holder.answer_cache is None
