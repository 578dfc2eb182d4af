"""What a visitor notices about answers, with the real model and index."""

from __future__ import annotations

from bot.replies import Turn


def test_answer_is_the_clinics_own_sentence_with_its_section(bot):
    reply = bot.answer("how much does it cost?")
    assert reply.answer.startswith("The cost of ketamine infusion can vary depending on the facility")
    assert reply.citations[0].section == "How much does ketamine infusion cost?"
    corpus_text = " ".join(c.text for c in bot.index.chunks)
    for citation in reply.citations:
        assert citation.quote in reply.answer
        for sentence in citation.quote.split(". "):
            assert sentence.rstrip(".") in corpus_text  # nothing invented


def test_answers_are_a_few_sentences_not_a_section(bot):
    reply = bot.answer("what are the side effects?")
    assert not reply.abstained
    assert len(reply.answer.split()) < 120


def test_off_topic_question_abstains_and_points_to_contacts(bot):
    reply = bot.answer("what's the weather today?")
    assert reply.abstained and not reply.crisis and reply.citations == ()
    assert "888-526-8638" in reply.answer


def test_crisis_message_gets_crisis_contacts_first(bot):
    reply = bot.answer("i want to kill myself")
    assert reply.crisis and not reply.abstained
    assert reply.answer.startswith(bot.settings.crisis_text[:40])
    assert "988" in reply.answer and "911" in reply.answer


def test_follow_up_uses_the_conversation(bot):
    history = (Turn("user", "what are the side effects?"), Turn("assistant", "dizziness, nausea..."))
    reply = bot.answer("how long do they last?", history)
    assert not reply.abstained
    assert reply.citations[0].anchor == "how-does-ketamine-infusion-work"


def test_a_lead_in_is_quoted_with_the_list_it_announces(bot):
    reply = bot.answer("what are the risks?")
    assert "These include:" in reply.answer
    for item in ("- Discomfort:", "- Dizziness:", "- Nausea:"):
        assert item in reply.answer
    # an item's second sentence stays on its item's line
    assert "the ketamine infusion. This is usually mild" in reply.answer


def test_a_question_in_two_parts_is_answered_part_by_part(bot):
    reply = bot.answer("How much does it cost and is it covered by insurance?")
    anchors = [c.anchor for c in reply.citations]
    assert "$400-$600" in reply.answer and "depends on the individual" in reply.answer
    assert {"how-much-does-ketamine-infusion-cost", "is-ketamine-infusion-covered-by-insurance"} <= set(anchors)


def test_a_follow_up_with_its_own_topic_is_answered_on_it(bot):
    history = (Turn("user", "how much does it cost?"), Turn("assistant", "$400-$600 per session"))
    reply = bot.answer("what about side effects?", history)
    assert "dizziness, nausea" in reply.answer and "$400" not in reply.answer
