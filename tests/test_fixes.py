"""Staff closing content gaps with the real model and index: the unanswered grouped by
meaning, a fix previewed, saved, answered and undone, the decisions that change no content,
fixes at the same time as each other or as a maintainer's re-index, a section removed under
a fix, and the command line's phrasings, gaps and log exports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest
from conftest import CORPUS, ROOT

from bot.adapters.console.fixing import Fixing
from bot.curation.service import Curator, FixRefused
from bot.replies import Citation, Reply, ReplyKind, Suggestion
from bot.search.reindex import reindex
from bot.serve.runtime import BotHolder
from bot.settings import Settings
from bot.store import Exchange, Store

COST = "ketamine-infusion-insurance.md#how-much-does-ketamine-infusion-cost"
COST_SENTENCE = "$400-$600 per session"


@pytest.fixture()
def clinic(tmp_path, embedder):
    """A corpus of its own, its index, a holder serving it and a question log."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    settings = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", db=tmp_path / "log.sqlite3")
    reindex(settings, embedder)
    holder = BotHolder(settings)
    holder.embedder = embedder
    holder.reload()
    store = Store(settings.db)
    return holder, store, Curator(holder, store)


def visitors_ask(holder: BotHolder, store: Store, *questions: str) -> list:
    replies = []
    for question in questions:
        reply = holder.bot.answer(question)
        store.add(Exchange.of("widget", question, reply, 0.01))
        replies.append(reply)
    return replies


def test_unanswered_questions_are_grouped_by_meaning_largest_first(clinic):
    holder, store, curator = clinic
    replies = visitors_ask(holder, store, "Do you take HSA cards?", "do you accept HSA cards", "Can I use my HSA card to pay?",
                           "Is there parking at the clinic?", "is there any parking near your clinic", "What's the weather in Paris?")
    assert all(r.abstained for r in replies)
    groups = curator.unanswered().groups
    by_typical = {g.typical: g for g in groups}
    hsa = next(g for g in groups if "HSA" in g.typical)
    assert hsa.count == 3 and set(hsa.phrasings) == {"Do you take HSA cards?", "do you accept HSA cards", "Can I use my HSA card to pay?"}
    assert groups[0] is hsa  # the largest first
    parking = next(g for g in groups if "park" in g.typical.lower())
    assert parking.count == 2 and "What's the weather in Paris?" in by_typical and len(groups) == 3


def test_a_group_answered_with_a_section_is_previewed_saved_answered_and_undone(clinic):
    holder, store, curator = clinic
    visitors_ask(holder, store, "Do you take HSA cards?", "do you accept HSA cards")
    group = curator.unanswered().groups[0]
    assert COST in [s.value for s in curator.sections()]
    preview = curator.preview(group.phrasings, COST)
    assert not preview.abstained and COST_SENTENCE in preview.answer and preview.citations[0].anchor == COST.split("#")[1]
    assert "HSA" not in (ROOT / "corpus" / "questions.yaml").read_text()  # a preview writes nothing
    fix = curator.answer_with(group.phrasings, group.count, COST, "nurse")
    text = (holder.settings.corpus_dir / "questions.yaml").read_text()
    assert f"# fix {fix.id}: added by nurse, " in text and "from the staff console" in text
    after = holder.bot.answer("Do you take HSA cards?")
    assert after.answer == preview.answer and after.citations[0].section == "How much does ketamine infusion cost?"
    assert all(g.id != group.id for g in curator.unanswered().groups)  # it left the list
    (status,) = curator.changes()
    assert status.fix.staff == "nurse" and status.needs_attention is None
    undone, change = curator.undo(fix.id, "doctor")
    assert not undone.active and undone.undone_by == "doctor" and set(change.changed) == set(group.phrasings)
    assert holder.bot.answer("Do you take HSA cards?").abstained
    assert "HSA" not in (holder.settings.corpus_dir / "questions.yaml").read_text()
    assert any(g.id == group.id for g in curator.unanswered().groups)  # back in the list


