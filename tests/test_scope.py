"""Questions next to the article's topic that it does not answer get an honest abstention:
the topics are the clinic's own data (corpus/vocabulary.yaml), not code."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.replies import Turn

ROOT = Path(__file__).resolve().parent.parent

BEYOND_THE_ARTICLE = [
    "What dose of ketamine do you use in mg?",
    "Is ketamine safe during pregnancy?",
    "can I drink alcohol after an infusion",
    "does ketamine interact with zoloft",
    "Is ketamine FDA approved?",
    "is ketamine addictive",
    "where is the clinic located",
    "what are your opening hours",
    "how do I book an appointment",
    "can my 15 year old get ketamine",
    "is ketamine right for me?",
    "does it help with bipolar disorder?",
    "what is the success rate",
    "what's the weather today?",
    "write me a poem about the sea",
    "Can I do ketamine if I'm on Zoloft?",
    "i take lithium, is ketamine ok",
    "Are the infusions done by an anesthesiologist or a nurse?",
    "can you recommend a good therapist in Austin?",
]


@pytest.mark.parametrize("question", BEYOND_THE_ARTICLE)
def test_abstains_beyond_the_article(bot, question):
    reply = bot.answer(question)
    assert reply.abstained and not reply.crisis and reply.citations == ()
    assert "888-526-8638" in reply.answer  # points to the clinic


def test_close_questions_are_still_answered(bot):
    # "drive home" and "safe" sound like the topics above but the article answers them.
    assert "drive you home" in bot.answer("can I drive myself home after?").answer
    assert not bot.answer("is it safe?").abstained
    # Being on something, or asking what to recommend, is not by itself one of those topics.
    assert "$400-$600" in bot.answer("I'm on a tight budget, how much does it cost?").answer


def test_a_page_that_covers_the_topic_lifts_the_abstention(tmp_path, embedder):
    from bot.answer.service import Bot
    from bot.search.reindex import reindex
    from bot.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "pregnancy.md").write_text(
        "# Pregnancy\n\n## Is ketamine safe during pregnancy?\n\n"
        "Ketamine infusions are not offered during pregnancy or while breastfeeding.\n"
    )
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    reindex(settings, embedder)
    reply = Bot.load(settings, embedder).answer("Is ketamine safe during pregnancy?")
    assert not reply.abstained and "not offered during pregnancy" in reply.answer


def test_contact_questions_get_the_phone_and_email_cited(bot):
    for question in ("what's your phone number?", "how do I reach you?", "email?"):
        reply = bot.answer(question)
        assert "888-526-8638" in reply.answer and "info@ketamineinfusioncenters.com" in reply.answer
        assert reply.citations[0].anchor == "is-ketamine-infusion-covered-by-insurance"


def test_contradiction_is_quoted_from_both_sections(bot):
    reply = bot.answer("How long does an infusion take?")
    assert "several hours" in reply.answer and "30-60 minutes" in reply.answer
    anchors = {c.anchor for c in reply.citations}
    assert {"what-is-ketamine-infusion", "how-does-ketamine-infusion-work"} <= anchors


def test_complete_question_is_not_distorted_by_history(bot):
    history = (Turn("user", "what are the side effects?"), Turn("assistant", "dizziness, nausea"))
    reply = bot.answer("How much does ketamine infusion cost?", history)
    assert "$400-$600" in reply.answer


@pytest.mark.parametrize(
    ("previous", "message", "expected"),
    [
        ("how much does it cost?", "and does insurance cover that?", "insurance"),
        ("what are the side effects?", "how long do they last?", "disappear soon after"),
        ("how much is it", "can I pay in cash?", "discount for cash"),
    ],
)
def test_follow_ups_use_the_conversation(bot, previous, message, expected):
    reply = bot.answer(message, (Turn("user", previous), Turn("assistant", "...")))
    assert not reply.abstained and expected in reply.answer


def test_typos_are_understood(bot):
    assert "$400-$600" in bot.answer("how mutch does ketamin cost").answer
    assert "insurance" in bot.answer("is it coverd by insurence").answer.lower()


def test_a_request_for_the_gist_quotes_the_conclusion(bot):
    reply = bot.answer("tl;dr?")
    assert not reply.abstained and reply.citations[0].anchor == "conclusion"


def test_without_the_vocabulary_file_the_topics_are_not_known(tmp_path, embedder):
    from bot.answer.service import Bot
    from bot.search.reindex import reindex
    from bot.settings import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "article.md").write_text((ROOT / "corpus" / "ketamine-infusion-insurance.md").read_text())
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    reindex(settings, embedder)
    bot = Bot.load(settings, embedder)
    assert bot.index.vocabulary.out_of_scope == ()
    reply = bot.answer("Is ketamine FDA approved?")
    assert "it asks about" not in reply.reason  # no listed topic fires: the model alone decides
