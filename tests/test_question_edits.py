"""Changing corpus/questions.yaml from code: comments and order kept, writes serialized and
atomic, a file broken by hand never overwritten, and a fix whose section went away skipped
instead of failing the build. Also the store's side of fixes and the log export."""

from __future__ import annotations

import difflib
import json
import logging
import multiprocessing
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import CORPUS

from bot.errors import CorpusError
from bot.ingest.corpus import load_corpus
from bot.ingest.question_edits import QuestionsFileBroken, add_phrasings, read_entries, remove_phrasings
from bot.ingest.questions import load_questions
from bot.replies import Reply, ReplyKind
from bot.store import Exchange, Store
from bot.store.curation import add_fix, fixes, log_rows, mark_undone, misses

COST = "ketamine-infusion-insurance.md#how-much-does-ketamine-infusion-cost"
INSURANCE = "ketamine-infusion-insurance.md#is-ketamine-infusion-covered-by-insurance"


@pytest.fixture()
def corpus(tmp_path) -> Path:
    root = tmp_path / "corpus"
    shutil.copytree(CORPUS, root)
    return root


def test_an_addition_is_a_new_entry_at_the_end_and_nothing_else_changes(corpus):
    before = (corpus / "questions.yaml").read_text()
    change = add_phrasings(corpus, load_corpus(corpus), COST, ["Do you take HSA cards?", "What's the price: per visit?"],
                           "fix 7: added by nurse, 2026-11-30 10:00 UTC, from the staff console")
    assert change.changed == ("Do you take HSA cards?", "What's the price: per visit?")
    after = (corpus / "questions.yaml").read_text()
    assert after.startswith(before.rstrip("\n"))  # every comment, entry and quote as it was
    assert after.endswith(f"\n# fix 7: added by nurse, 2026-11-30 10:00 UTC, from the staff console\n- section: {COST}\n"
                          "  questions:\n    - Do you take HSA cards?\n    - \"What's the price: per visit?\"\n")
    phrasings = load_questions(corpus, load_corpus(corpus))
    assert {p.text for p in phrasings if p.anchor == "how-much-does-ketamine-infusion-cost"} >= {"Do you take HSA cards?", "What's the price: per visit?"}
    assert read_entries(corpus)[-1].fix == 7
    assert not list(corpus.glob(".questions.yaml.*[!k]"))  # no temporary file left behind


def test_a_phrasing_already_there_is_not_added_twice(corpus):
    change = add_phrasings(corpus, load_corpus(corpus), COST, ["what is the price per session"], "added by test")
    assert change.changed == () and change.unchanged == ("what is the price per session",)


