"""The third reply: when the bot is unsure it offers the closest sections, and picking one
answers from it (issue 25). Fast tests of the rule, then the real bot and a real server."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from bot.answer import suggest
from bot.answer.answerability import AnswerabilityModel
from bot.answer.service import UnknownSection
from bot.evaluation.replies import ReplyThresholds, choose_reply_thresholds, reply_outcome
from bot.replies import ReplyKind
from bot.serve.inputs import ChatRequest, InvalidRequest
from bot.settings import Settings

# Questions near the article's subject that its pages do not answer outright: the bot should
# not state a sentence as the answer to them, but the closest sections are worth offering.
UNSURE = (
    "what should i tell my family about the treatment",
    "is it like the stuff they use at the vet",
    "how will i feel the week after",
    "can it change who i am",
    "what do other patients say about it",
)


def section(source: str, anchor: str, probability: float, heading: str | None = None, sentence: str = "A sentence."):
    chunk = SimpleNamespace(source=source, anchor=anchor, section=heading or anchor.title(), url=f"/source/{source}#{anchor}")
    best = SimpleNamespace(text=sentence, rank=1.0)
    return SimpleNamespace(chunk=chunk, probability=probability, best=best, key=(source, anchor))


def model(threshold=0.8, suggest_at=0.3, ambiguity=0.0) -> AnswerabilityModel:
    return AnswerabilityModel({}, {}, {}, 0.0, threshold, {}, suggest_at, ambiguity)


def test_three_replies_by_the_best_sections_probability():
    m = model()
    assert suggest.choose([section("a.md", "x", 0.9)], True, m) is ReplyKind.ANSWER
    assert suggest.choose([section("a.md", "x", 0.5)], False, m) is ReplyKind.SUGGESTIONS
    assert suggest.choose([section("a.md", "x", 0.1)], False, m) is ReplyKind.ABSTENTION
    assert suggest.choose([], False, m) is ReplyKind.ABSTENTION
    # a topic the corpus lists as out of scope is never offered
    assert suggest.choose([section("a.md", "x", 0.5)], False, m, offer=False) is ReplyKind.ABSTENTION


def test_nearly_tied_sections_of_two_pages_are_offered_instead_of_answered():
    m = model(ambiguity=0.05)
    tied = [section("a.md", "x", 0.93), section("a.md", "y", 0.92), section("b.md", "z", 0.9)]
    assert suggest.choose(tied, True, m) is ReplyKind.SUGGESTIONS
    apart = [section("a.md", "x", 0.93), section("b.md", "z", 0.7)]
    assert suggest.choose(apart, True, m) is ReplyKind.ANSWER
    same_page = [section("a.md", "x", 0.93), section("a.md", "y", 0.93)]
    assert suggest.choose(same_page, True, m) is ReplyKind.ANSWER
    assert suggest.choose(tied, True, model(ambiguity=0.0)) is ReplyKind.ANSWER


def test_without_a_fitted_band_the_bot_never_suggests():
    unfit = AnswerabilityModel({}, {}, {}, 0.0, 0.8, {})
    assert unfit.suggest_threshold == 0.8
    assert suggest.choose([section("a.md", "x", 0.79)], False, unfit) is ReplyKind.ABSTENTION


def test_at_most_three_sections_one_per_heading_with_a_short_preview():
    sections = [section("a.md", "x", 0.5, "Cost"), section("b.md", "x", 0.4, "cost"), section("a.md", "y", 0.3),
                section("a.md", "z", 0.2, sentence="word " * 100), section("a.md", "w", 0.1)]
    offered = suggest.offered(sections)
    assert [e.chunk.anchor for e in offered] == ["x", "y", "z"]
    preview = suggest.suggestion(offered[2]).preview
    assert len(preview) <= suggest.PREVIEW_CHARS + 1 and preview.endswith("\u2026")
    text = suggest.render([suggest.suggestion(e) for e in offered], "You can reach the clinic at 555-123-4567.")
    assert text.startswith(suggest.SUGGEST_TEXT) and text.endswith("555-123-4567.") and "- Cost: A sentence." in text


def test_the_pick_is_checked_before_the_bot_sees_it():
    settings = Settings.from_env()
    assert ChatRequest.parse({"message": "hi", "section": "a.md#cost"}, settings).section == "a.md#cost"
    assert ChatRequest.parse({"message": "hi"}, settings).section == ""
    for bad in (7, ["a.md#cost"], "no-anchor", "x" * 2000 + "#a"):
        with pytest.raises(InvalidRequest, match="section"):
            ChatRequest.parse({"message": "hi", "section": bad}, settings)


def row(kind, p, right=False, picks=(), topic=0.9, corpus="c", answered=None):
    return {"corpus": corpus, "case": f"{kind}-{p}", "kind": kind, "p": p, "offer": True, "topic": topic,
            "answered": p >= 0.8 if answered is None else answered, "right": right, "threshold": 0.8, "gap": None,
            "picks": list(picks)}


def test_the_fit_offers_sections_where_a_pick_answers_and_never_to_off_topic_requests():
    rows = [row("answer", 0.9, right=True), row("answer", 0.5, picks=[False, True]), row("answer", 0.3, picks=[True]),
            row("abstain", 0.4), *(row("offtopic", 0.6, topic=0.2) for _ in range(50)), row("offtopic", 0.9, topic=0.2)]
    t, summary = choose_reply_thresholds(rows, 0.8)
    assert reply_outcome(rows[1], t) == "suggestions" and reply_outcome(rows[2], t) == "suggestions"
    assert all(reply_outcome(r, t) != "suggestions" for r in rows if r["kind"] == "offtopic")
    assert summary["found"] == 1.0 and summary["before"]["found"] == pytest.approx(1 / 3, abs=1e-3)


def test_the_fit_never_takes_back_a_right_answer():
    rows = [row("answer", 0.85, right=True, picks=[True]), row("abstain", 0.84), row("abstain", 0.86)]
    t, _ = choose_reply_thresholds(rows, 0.8)
    assert t.answer <= 0.85 and reply_outcome(rows[0], t) == "answer"
    assert reply_outcome(row("answer", 0.82, answered=True), ReplyThresholds(0.9, 0.3, 0.5, 0.0)) == "suggestions"


# -- the real bot ------------------------------------------------------------------------


def unsure_reply(bot):
    for question in UNSURE:
        reply = bot.answer(question)
        if reply.kind is ReplyKind.SUGGESTIONS:
            return question, reply
    pytest.fail(f"none of {UNSURE} got suggestions: kinds {[bot.answer(q).kind.value for q in UNSURE]}")


def test_an_unsure_reply_offers_real_sections_with_the_contacts(bot):
    question, reply = unsure_reply(bot)
    assert reply.abstained and not reply.crisis and reply.citations == ()
    assert 1 <= len(reply.suggestions) <= 3
    assert reply.answer.startswith(suggest.SUGGEST_TEXT) and "888-526-8638" in reply.answer
    corpus = {(c.source, c.anchor): c for c in bot.index.chunks}
    for s in reply.suggestions:
        chunk = corpus[(s.source, s.anchor)]
        assert s.section == chunk.section and s.url == chunk.url
        assert s.preview.rstrip("\u2026") in " ".join(c.text for c in bot.index.chunks if (c.source, c.anchor) == (s.source, s.anchor))


def test_picking_a_suggestion_answers_from_that_section(bot):
    question, reply = unsure_reply(bot)
    for s in reply.suggestions:
        picked = bot.answer_section(question, s.key)
        assert picked.kind is ReplyKind.ANSWER and picked.picked == s.key
        assert [c.anchor for c in picked.citations] == [s.anchor]
        assert picked.answer and picked.citations[0].quote in picked.answer
    with pytest.raises(UnknownSection, match="suggestions"):
        bot.answer_section(question, "nowhere.md#nothing")


def test_off_topic_requests_get_a_plain_abstention_and_crisis_never_suggestions(bot):
    for message in ("what's the weather today?", "write me a poem about the sea", "who won the football game"):
        reply = bot.answer(message)
        assert reply.kind is ReplyKind.ABSTENTION and reply.suggestions == ()
    crisis = bot.answer("i want to kill myself, is it like the stuff they use at the vet?")
    assert crisis.kind is ReplyKind.CRISIS and crisis.suggestions == ()


def test_the_api_says_the_kind_and_a_pick_gets_the_sections_answer(server, bot):
    question, _ = unsure_reply(bot)
    reply = httpx.post(f"{server}/api/chat", json={"message": question}, timeout=30).json()
    assert reply["kind"] == "suggestions" and reply["abstained"] is True and reply["suggestions"]
    first = reply["suggestions"][0]
    assert set(first) == {"section", "anchor", "source", "url", "preview"}
    body = {"message": question, "section": f"{first['source']}#{first['anchor']}"}
    picked = httpx.post(f"{server}/api/chat", json=body, timeout=30).json()
    assert picked["kind"] == "answer" and picked["citations"][0]["anchor"] == first["anchor"]
    answered = httpx.post(f"{server}/api/chat", json={"message": "how much does it cost?"}, timeout=30).json()
    assert answered["kind"] == "answer" and answered["suggestions"] == []
    missing = httpx.post(f"{server}/api/chat", json={"message": question, "section": "nope.md#none"}, timeout=30)
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "unknown_section"
