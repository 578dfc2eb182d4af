"""A staff member closes a content gap in a real browser (Chromium) against a real server:
a visitor's question abstains in the widget, its group shows in Unanswered, staff answer it
with the cost section, the widget now answers with the cost sentence and its citation, and
undoing the fix in Changes makes the widget abstain again."""

from __future__ import annotations

import os
import re
import shutil

import pytest
from conftest import CORPUS
from serving import Server

from bot.search.reindex import reindex
from bot.settings import Settings

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} not found: install Debian's Chromium (apt-get install -y chromium) to run the browser tests", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
expect = sync_api.expect

LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
USER, PASSWORD = "nurse", "correct horse battery"
QUESTION = "Do you take HSA cards?"  # a clinic-specific term the article lacks
COST_SECTION = "How much does ketamine infusion cost?"


@pytest.fixture(scope="module")
def clinic_server(tmp_path_factory, embedder):
    """A server on a corpus of its own (fixes write to it), with a staff sign-in."""
    tmp = tmp_path_factory.mktemp("fixing")
    shutil.copytree(CORPUS, tmp / "corpus")
    reindex(Settings(corpus_dir=tmp / "corpus", index_dir=tmp / "index"), embedder)
    server = Server({
        "FAQBOT_INDEX_DIR": str(tmp / "index"), "FAQBOT_CORPUS_DIR": str(tmp / "corpus"), "FAQBOT_DB": str(tmp / "faqbot.sqlite3"),
        "FAQBOT_STAFF_USER": USER, "FAQBOT_STAFF_PASSWORD": PASSWORD,
    }, tmp / "server.log").start()
    yield server, tmp / "corpus"
    server.stop()


def widget_ask(page, question: str):
    """Ask in the widget on /demo; the bot's answer row."""
    answers = page.get_by_role("log").locator(".row.bot:not(.error)")
    before = answers.count()
    box = page.get_by_role("textbox", name=re.compile("question", re.I))
    box.fill(question)
    box.press("Enter")
    expect(answers).to_have_count(before + 1, timeout=60_000)
    return answers.last


def choose(page, label: str, option: str | re.Pattern) -> None:
    """Pick ``option`` in the Gradio dropdown labelled ``label``."""
    page.get_by_label(label).click()
    page.get_by_role("option", name=option).first.click()


def test_staff_fix_a_gap_in_the_console_and_undo_it(clinic_server):
    server, corpus = clinic_server
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        console = browser.new_page(viewport={"width": 1400, "height": 1100})
        visitor = browser.new_page(viewport={"width": 1280, "height": 800})

        # 1. sign in
        console.goto(server.base)
        console.get_by_label("username").fill(USER)
        console.get_by_label("password").fill(PASSWORD)
        console.get_by_role("button", name="Login").click()
        expect(console.get_by_role("tab", name="Unanswered")).to_be_visible(timeout=30_000)

        # 2. a visitor's question abstains, and its group shows in Unanswered
        visitor.goto(f"{server.base}/demo")
        visitor.get_by_role("button", name=re.compile("chat", re.I)).first.click()
        first = widget_ask(visitor, QUESTION)
        expect(first).to_contain_text("can't find an answer")
        console.get_by_role("tab", name="Unanswered").click()
        table = console.get_by_label("Unanswered, grouped")
        expect(table).to_contain_text(QUESTION, timeout=20_000)

        # 3. answer it with the cost section: preview first, then save
        choose(console, "Group to fix", re.compile(re.escape(QUESTION)))
        choose(console, "Section that answers it (✓ = visitors keep picking it, ★ = suggested)", re.compile(re.escape(COST_SECTION)))
        console.get_by_role("button", name="Preview the reply").click()
        expect(console.get_by_text("$400-$600 per session").first).to_be_visible(timeout=30_000)
        console.get_by_role("button", name="Answer with this section").click()
        expect(console.get_by_text(re.compile(r"✓ Fix \d+ saved"))).to_be_visible(timeout=120_000)
        assert "# fix 1: added by nurse" in (corpus / "questions.yaml").read_text()
        expect(console.get_by_label("Fixed")).to_contain_text(QUESTION, timeout=20_000)

        # 4. the widget answers with the cost sentence and its citation
        visitor.reload()
        visitor.get_by_role("button", name=re.compile("chat", re.I)).first.click()
        answer = widget_ask(visitor, QUESTION)
        expect(answer).to_contain_text("$400-$600 per session")
        expect(answer.get_by_role("link", name=re.compile(re.escape(COST_SECTION)))).to_be_visible()

        # 5. undo in Changes: the widget abstains again
        console.get_by_role("tab", name="Changes").click()
        expect(console.get_by_label("Changes")).to_contain_text("nurse", timeout=20_000)
        choose(console, "Fix to undo", re.compile(r"fix 1: answered with a section"))
        console.get_by_role("button", name="Undo fix").click()
        expect(console.get_by_text(re.compile(r"✓ Fix 1 undone"))).to_be_visible(timeout=120_000)
        assert "HSA" not in (corpus / "questions.yaml").read_text()
        visitor.reload()
        visitor.get_by_role("button", name=re.compile("chat", re.I)).first.click()
        expect(widget_ask(visitor, QUESTION)).to_contain_text("can't find an answer")
        browser.close()