def test_removing_keeps_the_rest_and_an_emptied_entry_goes_with_its_comment(corpus):
    before = (corpus / "questions.yaml").read_text()
    documents = load_corpus(corpus)
    add_phrasings(corpus, documents, COST, ["Do you take HSA cards?"], "fix 1: added by nurse")
    removed = remove_phrasings(corpus, documents, COST, ["do you take hsa cards?", "Why does the cost vary between clinics?"])
    assert set(removed.changed) == {"Do you take HSA cards?", "Why does the cost vary between clinics?"}
    diff = [line for line in difflib.unified_diff(before.splitlines(), (corpus / "questions.yaml").read_text().splitlines(), lineterm="")
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert diff == ["-    - Why does the cost vary between clinics?"]


def test_a_section_that_does_not_exist_names_the_close_match(corpus):
    with pytest.raises(CorpusError, match="did you mean #how-much-does-ketamine-infusion-cost"):
        add_phrasings(corpus, load_corpus(corpus), "ketamine-infusion-insurance.md#how-much-does-ketamine-cost", ["q?"], "c")


def test_a_file_broken_by_hand_is_never_overwritten(corpus):
    path = corpus / "questions.yaml"
    path.write_text(path.read_text() + "- section: [oops\n")
    broken = path.read_text()
    with pytest.raises(QuestionsFileBroken, match=r"corpus/questions.yaml:\d+: is not valid YAML.*repair it by hand first"):
        add_phrasings(corpus, load_corpus(corpus), COST, ["Do you take HSA cards?"], "c")
    with pytest.raises(QuestionsFileBroken):
        remove_phrasings(corpus, load_corpus(corpus), COST, ["How expensive is the treatment?"])
    assert path.read_text() == broken


def test_a_fix_whose_section_was_removed_is_skipped_but_a_hand_written_one_is_an_error(corpus, caplog):
    documents = load_corpus(corpus)
    add_phrasings(corpus, documents, COST, ["Do you take HSA cards?"], "fix 3: added by nurse")
    doc = corpus / "ketamine-infusion-insurance.md"
    doc.write_text(doc.read_text().replace("## How much does ketamine infusion cost?", "## What you pay"))
    documents = load_corpus(corpus)
    path = corpus / "questions.yaml"
    # The hand-written entry for the old heading is an error naming its line ...
    with pytest.raises(CorpusError, match="no heading #how-much-does-ketamine-infusion-cost"):
        load_questions(corpus, documents)
    text = path.read_text()
    hand = text.index(f"- section: {COST}")
    end = text.index("\n\n", hand)
    path.write_text(text[:hand] + text[end + 2 :])
    # ... the fix's entry is skipped with a warning: the build goes on.
    with caplog.at_level(logging.WARNING):
        phrasings = load_questions(corpus, documents)
    assert "Do you take HSA cards?" not in {p.text for p in phrasings} and phrasings
    assert "added from the console: skipped" in caplog.text


def _add_many(root: str, start: int) -> None:
    documents = load_corpus(Path(root))
    for i in range(start, start + 8):
        add_phrasings(Path(root), documents, COST if i % 2 else INSURANCE, [f"made-up question number {i}?"], f"fix {i}: added by writer")


def test_two_writers_at_once_both_land_and_the_file_always_loads(corpus):
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_add_many, args=(str(corpus), start)) for start in (0, 100)]
    for w in writers:
        w.start()
    for w in writers:
        w.join(120)
    assert [w.exitcode for w in writers] == [0, 0]
    texts = {p.text for p in load_questions(corpus, load_corpus(corpus))}
    assert {f"made-up question number {i}?" for i in [*range(8), *range(100, 108)]} <= texts


# --- the store: fixes, misses and the log export -------------------------------------------------


def _reply(kind: ReplyKind, sections=()) -> Reply:
    from bot.replies import Citation

    citations = tuple(Citation(s, "a", "corpus/x.md", "/source/x#a", "q", 0.5) for s in sections)
    return Reply("text", kind, citations)


def test_fixes_are_recorded_with_who_and_when_and_can_be_undone(tmp_path):
    store = Store(tmp_path / "log.sqlite3")
    fix_id = add_fix(store, "nurse", "answer", ["Do you take HSA cards?"], 3, section=COST)
    (fix,) = fixes(store)
    assert (fix.id, fix.staff, fix.action, fix.section, fix.phrasings, fix.asked, fix.active) == \
        (fix_id, "nurse", "answer", COST, ("Do you take HSA cards?",), 3, True)
    mark_undone(store, fix_id, "doctor")
    (fix,) = fixes(store)
    assert not fix.active and fix.undone_by == "doctor" and fixes(store, active_only=True) == []
    with pytest.raises(ValueError, match="action must be one of"):
        add_fix(store, "nurse", "delete everything", ["q"], 1)


def test_misses_hold_abstentions_and_crisis_replies_from_visitors(tmp_path):
    store = Store(tmp_path / "log.sqlite3")
    for channel, question, kind in [("widget", "Do you take HSA?", ReplyKind.ABSTENTION), ("api", "do you take hsa", ReplyKind.ABSTENTION),
                                    ("widget", "I want to end it all", ReplyKind.CRISIS), ("staff", "parking?", ReplyKind.ABSTENTION),
                                    ("widget", "how much?", ReplyKind.ANSWER)]:
        store.add(Exchange.of(channel, question, _reply(kind), 0.01))
    found = {m.key: m for m in misses(store)}
    assert set(found) == {"do you take hsa", "i want to end it all"}
    assert found["do you take hsa"].count == 2 and found["i want to end it all"].crisis == 1