def test_not_for_the_bot_counts_later_similar_questions_under_it(clinic):
    holder, store, curator = clinic
    visitors_ask(holder, store, "What's the weather in Paris today?")
    group = curator.unanswered().groups[0]
    fix = curator.decide(group.phrasings, group.count, "not_for_bot", "nurse")
    time.sleep(1.1)  # the log keeps whole seconds: the questions below come after the decision
    visitors_ask(holder, store, "what is the weather like in Paris today", "What's the weather in Paris today?",
                 "Is there parking at the clinic?")
    grouped = curator.unanswered()
    assert [g.typical for g in grouped.groups] == ["Is there parking at the clinic?"]
    assert curator.counted_since()[fix.id] == 2  # the same question again, and one close in meaning
    table, _ = Fixing(curator).changes()
    assert table.iloc[0]["similar since"] == 2


def test_a_group_with_crisis_replies_is_marked_and_cannot_be_answered_with_a_section(clinic):
    holder, store, curator = clinic
    (reply,) = visitors_ask(holder, store, "I want to kill myself")
    assert reply.crisis
    (group,) = curator.unanswered().groups
    assert group.crisis == 1
    fixing = Fixing(curator)
    about, _, _ = fixing.pick(f"group:{group.id}")
    assert "Crisis-adjacent" in about
    assert "cannot be answered with a section" in fixing.answer(f"group:{group.id}", COST)
    with pytest.raises(FixRefused, match="crisis"):
        curator.answer_with(group.phrasings, group.count, COST, "nurse", crisis=group.crisis)
    assert "marked **crisis-adjacent**" in fixing.decide(f"group:{group.id}", "crisis")
    assert curator.unanswered().groups == []


