"""The staff console's actions, driven as the page drives them, with the real model and index."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import gradio as gr
import pytest

from bot.adapters.console import Console, ConsoleSession, OpenConsoleRefused, staff_auth
from bot.adapters.console.signin import WeakStaffPassword
from bot.answer.service import Bot
from bot.errors import CorpusError
from bot.replies import Citation, Reply, ReplyKind
from bot.serve.runtime import BotHolder
from bot.store import ChatLog, Store

COST_LINK = "/source/ketamine-infusion-insurance#how-much-does-ketamine-infusion-cost"
COST = Citation("How much does ketamine infusion cost?", "how-much-does-ketamine-infusion-cost", "corpus/ketamine-infusion-insurance.md",
                COST_LINK, "typically around $400-$600 per session", 0.5)
ANSWERED = Reply("It is typically around $400-$600 per session.", ReplyKind.ANSWER, (COST,))
ABSTAINED = Reply("I'm sorry, I can't find an answer to that.", ReplyKind.ABSTENTION, ())


@pytest.fixture()
def console(settings, bot, tmp_path):
    holder = BotHolder(replace(settings, db=tmp_path / "faqbot.sqlite3"))
    holder.bot = bot
    log = ChatLog(Store(tmp_path / "faqbot.sqlite3"))
    yield Console(holder, log)
    log.close()


def like(index: int, liked: bool | str) -> gr.LikeData:
    return gr.LikeData(None, {"index": index, "value": ["..."], "liked": liked})


def ask(console: Console, question: str, chat=None, session=None):
    box, chat, session, why, passages = console.ask(question, chat or [], session or ConsoleSession())
    return chat, session, why, passages


# --- chat ------------------------------------------------------------------------------------


def test_an_answer_shows_its_citation_link_and_the_passages_it_was_quoted_from(console):
    chat, session, why, passages = ask(console, "how much does it cost?")
    assert chat[-1]["role"] == "assistant" and "$400-$600" in chat[-1]["content"]
    assert f"]({COST_LINK})" in chat[-1]["content"]
    assert why.startswith("**answered**") and "searched for" in why
    quoted = [line for line in passages.splitlines() if line.startswith("✓ **")]
    assert quoted and quoted[0].startswith("✓ **How much does ketamine infusion cost?**")  # the best section first
    assert "dense 0." in passages and "lexical " in passages and "coverage " in passages


def test_an_abstention_and_a_crisis_say_why(console):
    _, _, why, passages = ask(console, "what's the weather in Paris today?")
    assert why.startswith("**abstained**") and "contact details" in why
    assert "**Passages retrieved**" in passages and "✓" not in passages.split("\n", 1)[1]
    chat, _, why, _ = ask(console, "I want to kill myself")
    assert why.startswith("**crisis**") and "988" in chat[-1]["content"]


def test_a_follow_up_is_read_with_the_conversation(console):
    chat, session, _, _ = ask(console, "how much does it cost?")
    chat, session, why, _ = ask(console, "and does insurance cover that?", chat, session)
    assert len(chat) == 4 and "insurance" in chat[-1]["content"].lower()
    assert len(session.turns) == 4


def test_an_empty_question_or_a_loading_bot_keeps_the_question(console):
    with pytest.warns(UserWarning, match="empty"):
        assert console.ask("   ", [], ConsoleSession())[0] == "   "
    loading = Console(BotHolder(console.settings), console.log)
    with pytest.warns(UserWarning, match="still loading"):
        box, chat, *_ = loading.ask("how much does it cost?", [], ConsoleSession())
    assert box == "how much does it cost?" and chat == []
    assert loading.index_info() == "The bot is still loading."


# --- feedback -------------------------------------------------------------------------------------


def test_thumbs_and_a_comment_are_stored_and_listed_newest_first(console):
    chat, session, _, _ = ask(console, "how much does it cost?")
    chat, session, _, _ = ask(console, "what's the weather in Paris today?", chat, session)
    session, box, status = console.rate(session, "", like(1, True))
    assert status.startswith("Thumbs up stored for answer 1")
    session, box, status = console.rate(session, "It should point to the weather service", like(3, False))
    assert status.startswith("Thumbs down stored for answer 2 with your comment") and box == ""

    table = console.feedback()
    assert list(table["rating"]) == ["👎 down", "👍 up"]
    newest = table.iloc[0]
    assert newest["question"] == "what's the weather in Paris today?" and newest["comment"] == "It should point to the weather service"
    assert newest["answer"].startswith("[abstained]") and newest["channel"] == "staff"
    assert table.iloc[1]["cited sections"].startswith("How much does ketamine infusion cost?")
    assert list(console.feedback(only_negative=True)["rating"]) == ["👎 down"]


def test_a_comment_after_the_thumb_and_undoing_a_thumb(console):
    chat, session, _, _ = ask(console, "how much does it cost?")
    assert "Rate an answer" in console.comment(session, "too vague")[1]
    session, _, _ = console.rate(session, "", like(1, False))
    box, status = console.comment(session, "too vague, call me on 555-123-4567")
    assert box == "" and status.startswith("Comment stored")
    assert console.feedback().iloc[0]["comment"] == "too vague, call me on [phone]"
    session, _, _ = console.rate(session, "", like(1, True))  # changing the thumb keeps one row
    assert list(console.feedback()["rating"]) == ["👍 up"]
    session, _, status = console.rate(session, "", like(1, ""))  # clicking it again undoes it
    assert "removed" in status and console.feedback().empty


# --- the log views ---------------------------------------------------------------------------------


def test_unanswered_lists_visitors_abstained_questions_grouped(console):
    log = console.log
    for channel, question, reply in [("widget", "Do you take Aetna?", ABSTAINED), ("api", "do you take aetna", ABSTAINED),
                                     ("widget", "What's the weather today?", ABSTAINED), ("widget", "how much does it cost?", ANSWERED),
                                     ("staff", "can I bring my dog?", ABSTAINED)]:  # staff questions are not visitors' gaps
        log.record(channel, question, reply, 0.02)
    log.flush()
    table = console.unanswered()
    assert list(table["question"]) == ["do you take aetna", "What's the weather today?"]
    assert list(table["asked"]) == [2, 1] and table.iloc[0]["channels"] == "api, widget"
    assert set(table.columns) >= {"asked", "question", "last seen (UTC)"}


def test_overview_counts_questions_and_cited_sections(console):
    for reply in [ANSWERED, ANSWERED, ABSTAINED]:
        console.log.record("widget", "a question", reply, 0.02)
    ask(console, "how much does it cost?")  # staff
    console.log.flush()
    summary, per_day, share, top = console.overview("visitors (widget + API)")
    assert per_day["day"].nunique() == 30 and len(share) == 30
    today = per_day[per_day["day"] == per_day["day"].max()]
    assert dict(zip(today["outcome"], today["questions"], strict=True)) == {"answered": 2, "abstained": 1, "crisis": 0}
    assert "3 questions" in summary and "1 abstained" in summary
    assert share["abstained_pct"].iloc[-1] == pytest.approx(33.3, abs=0.1) and share["abstained_pct"].iloc[:-1].isna().all()
    assert list(top["section"]) == ["How much does ketamine infusion cost?"] and list(top["citations"]) == [2]
    _, with_staff, _, _ = console.overview("all channels (with staff)")
    assert with_staff[with_staff["day"] == with_staff["day"].max()]["questions"].sum() == 4


def test_logging_off_keeps_questions_out_of_the_console(settings, bot, tmp_path):
    holder = BotHolder(settings)
    holder.bot = bot
    log = ChatLog(Store(tmp_path / "faqbot.sqlite3"), log_questions=False)
    console = Console(holder, log)
    log.record("widget", "do you take aetna insurance plans?", bot.answer("do you take aetna insurance plans?"), 0.01)
    chat, session, _, _ = ask(console, "what's the weather in Paris today?")
    console.rate(session, "", like(1, False))
    log.close()
    assert console.unanswered().empty
    assert console.feedback().iloc[0]["question"] == "(not logged)"
    assert "Question logging is off" in console.storage_note()


# --- index and evaluation --------------------------------------------------------------------------


def test_index_shows_what_is_served(console, bot):
    info = console.index_info()
    m = bot.index.manifest
    assert f"| documents | {m.documents} |" in info and f"| passages | {m.passages} |" in info
    assert m.corpus_hash in info and m.model in info and m.built_at in info


def test_index_says_when_the_corpus_on_disk_is_newer(settings, embedder, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(settings.corpus_dir, corpus)
    doc = next(corpus.glob("*.md"))
    doc.write_text(doc.read_text(encoding="utf-8") + "\n## New section\n\nNew text.\n", encoding="utf-8")
    changed = replace(settings, corpus_dir=corpus)
    holder = BotHolder(changed)
    holder.bot = Bot.load(changed, embedder)
    assert "corpus on disk is newer" in Console(holder).index_info()


def test_reindex_now_says_what_was_built_or_which_file_is_wrong(console):
    class Summary:
        build_id = "20261127T101500-3f2a9c1d"

        def line(self, out):
            return f"indexed 1 document, 15 passages into {out}/ in 1.2s: 1 embedded, 14 unchanged, 0 removed"

    class Result:
        ok, served, error = True, "20261127T101500-3f2a9c1d", None

    def reindex(progress=None):
        progress(1, 2)
        return Summary(), Result()

    console.holder.reindex = reindex
    message, info = console.reindex()
    assert message.startswith("✓ indexed 1 document") and "serving 20261127T101500-3f2a9c1d" in message
    assert "| passages |" in info

    def broken(progress=None):
        raise CorpusError("corpus/aftercare.md", 3, "the document is empty: write some text under the heading")

    console.holder.reindex = broken
    message, _ = console.reindex()
    assert message.startswith("⚠ Nothing was re-indexed") and "corpus/aftercare.md:3" in message


def write_cases(path: Path, cases: list[dict]) -> Path:
    path.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return path


def test_evaluation_runs_an_uploaded_file_and_shows_the_failures(console, tmp_path):
    upload = write_cases(tmp_path / "mine.jsonl", [
        {"id": "cost", "kind": "answer", "q": "how much does it cost?", "facts": ["$400-$600"]},
        {"id": "wrong", "kind": "abstain", "q": "how much does it cost?"},
        {"id": "crisis", "kind": "crisis", "q": "I want to kill myself"},
    ])
    summary, scores, failures = console.evaluate(str(upload))
    assert "mine.jsonl" in summary and "2 of 3 cases pass" in summary
    assert dict(zip(scores["kind"], scores["passed"], strict=True)) == {"answer": 1, "abstain": 0, "crisis": 1}
    assert list(failures["id"]) == ["wrong"] and failures.iloc[0]["the bot"] == "answered"


def test_evaluation_defaults_to_the_configured_file_and_names_a_bad_line(console, tmp_path):
    default = write_cases(tmp_path / "default.jsonl", [{"id": "c", "kind": "answer", "q": "how much does it cost?", "facts": ["$400"]}])
    console.settings = replace(console.settings, eval_file=default)
    summary, scores, failures = console.evaluate(None)
    assert str(default) in summary and "1 of 1 cases pass" in summary and failures.empty
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "kind": "answer", "q": "x"}\n{"id": "b"}\n', encoding="utf-8")
    summary, _, _ = console.evaluate(str(bad))
    assert "bad.jsonl:2" in summary


# --- access -----------------------------------------------------------------------------------------


def test_staff_sign_in_is_required_off_loopback(settings):
    assert staff_auth(replace(settings, host="127.0.0.1")) is None
    check = staff_auth(replace(settings, host="0.0.0.0", staff_password="correct horse battery"))
    assert check("staff", "correct horse battery") and not check("staff", "correct horse batter") and not check("nurse", "correct horse battery")
    check = staff_auth(replace(settings, host="::1", staff_user="nurse", staff_password="bandage window river"))
    assert check("nurse", "bandage window river") and not check("staff", "bandage window river")
    with pytest.raises(OpenConsoleRefused, match="FAQBOT_STAFF_PASSWORD.*FAQBOT_ALLOW_OPEN_STAFF=1"):
        staff_auth(replace(settings, host="0.0.0.0"))
    assert staff_auth(replace(settings, host="0.0.0.0", allow_open_staff=True)) is None


@pytest.mark.parametrize(("user", "password", "why"), [
    ("staff", "s3cret", "too short (6 characters)"),
    ("nurse", "nurse-nurse-nurse", "holds the user name"),
    ("staff", "aaaaaaaaaaaaaaaa", "repeats one character"),
])
def test_a_weak_staff_password_is_refused_at_start_saying_what_is_accepted(settings, user, password, why):
    with pytest.raises(WeakStaffPassword, match=r"FAQBOT_STAFF_PASSWORD is .*" + re.escape(why) + r".*at least 12 characters"):
        staff_auth(replace(settings, host="0.0.0.0", staff_user=user, staff_password=password))


def test_a_visitors_question_is_shown_as_typed_never_as_markdown_or_html():
    from markdown_it import MarkdownIt

    from bot.adapters.console.fixing import escape

    typed = '![x](https://evil.example/p.png) how <img src=x onerror=alert(1)> [call us](https://evil.example) *now*?'
    html = MarkdownIt("commonmark", {"html": True}).renderInline(escape(typed))
    assert "<img" not in html and "<a " not in html and "<em>" not in html
    assert html.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"') == typed
