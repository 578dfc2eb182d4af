"""What staff see of the bot's suggestions (issue 25), without the model: the console's Log
and Feedback say which kind of reply each message got and which section the visitor picked,
and a group of unanswered questions names the section its visitors keep picking.

Hand-made replies go through the real question log (a SQLite file); the grouping rule is
checked on hand-made misses."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from conftest import CORPUS

from bot.adapters.console import Console
from bot.adapters.console.text import outcome, why_text
from bot.curation.groups import KEEP_PICKING, Group
from bot.replies import Citation, Reply, ReplyKind, Suggestion
from bot.serve.runtime import BotHolder
from bot.settings import Settings
from bot.store import ChatLog, Store
from bot.store.curation import Miss, Pick

SOURCE = "corpus/ketamine-infusion-insurance.md"
COST = Citation("How much does ketamine infusion cost?", "how-much-does-ketamine-infusion-cost", SOURCE,
                "/source/ketamine-infusion-insurance#how-much-does-ketamine-infusion-cost", "typically around $400-$600 per session", 0.5)
OFFERED = (
    Suggestion(COST.section, COST.anchor, SOURCE, COST.url, COST.quote),
    Suggestion("Is ketamine infusion covered by insurance?", "is-ketamine-infusion-covered-by-insurance", SOURCE,
               "/source/ketamine-infusion-insurance#is-ketamine-infusion-covered-by-insurance", "Some insurance companies..."),
    Suggestion("What is ketamine infusion?", "what-is-ketamine-infusion", SOURCE,
               "/source/ketamine-infusion-insurance#what-is-ketamine-infusion", "Ketamine infusion is a treatment..."),
)
SUGGESTED = Reply("I'm not sure I have the exact answer. These parts of the clinic's pages come closest: ...",
                  ReplyKind.SUGGESTIONS, suggestions=OFFERED, reason="unsure, so the closest sections are offered: 0.41")
PICKED = Reply("It is typically around $400-$600 per session.", ReplyKind.ANSWER, (COST,), picked=OFFERED[0].key)
ABSTAINED = Reply("I'm sorry, I can't find an answer to that.", ReplyKind.ABSTENTION)


@pytest.fixture()
def console(tmp_path):
    """A console on a question log, with no bot loaded: the log views need none."""
    settings = Settings(corpus_dir=CORPUS, index_dir=tmp_path / "index", db=tmp_path / "faqbot.sqlite3")
    log = ChatLog(Store(settings.db))
    yield Console(BotHolder(settings), log)
    log.close()


def test_the_log_tab_shows_the_kind_of_reply_and_the_section_the_visitor_picked(console):
    for reply in (ABSTAINED, SUGGESTED, PICKED):
        console.log.record("widget", "can I pay with my HSA card?", reply, 0.02)
    console.log.flush()
    table = console.recent()
    assert list(table["reply"]) == ["answered · picked: How much does ketamine infusion cost?", "suggestions (3 offered)", "abstained"]
    assert table.iloc[1]["sections"] == "How much does ketamine infusion cost?; Is ketamine infusion covered by insurance?; What is ketamine infusion?"
    assert table.iloc[0]["sections"] == "How much does ketamine infusion cost?" and table.iloc[0]["question"] == "can I pay with my HSA card?"


def test_rated_suggestions_and_picks_say_so_in_the_feedback_table(console):
    offered = console.log.record("widget", "can I pay with my HSA card?", SUGGESTED, 0.02)
    picked = console.log.record("widget", "can I pay with my HSA card?", PICKED, 0.02)
    console.log.add_feedback(offered, -1, "none of these")
    console.log.add_feedback(picked, 1)
    answers = list(console.feedback()["answer"])
    assert answers[0].startswith("[answered · picked: How much does ketamine infusion cost?] It is typically")
    assert answers[1].startswith("[suggestions (3 offered)] I'm not sure")


def test_the_why_panel_names_the_sections_offered():
    assert outcome(SUGGESTED) == "suggestions" and outcome(ABSTAINED) == "abstained" and outcome(PICKED) == "answered"
    why = why_text(SUGGESTED, "can I pay with my HSA card?")
    assert why.startswith("**suggestions**: unsure") and f"[{COST.section}]({COST.url})" in why


def group_with(*picks: tuple[int, ...]) -> Group:
    """A group of one question per tuple, each picked that many times per offered section."""
    at = datetime.now(UTC)
    misses = [Miss(f"q{i}", f"q{i}", sum(counts) + 1, at, 0, ("widget",), sum(counts) + 1,
                   tuple(Pick(OFFERED[k].key, OFFERED[k].section, n) for k, n in enumerate(counts) if n))
              for i, counts in enumerate(picks)]
    return Group(misses, [np.ones(2, np.float32)] * len(misses), misses[0].question)


@pytest.mark.parametrize(("picks", "favourite"), [
    (((1, 0), (1, 1)), OFFERED[0].key),  # 2 picks over two wordings beat 1
    (((3,),), OFFERED[0].key),  # the only section picked, more than once
    (((0, 2),), OFFERED[1].key),
    (((1,),), None),  # one pick: a misclick, or curiosity
    (((2, 2),), None),  # a tie: the visitors do not agree
    (((0, 0),), None),  # offered, never picked
])
def test_a_group_names_the_section_visitors_keep_picking(picks, favourite):
    group = group_with(*picks)
    assert KEEP_PICKING == 2
    assert (group.favourite.key if group.favourite else None) == favourite
    assert sum(p.count for p in group.picks) == sum(map(sum, picks)) and group.suggested == sum(sum(c) + 1 for c in picks)