def test_two_fixes_at_once_and_a_fix_during_a_maintainers_reindex_all_land(clinic, embedder):
    holder, store, curator = clinic
    errors = []

    def fix(question: str) -> None:
        try:
            curator.answer_with((question,), 1, COST, f"staff-{question[:5]}")
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    def maintainer() -> None:
        reindex(holder.settings, embedder, wait=60)

    threads = [threading.Thread(target=fix, args=(q,)) for q in ("Do you take HSA cards?", "Do you take FSA cards?")]
    threads.append(threading.Thread(target=maintainer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == []
    text = (holder.settings.corpus_dir / "questions.yaml").read_text()
    assert "Do you take HSA cards?" in text and "Do you take FSA cards?" in text
    holder.reload()
    for question in ("Do you take HSA cards?", "Do you take FSA cards?"):
        assert COST_SENTENCE in holder.bot.answer(question).answer


def test_a_fix_whose_section_a_later_change_removed_needs_attention_and_the_build_goes_on(clinic, embedder):
    holder, store, curator = clinic
    fix = curator.answer_with(("Do you take HSA cards?",), 1, COST, "nurse")
    doc = holder.settings.corpus_dir / "ketamine-infusion-insurance.md"
    doc.write_text(doc.read_text().replace("## How much does ketamine infusion cost?", "## What you pay"))
    questions = holder.settings.corpus_dir / "questions.yaml"
    questions.write_text(questions.read_text().replace(f"- section: {COST}\n  questions:\n    - How much", f"- section: {COST.replace('how-much-does-ketamine-infusion-cost', 'what-you-pay')}\n  questions:\n    - How much"))
    summary = reindex(holder.settings, embedder)
    assert summary.build_id
    (status,) = curator.changes()
    assert status.fix.id == fix.id and "no longer in the corpus" in status.needs_attention


def test_a_broken_questions_file_is_shown_and_refuses_fixes(clinic):
    holder, store, curator = clinic
    visitors_ask(holder, store, "Do you take HSA cards?")
    path = holder.settings.corpus_dir / "questions.yaml"
    path.write_text(path.read_text() + "- section: [oops\n")
    broken = path.read_text()
    fixing = Fixing(curator)
    _, _, warning = fixing.unanswered()
    assert "questions.yaml is broken" in warning and "corpus/questions.yaml:" in warning
    group = curator.unanswered().groups[0]
    status = fixing.answer(f"group:{group.id}", COST)
    assert status.startswith("⚠ Not saved") and "repair it by hand first" in status
    assert path.read_text() == broken
    assert all(f.action != "answer" or not f.active for f in [s.fix for s in curator.changes()])


def offered_and_picked(holder: BotHolder, *anchors: str) -> tuple[Reply, dict[str, Reply]]:
    """A suggestions reply offering the served sections with ``anchors``, and for each the
    answer a visitor gets by picking it (as the widget asks: the same question, the section)."""
    chunks = {c.anchor: c for c in holder.bot.index.chunks}
    offered = tuple(Suggestion(chunks[a].section, a, chunks[a].source, chunks[a].url, chunks[a].text[:80]) for a in anchors)
    suggested = Reply("I'm not sure I have the exact answer. These parts of the clinic's pages come closest: ...",
                      ReplyKind.SUGGESTIONS, suggestions=offered)
    return suggested, {s.anchor: Reply(s.preview, ReplyKind.ANSWER, (Citation(s.section, s.anchor, s.source, s.url, s.preview, 0.6),),
                                       picked=s.key) for s in offered}


def test_a_group_shows_the_sections_visitors_picked_and_offers_the_one_they_keep_picking_first(clinic):
    holder, store, curator = clinic
    insurance = "is-ketamine-infusion-covered-by-insurance"
    cost = COST.split("#")[1]
    suggested, picked = offered_and_picked(holder, insurance, cost)
    for question, pick in [("Can I pay with my HSA card?", cost), ("can i pay with my hsa card", cost),
                           ("Do you take HSA cards?", insurance), ("do you accept HSA cards", None)]:
        store.add(Exchange.of("widget", question, suggested, 0.01))
        if pick:
            store.add(Exchange.of("widget", question, picked[pick], 0.01))
    (group,) = curator.unanswered().groups
    assert group.count == 4 and group.suggested == 4  # the suggestions are unanswered; the picks are not more questions
    assert [(p.section, p.count) for p in group.picks] == [("How much does ketamine infusion cost?", 2),
                                                          ("Is ketamine infusion covered by insurance?", 1)]
    assert group.favourite.section == "How much does ketamine infusion cost?"

    fixing = Fixing(curator)
    table, picker, _ = fixing.unanswered()
    assert table.iloc[0]["got suggestions"] == 4
    assert table.iloc[0]["visitors picked"] == "How much does ketamine infusion cost? ×2 · Is ketamine infusion covered by insurance? ×1"
    assert "visitors keep picking How much does ketamine infusion cost?" in picker["choices"][0][0]
    about, sections, _ = fixing.pick(f"group:{group.id}")
    first_label, first = sections["choices"][0]
    assert first == COST and sections["value"] == COST and first_label.startswith("✓ picked by visitors 2×: How much")
    assert [value for _, value in sections["choices"]].count(COST) == 1  # not offered twice
    assert "Visitors keep picking **How much does ketamine infusion cost?**" in about
    # Staff decide: nothing changed until they answer the group with it.
    assert "HSA" not in (holder.settings.corpus_dir / "questions.yaml").read_text()
    assert fixing.answer(f"group:{group.id}", first).startswith("✓ Fix")
    assert COST_SENTENCE in holder.bot.answer("Can I pay with my HSA card?").answer
    assert curator.unanswered().groups == []


def test_without_a_section_visitors_keep_picking_the_likeliest_sections_come_first_as_before(clinic):
    holder, store, curator = clinic
    suggested, picked = offered_and_picked(holder, "is-ketamine-infusion-covered-by-insurance", COST.split("#")[1])
    store.add(Exchange.of("widget", "Do you take HSA cards?", suggested, 0.01))
    store.add(Exchange.of("widget", "Do you take HSA cards?", picked["is-ketamine-infusion-covered-by-insurance"], 0.01))
    (group,) = curator.unanswered().groups
    assert group.picks[0].count == 1 and group.favourite is None  # one pick is not enough
    about, sections, _ = Fixing(curator).pick(f"group:{group.id}")
    assert [label[0] for label, _ in sections["choices"][:3]] == ["★"] * 3 and "keep picking" not in about
    assert "Is ketamine infusion covered by insurance? ×1" in about


# --- the command line ------------------------------------------------------------------------------


def cli(*args: str, settings: Settings) -> subprocess.CompletedProcess:
    env = {**os.environ, "FAQBOT_INDEX_DIR": str(settings.index_dir), "FAQBOT_CORPUS_DIR": str(settings.corpus_dir), "FAQBOT_DB": str(settings.db)}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_phrasings_add_list_and_remove_from_the_command_line(clinic):
    holder, _, _ = clinic
    settings = holder.settings
    done = cli("phrasings", "add", "--section", COST, "Do you take HSA cards?", "--json", settings=settings)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["changed"] == ["Do you take HSA cards?"] and result["index"]["documents"] == 1
    holder.reload()
    assert COST_SENTENCE in holder.bot.answer("Do you take HSA cards?").answer
    listed = json.loads(cli("phrasings", "list", "--section", COST, "--json", settings=settings).stdout)
    assert any("Do you take HSA cards?" in e["questions"] for e in listed)
    wrong = cli("phrasings", "add", "--section", "ketamine-infusion-insurance.md#how-much-does-it-cost", "q?", settings=settings)
    assert wrong.returncode == 2 and "did you mean #how-much-does-ketamine-infusion-cost" in wrong.stderr
    done = cli("phrasings", "remove", "--section", COST, "Do you take HSA cards?", settings=settings)
    assert done.returncode == 0 and "no longer point to" in done.stdout
    assert "HSA" not in (settings.corpus_dir / "questions.yaml").read_text()


def test_gaps_and_log_exports_hold_what_staff_decided_and_nothing_unredacted(clinic):
    holder, store, curator = clinic
    from bot.store.redact import redact

    question = "Do you have evening appointments? email me at jane.doe@example.com or 555-123-4567"
    store.add(Exchange.of("widget", redact(question), Reply("I'm sorry, I can't find that.", ReplyKind.ABSTENTION), 0.01))
    store.add(Exchange.of("widget", '=HYPERLINK("https://evil.example/x","Click")', Reply("Sorry.", ReplyKind.ABSTENTION), 0.01))
    group = next(g for g in curator.unanswered().groups if "evening" in g.typical)
    curator.decide(group.phrasings, group.count, "needs_content", "nurse")
    settings = holder.settings
    md = cli("gaps", "export", settings=settings)
    assert md.returncode == 0 and "- [ ] **Do you have evening appointments?" in md.stdout and "needs new content" in md.stdout
    rows = cli("gaps", "export", "--format", "csv", settings=settings).stdout.splitlines()
    assert rows[0].startswith("fix,decided_utc,staff,action") and "nurse" in rows[1]
    log_csv = cli("log", "export", settings=settings).stdout
    log_jsonl = cli("log", "export", "--format", "jsonl", "--since", "2020-01-01", settings=settings).stdout
    assert log_csv.startswith("time_utc,channel,message,outcome,cited_sections,rating,comment")
    assert json.loads(log_jsonl.splitlines()[0])["outcome"] == "abstained"
    for text in (md.stdout, log_csv, log_jsonl):
        assert "jane.doe@example.com" not in text and "555-123-4567" not in text
    assert "[email]" in log_csv and "[phone]" in log_jsonl
    assert "'=HYPERLINK(" in log_csv and ',=HYPERLINK' not in log_csv  # a spreadsheet shows it as text
    bad = cli("log", "export", "--since", "last tuesday", settings=settings)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr
    missing = cli("log", "export", settings=replace(settings, db=settings.db.with_name("nothing.sqlite3")))
    assert missing.returncode == 2 and "no question log at" in missing.stderr


def test_a_rated_down_answer_gets_the_same_fixes_and_section_right_sentence_wrong(clinic):
    holder, store, curator = clinic
    question = "How long does one infusion take?"
    reply = holder.bot.answer(question)
    row = Exchange.of("widget", question, reply, 0.01)
    store.add(row)
    feedback_id = store.add_feedback(row.id, -1, "quoted the wrong sentence")
    fixing = Fixing(curator)
    choice = f"feedback:{feedback_id}"
    assert (choice in [value for _, value in fixing.negative_feedback()["choices"]])
    about, sections, _ = fixing.pick(choice)
    assert question in about and len([c for c in sections["choices"] if c[0].startswith("★")]) == 3
    status = fixing.decide(choice, "wrong_sentence")
    assert "section right, sentence wrong" in status and "gaps export" in status
    (status_row,) = curator.changes()
    fix = status_row.fix
    assert fix.origin == "feedback" and fix.phrasings == (question,) and fix.section == "; ".join(row.sections)
    saved = fixing.answer(choice, COST)
    assert saved.startswith("✓ Fix") and question in (holder.settings.corpus_dir / "questions.yaml").read_text()
    table, undo_picker = fixing.changes()
    assert list(table["action"]) == ["answered with a section", "section right, sentence wrong"]
    assert len(undo_picker["choices"]) == 2