def test_the_log_export_is_redacted_as_stored_with_ratings_and_since(tmp_path):
    store = Store(tmp_path / "log.sqlite3")
    old = datetime(2026, 1, 1, tzinfo=UTC)
    store.add(Exchange.of("widget", "an old question", _reply(ReplyKind.ANSWER), 0.01, at=old))
    from bot.store.redact import redact

    question = "I'm jane.doe@example.com, call me on 555-123-4567: what does it cost?"
    row = Exchange.of("widget", redact(question), _reply(ReplyKind.ANSWER, ["Cost"]), 0.01, id="a1")
    store.add(row)
    store.add_feedback("a1", -1, "wrong, mail me at jane.doe@example.com")
    rows = list(log_rows(store))
    assert len(rows) == 2 and rows[0]["message"] == "an old question"
    latest = rows[1]
    assert latest["outcome"] == "answered" and latest["cited_sections"] == "Cost" and latest["rating"] == -1
    text = json.dumps(rows)
    assert "jane.doe@example.com" not in text and "555-123-4567" not in text and "[email]" in text and "[phone]" in text
    assert [r["message"] for r in log_rows(store, since=old + timedelta(days=1))] == [latest["message"]]


TRICKY = """# Curated phrasings.

# ---- Billing (Dana) ----
- section: {cost}
  questions:
    - How much does
      it cost per session?
    - What is the price?
- section: {cost}
  questions:
    - >-
      A folded phrasing
# fix 5: added by nurse, 2026-11-30 10:00 UTC, from the staff console
- section: {cost}
  questions:
    - Do you take HSA cards?
- {{section: {insurance}, questions: [Flow one, Flow two]}}
"""


def test_removal_never_touches_a_neighbour_and_refuses_what_it_cannot_remove_cleanly(corpus):
    path = corpus / "questions.yaml"
    path.write_text(TRICKY.format(cost=COST, insurance=INSURANCE))
    documents = load_corpus(corpus)
    with pytest.raises(CorpusError, match="not written on a line of its own: remove it by hand"):
        remove_phrasings(corpus, documents, COST, ["How much does it cost per session?"])
    with pytest.raises(CorpusError, match="remove it by hand"):
        remove_phrasings(corpus, documents, INSURANCE, ["Flow one"])
    assert path.read_text() == TRICKY.format(cost=COST, insurance=INSURANCE)
    # The folded entry goes whole; the fix's comment and entry below it stay.
    remove_phrasings(corpus, documents, COST, ["A folded phrasing"])
    text = path.read_text()
    assert "A folded phrasing" not in text and "# fix 5: added by nurse" in text and "Do you take HSA cards?" in text
    assert "# ---- Billing (Dana) ----" in text and "it cost per session?" in text
    # A maintainer's line is kept when a fix that repeated it is undone.
    add_phrasings(corpus, documents, COST, ["Do you take FSA cards?", "What is the price?"], "fix 6: added by nurse")
    removed = remove_phrasings(corpus, documents, COST, ["Do you take FSA cards?", "What is the price?"], fix=6)
    assert removed.changed == ("Do you take FSA cards?",) and "    - What is the price?" in path.read_text()
    assert "fix 6" not in path.read_text()
    remove_phrasings(corpus, documents, COST, ["Do you take HSA cards?"], fix=5)
    assert "fix 5" not in path.read_text() and "# ---- Billing (Dana) ----" in path.read_text()
    assert load_questions(corpus, documents)


def test_a_file_with_windows_line_endings_keeps_them(corpus):
    path = corpus / "questions.yaml"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    add_phrasings(corpus, load_corpus(corpus), COST, ["Do you take HSA cards?"], "fix 1: added by nurse")
    data = path.read_bytes()
    assert b"Do you take HSA cards?\r\n" in data and data.count(b"\n") == data.count(b"\r\n")
