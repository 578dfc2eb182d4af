"""The website chat widget (GET /widget.js, GET /demo) in a real browser against the real server.

Playwright drives Debian's Chromium (/usr/bin/chromium; ``apt-get install -y chromium``). One
server and one browser per module, a fresh browser context (so a fresh sessionStorage) per test.
Two small "clinic site" origins embed the widget cross-origin: one the server allows
(FAQBOT_ALLOWED_ORIGINS), one it does not.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from conftest import CORPUS, ROOT
from serving import Server

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} not found: install Debian's Chromium (apt-get install -y chromium) to run the widget browser tests", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
expect = sync_api.expect

WIDGET_JS = ROOT / "bot" / "adapters" / "static" / "widget.js"
DOCS = ROOT / "docs"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TITLE = "Questions about ketamine therapy?"
COST_ANCHOR = "#how-much-does-ketamine-infusion-cost"
DEFAULT_STARTERS = [
    "What is ketamine infusion?",
    "How does ketamine infusion work?",
    "How much does ketamine infusion cost?",
    "Is ketamine infusion covered by insurance?",
    "Are there any risks associated with ketamine infusion?",
]
# Vague, half-related questions: the bot is unsure of them, so it offers the closest sections.
# The first the running bot answers with suggestions is used (the thresholds are refit now and then).
UNSURE_QUESTIONS = [
    "Is there anything I should worry about?",
    "What about the money side?",
    "Anything to worry about?",
    "What happens during a session?",
    "What should I worry about?",
    "Are there alternatives?",
]
CONTACT = "If none of them answers your question: You can reach the clinic at info@ketamineinfusioncenters.com or 888-526-8638."


# --- servers -------------------------------------------------------------------------------


def host_page(bot: str, widget: bool = True, attrs: str = f'data-title="{TITLE}"') -> str:
    """A plain clinic page on another origin, without any CSS of its own."""
    tag = f'<script src="{bot}/widget.js" defer {attrs}></script>' if widget else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><title>Another clinic site</title></head>"
        "<body><h1>Another clinic site</h1><p>Some text about the clinic.</p><div>A div</div>"
        "<button type='button'>A host button</button> <input aria-label='Host field'> <a href='#'>A host link</a>"
        f"{tag}</body></html>"
    )


class HostSite:
    """A tiny http.server in a thread serving the host pages on its own origin."""

    def __init__(self, bot: str) -> None:
        pages = {
            "/plain": host_page(bot),
            "/bare": host_page(bot, widget=False),
            "/options": host_page(bot, attrs=(
                'data-title="Ask Harbor Clinic" data-greeting="Hello from Harbor!" data-accent="#ffd400" '
                'data-position="left" data-starters="How much does ketamine infusion cost?| Is it covered by insurance? "'
            )),
        }

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write((body or "not found").encode())

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def sites(settings, tmp_path_factory):
    """The real server (app.py) plus an allowed and a refused host-page origin."""
    tmp = tmp_path_factory.mktemp("widget-server")
    server = Server({"FAQBOT_INDEX_DIR": str(settings.index_dir), "FAQBOT_CORPUS_DIR": str(CORPUS),
                     "FAQBOT_DB": str(tmp / "faqbot.sqlite3")}, tmp / "server.log")
    allowed, refused = HostSite(server.base), HostSite(server.base)
    server.env["FAQBOT_ALLOWED_ORIGINS"] = allowed.origin
    try:
        server.start(timeout=90)
        yield {"bot": server.base, "allowed": allowed.origin, "refused": refused.origin}
    finally:
        server.stop()
        allowed.close()
        refused.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield b
        b.close()


class Page:
    """A fresh context and page, recording what a visitor's browser did."""

    def __init__(self, browser, viewport: dict, scale: float = 1) -> None:
        self.context = browser.new_context(viewport=viewport, device_scale_factor=scale)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.chat_bodies: list[dict] = []
        self.requests: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", self._request)

    def _request(self, request) -> None:
        self.requests.append(request.url)
        if request.method == "POST" and request.url.endswith("/api/chat"):
            self.chat_bodies.append(request.post_data_json)


@pytest.fixture()
def make_page(browser):
    made: list[Page] = []

    def make(viewport: dict = DESKTOP, scale: float = 1) -> Page:
        made.append(Page(browser, viewport, scale))
        return made[-1]

    yield make
    for p in made:
        p.context.close()
    for p in made:
        assert not p.errors, f"JavaScript errors on the page: {p.errors}"


@pytest.fixture()
def visitor(make_page) -> Page:
    return make_page()


@pytest.fixture(scope="module")
def unsure(sites) -> dict:
    """The first of UNSURE_QUESTIONS that the server's API answers with suggestions, with that
    reply; ``{"tried": {question: kind}}`` when none does."""
    tried = {}
    for question in UNSURE_QUESTIONS:
        reply = httpx.post(f"{sites['bot']}/api/chat", json={"message": question}, timeout=60).raise_for_status().json()
        if reply["kind"] == "suggestions" and len(reply["suggestions"]) >= 2:
            return {"question": question, "reply": reply}
        tried[question] = reply["kind"]
    return {"tried": tried}


# --- helpers -------------------------------------------------------------------------------


def launcher(page):
    return page.get_by_role("button", name=re.compile("chat", re.I)).and_(page.locator("faq-chat-widget .launcher"))


def question_box(page):
    return page.get_by_role("textbox", name=re.compile("question", re.I))


def log(page):
    return page.get_by_role("log")


def answers(page):
    """The bot's messages in the log (the greeting first), not error notices."""
    return log(page).locator(".row.bot:not(.error)")


def open_chat(page) -> None:
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")
    launcher(page).click()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(question_box(page)).to_be_focused()


def ask(page, question: str):
    """Type a question, press Enter and return the bot's answer row once it arrives."""
    before = answers(page).count()
    question_box(page).fill(question)
    question_box(page).press("Enter")
    expect(answers(page)).to_have_count(before + 1, timeout=60_000)  # generous: CI machines are shared
    return answers(page).last


def unsure_question(unsure: dict) -> tuple[str, dict]:
    if "question" not in unsure:
        pytest.fail(f"the bot offered suggestions for none of UNSURE_QUESTIONS (got {unsure['tried']}): either the "
                    "answerability model (models/retrieval/answerability.json) has no suggestions band below its "
                    "threshold any more, or these questions moved out of it; add a vaguer one that gets kind 'suggestions'")
    return unsure["question"], unsure["reply"]


def offer_sections(page, bot: str) -> tuple[object, dict]:
    """Ask "How much does it cost?" with the server's reply turned into suggestions: a section
    that does not exist (its heading and preview in markup) and the real section of its
    citation. Later requests reach the server. Returns the reply's row and the citation."""
    real: dict = {}

    def handle(route):
        if real:
            route.continue_()
            return
        real.update(route.fetch().json()["citations"][0])
        gone = {"section": "<img src=x onerror=alert(1)> Opening hours", "anchor": "opening-hours", "source": real["source"],
                "url": "/source/x#opening-hours", "preview": "<b>Monday</b> to Friday"}
        offered = {k: real[k] for k in ("section", "anchor", "source", "url")} | {"preview": real["quote"]}
        lines = [f"- {s['section']}: {s['preview']}" for s in (gone, offered)]
        route.fulfill(status=200, content_type="application/json", body=json.dumps({
            "answer": "\n".join(["I'm not sure I have the exact answer. These parts of the clinic's pages come closest:", *lines]) + "\n\n" + CONTACT,
            "kind": "suggestions", "abstained": True, "crisis": False, "citations": [], "suggestions": [gone, offered]}))

    page.route(f"{bot}/api/chat", handle)
    row = ask(page, "How much does it cost?")
    return row, real


def axe_violations(page) -> list:
    """axe-core's violations inside the widget (its Shadow DOM included)."""
    axe = pytest.importorskip("axe_playwright_python.base", reason="axe-core comes with the axe-playwright-python package (requirements-dev.txt)")
    page.evaluate(axe.AXE_SCRIPT)
    result = page.evaluate("axe.run({include: [['faq-chat-widget']]}, {resultTypes: ['violations']})")
    return [(v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in result["violations"]]


def shadow_eval(page, script: str):
    """Evaluate ``script`` (a function of the widget's shadow root) in the page."""
    return page.evaluate(f"(() => {{ const root = document.querySelector('faq-chat-widget').shadowRoot; return ({script})(root); }})()")


def contrast(fg: str, bg: str) -> float:
    def lum(color: str) -> float:
        values = [int(x) for x in re.findall(r"\d+", color)[:3]] if color.startswith("rgb") else [int(color.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)]
        chans = [v / 255 for v in values]
        chans = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in chans]
        return 0.2126 * chans[0] + 0.7152 * chans[1] + 0.0722 * chans[2]

    a, b = sorted((lum(fg), lum(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


STYLE_PROBE = """root => {
  const props = ['font-family','font-size','font-weight','line-height','letter-spacing','text-transform','color',
    'background-color','border-top-width','border-top-style','border-top-color','border-radius','padding-top',
    'padding-left','margin-top','width','height','box-shadow','text-align','box-sizing'];
  const out = {};
  for (const sel of ['.launcher','.panel','header','h2','.log','.row.bot .msg','.starters button','input','.send','.note','.icon']) {
    const el = root.querySelector(sel);
    const cs = getComputedStyle(el);
    out[sel] = Object.fromEntries(props.map(p => [p, cs.getPropertyValue(p)]));
  }
  return out;
}"""

HOST_PROBE = """() => {
  const props = ['font-family','font-size','color','background-color','border-top-width','padding-top','margin-top','line-height','box-sizing','display'];
  const out = {};
  for (const sel of ['body','h1','p','div','button','input','a']) {
    const cs = getComputedStyle(document.querySelector(sel));
    out[sel] = Object.fromEntries(props.map(p => [p, cs.getPropertyValue(p)]));
  }
  return out;
}"""


# --- tests ---------------------------------------------------------------------------------


def test_demo_answers_with_a_citation_that_opens_the_section_and_follow_ups_send_history(sites, visitor):
    page, bot = visitor.page, sites["bot"]
    page.goto(f"{bot}/demo")
    expect(page.get_by_role("heading", name=TITLE)).to_be_hidden()
    open_chat(page)
    expect(page.get_by_role("heading", name=TITLE)).to_be_visible()

    answer = ask(page, "How much does it cost?")
    expect(answer).to_contain_text("$400-$600")
    link = log(page).locator(f"a[href$='{COST_ANCHOR}']")
    expect(link).to_have_count(1)
    expect(link).to_be_visible()
    expect(link).to_have_attribute("href", f"{bot}/source/ketamine-infusion-insurance{COST_ANCHOR}")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    expect(link).to_contain_text("How much does ketamine infusion cost?")
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "widget-desktop.png"))

    with visitor.context.expect_page() as opened:
        link.click()
    source = opened.value
    source.wait_for_load_state()
    assert source.url.endswith(COST_ANCHOR)
    expect(source.locator(COST_ANCHOR)).to_have_text("How much does ketamine infusion cost?")
    source.close()

    first_answer = answer.locator(".msg").inner_text()
    follow_up = ask(page, "and does insurance cover it?")
    expect(follow_up).to_contain_text(re.compile("insurance", re.I))
    expect(follow_up.locator("a[href*='#is-ketamine-infusion-covered-by-insurance']")).to_have_count(1)
    sent = visitor.chat_bodies[-1]
    assert sent["message"] == "and does insurance cover it?"
    assert [t["role"] for t in sent["history"]] == ["user", "assistant"]
    assert sent["history"][0]["content"] == "How much does it cost?"
    assert "$400-$600" in sent["history"][1]["content"]
    assert "$400-$600" in first_answer
    # Nothing but the clinic's own server was contacted: no third-party requests.
    assert all(u.startswith(bot) for u in visitor.requests), visitor.requests


def test_markup_in_a_question_or_an_answer_is_shown_as_text_and_runs_nothing(sites, visitor):
    page, bot = visitor.page, sites["bot"]
    page.goto(f"{bot}/demo")
    open_chat(page)
    xss = "<img src=x onerror=alert(1)>"
    answer = ask(page, xss)
    expect(log(page).locator(".row.user").last).to_have_text(re.compile(re.escape(xss)))
    # The bot abstains, with the clinic's contact details as links.
    expect(answer).to_contain_text("info@ketamineinfusioncenters.com")
    expect(answer.locator("a[href='mailto:info@ketamineinfusioncenters.com']")).to_have_count(1)
    expect(answer.locator("a[href^='tel:']")).to_have_count(1)

    # A hostile answer from the server: markup shown literally, unsafe link dropped.
    page.route(f"{bot}/api/chat", lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps({
        "answer": "<b>bold</b><img src=y onerror=alert(2)><script>alert(3)</script>", "abstained": False, "crisis": False,
        "citations": [{"section": "<i>x</i>", "url": "javascript:alert(4)", "anchor": "", "source": "", "quote": "", "score": 1},
                      {"section": "<svg onload=alert(5)>", "url": "/source/x#y", "anchor": "y", "source": "", "quote": "", "score": 1}],
    })))
    hostile = ask(page, "hostile?")
    expect(hostile).to_contain_text("<b>bold</b><img src=y onerror=alert(2)>")
    expect(hostile.locator("a[href$='/source/x#y']")).to_have_text(re.compile(re.escape("<svg onload=alert(5)>")))
    page.wait_for_timeout(300)
    counts = shadow_eval(page, "r => ({img: r.querySelectorAll('img').length, b: r.querySelectorAll('[role=log] b, [role=log] i, script, [onerror], [onload]').length,"
                               " js: [...r.querySelectorAll('a')].filter(a => a.href.startsWith('javascript')).length})")
    assert counts == {"img": 0, "b": 0, "js": 0}
    assert page.locator("img").count() == 0
    assert visitor.dialogs == []


def test_starter_questions_show_on_open_and_clicking_one_asks_it(sites, visitor):
    page = visitor.page
    page.goto(f"{sites['bot']}/demo")
    open_chat(page)
    starters = page.get_by_role("group", name="Suggested questions").get_by_role("button")
    expect(starters).to_have_text(DEFAULT_STARTERS)
    starters.nth(2).click()
    expect(log(page).locator(".row.user p")).to_have_text(["How much does ketamine infusion cost?"])
    expect(answers(page)).to_have_count(2, timeout=30_000)
    expect(answers(page).last).to_contain_text("$400-$600")
    expect(page.get_by_role("group", name="Suggested questions")).to_be_hidden()


def test_conversation_survives_navigation_and_keeps_its_history(sites, visitor):
    page, bot = visitor.page, sites["bot"]
    page.goto(f"{bot}/demo")
    open_chat(page)
    ask(page, "How much does it cost?")
    page.goto(f"{bot}/demo?page=2")
    # The panel is still open, with the conversation and its citation.
    expect(launcher(page)).to_have_attribute("aria-expanded", "true")
    expect(log(page).locator(".row.user p")).to_have_text(["How much does it cost?"])
    expect(answers(page).last).to_contain_text("$400-$600")
    expect(log(page).locator(f"a[href$='{COST_ANCHOR}']")).to_have_count(1)
    page.reload()
    expect(answers(page).last).to_contain_text("$400-$600")
    follow_up = ask(page, "and does insurance cover it?")
    expect(follow_up).to_contain_text(re.compile("insurance", re.I))
    assert visitor.chat_bodies[-1]["history"][0] == {"role": "user", "content": "How much does it cost?"}
    # Closing is remembered too; "Start a new chat" clears the conversation.
    page.get_by_role("button", name="Close chat").first.click()
    page.reload()
    expect(launcher(page)).to_have_attribute("aria-expanded", "false")
    launcher(page).click()
    page.get_by_role("button", name="Start a new chat").click()
    expect(log(page).locator(".row.user")).to_have_count(0)
    expect(page.get_by_role("group", name="Suggested questions")).to_be_visible()


def test_host_css_does_not_change_the_widget_and_the_widget_css_does_not_leak(sites, make_page):
    def widget_styles(url: str) -> dict:
        p = make_page().page
        p.goto(url)
        open_chat(p)
        return shadow_eval(p, STYLE_PROBE)

    on_demo = widget_styles(f"{sites['bot']}/demo")
    on_plain = widget_styles(f"{sites['allowed']}/plain")
    assert on_demo == on_plain
    assert "serif" not in on_demo["h2"]["font-family"].replace("sans-serif", "")
    assert on_demo[".row.bot .msg"]["color"] == "rgb(31, 35, 40)"

    def host_styles(url: str) -> dict:
        p = make_page().page
        p.goto(url)
        p.wait_for_load_state("load")
        return p.evaluate(HOST_PROBE)

    with_widget = host_styles(f"{sites['allowed']}/plain")
    without = host_styles(f"{sites['allowed']}/bare")
    assert with_widget == without


def test_an_allowed_origin_can_embed_the_widget(sites, visitor):
    page, bot = visitor.page, sites["bot"]
    page.goto(f"{sites['allowed']}/plain")
    open_chat(page)
    expect(answers(page).first).to_contain_text("ketamine")
    answer = ask(page, "How much does it cost?")
    expect(answer).to_contain_text("$400-$600")
    # The citation is resolved against the API base, not the host page.
    expect(answer.locator(f"a[href$='{COST_ANCHOR}']")).to_have_attribute("href", f"{bot}/source/ketamine-infusion-insurance{COST_ANCHOR}")


def test_a_refused_origin_shows_a_retryable_error(sites, visitor):
    page = visitor.page
    page.goto(f"{sites['refused']}/plain")
    open_chat(page)
    question_box(page).fill("How much does it cost?")
    question_box(page).press("Enter")
    error = log(page).locator(".row.error")
    expect(error).to_contain_text("couldn't reach", timeout=15_000)
    retry = error.get_by_role("button", name="Retry")
    expect(retry).to_be_visible()
    sent = len(visitor.chat_bodies)
    retry.click()
    expect(error).to_have_count(1, timeout=15_000)
    expect(error.get_by_role("button", name="Retry")).to_be_visible()
    assert len(visitor.chat_bodies) > sent  # Retry really resent the question
    expect(log(page).locator(".row.user")).to_have_count(1)
    expect(answers(page)).to_have_count(1)  # only the greeting


def test_typing_indicator_then_429_503_and_network_errors_are_retryable(sites, visitor):
    page, bot = visitor.page, sites["bot"]
    page.goto(f"{bot}/demo")
    open_chat(page)
    held, plan = [], ["hold", "429", "503", "abort"]

    def handle(route):
        step = plan.pop(0) if plan else "pass"
        if step == "hold":
            held.append(route)
        elif step == "429":
            route.fulfill(status=429, headers={"Retry-After": "3"}, content_type="application/json",
                          body='{"error":{"code":"rate_limited","message":"too many requests"}}')
        elif step == "503":
            route.fulfill(status=503, content_type="application/json", body='{"error":{"code":"not_ready","message":"starting"}}')
        elif step == "abort":
            route.abort()
        else:
            route.continue_()

    page.route(f"{bot}/api/chat", handle)
    question_box(page).fill("How much does it cost?")
    question_box(page).press("Enter")
    typing = page.get_by_role("status")
    expect(typing).to_be_visible()
    expect(typing).to_contain_text("typing")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the chat request was not sent"
    held[0].continue_()
    expect(answers(page).last).to_contain_text("$400-$600", timeout=30_000)
    expect(typing).to_be_hidden()

    question_box(page).fill("Is ketamine infusion covered by insurance?")
    question_box(page).press("Enter")
    error = log(page).locator(".row.error")
    expect(error).to_contain_text("wait 3 seconds")
    error.get_by_role("button", name="Retry").click()
    expect(error).to_contain_text("starting up")
    error.get_by_role("button", name="Retry").click()
    expect(error).to_contain_text("couldn't reach")
    error.get_by_role("button", name="Retry").click()
    expect(answers(page).last).to_contain_text(re.compile("insurance", re.I), timeout=30_000)
    expect(error).to_have_count(0)
    expect(log(page).locator(".row.user")).to_have_count(2)


def test_crisis_answers_stand_out_as_an_alert(sites, visitor):
    page = visitor.page
    page.goto(f"{sites['bot']}/demo")
    open_chat(page)
    ask(page, "I want to kill myself")
    alert = log(page).get_by_role("alert")
    expect(alert).to_contain_text("988")
    expect(alert.locator("a[href='tel:988']").first).to_be_visible()
    box = alert.locator(".msg")
    expect(box).to_have_css("border-top-color", "rgb(179, 38, 30)")
    expect(box).to_have_css("border-top-width", "2px")


def test_phone_viewport_gets_a_full_screen_panel(sites, make_page):
    visitor = make_page(PHONE, scale=2)
    page = visitor.page
    page.goto(f"{sites['bot']}/demo")
    open_chat(page)
    box = page.get_by_role("dialog").bounding_box()
    assert box == {"x": 0, "y": 0, "width": PHONE["width"], "height": PHONE["height"]}
    ask(page, "Is ketamine infusion covered by insurance?")
    page.screenshot(path=str(DOCS / "widget-phone.png"))
    page.get_by_role("button", name="Close chat").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(launcher(page)).to_be_focused()


def test_keyboard_only_visitor(sites, visitor):
    page = visitor.page
    page.goto(f"{sites['bot']}/demo")
    for _ in range(30):
        page.keyboard.press("Tab")
        if shadow_eval(page, "r => r.activeElement && r.activeElement.classList.contains('launcher')"):
            break
    else:
        pytest.fail("the launcher cannot be reached with Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(question_box(page)).to_be_focused()
    page.keyboard.type("How much does it cost?")
    page.keyboard.press("Enter")
    expect(answers(page)).to_have_count(2, timeout=30_000)
    expect(answers(page).last).to_contain_text("$400-$600")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(launcher(page)).to_be_focused()
    assert shadow_eval(page, "r => document.activeElement === r.host && r.activeElement === r.querySelector('.launcher')")


def test_accessible_names_roles_and_contrast(sites, visitor):
    page = visitor.page
    page.goto(f"{sites['bot']}/demo")
    expect(page.get_by_role("button", name=re.compile("chat", re.I))).to_have_count(1)  # only the launcher while closed
    open_chat(page)
    expect(question_box(page)).to_have_count(1)
    expect(log(page)).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("button", name=re.compile("send", re.I))).to_be_visible()
    expect(page.get_by_text("not medical advice")).to_be_visible()
    expect(page.get_by_text(re.compile("call 911"))).to_be_visible()
    ask(page, "How much does it cost?")
    expect(log(page).get_by_role("link", name=re.compile("How much does ketamine infusion cost"))).to_have_count(1)

    default_accent = re.search(r'var ACCENT = "(#[0-9a-fA-F]{6})"', WIDGET_JS.read_text()).group(1)
    assert contrast(default_accent, "#ffffff") >= 4.5
    colors = shadow_eval(page, """r => ['.launcher', '.send', '.row.user .msg', 'header'].map(s => {
        const cs = getComputedStyle(r.querySelector(s)); return [cs.color, cs.backgroundColor]; })""")
    for fg, bg in colors:
        assert contrast(fg, bg) >= 4.5, (fg, bg)


def test_data_options_title_greeting_starters_position_and_a_light_accent(sites, visitor):
    page = visitor.page
    page.goto(f"{sites['allowed']}/options")
    expect(launcher(page)).to_be_visible()
    assert launcher(page).bounding_box()["x"] < 100  # data-position="left"
    open_chat(page)
    expect(page.get_by_role("heading", name="Ask Harbor Clinic")).to_be_visible()
    expect(answers(page).first).to_have_text(re.compile("Hello from Harbor!"))
    starters = page.get_by_role("group", name="Suggested questions").get_by_role("button")
    expect(starters).to_have_text(["How much does ketamine infusion cost?", "Is it covered by insurance?"])
    # A light accent gets dark text so it keeps AA contrast.
    fg, bg = shadow_eval(page, "r => { const cs = getComputedStyle(r.querySelector('.launcher')); return [cs.color, cs.backgroundColor]; }")
    assert bg == "rgb(255, 212, 0)" and contrast(fg, bg) >= 4.5


def test_widget_is_small_and_self_contained():
    source = WIDGET_JS.read_bytes()
    assert len(gzip.compress(source, 9)) < 8000
    # No third-party resources: the only absolute URLs are the SVG namespace and the embed example.
    assert set(re.findall(rb"https?://[^\s\"'<>]+", source)) <= {b"http://www.w3.org/2000/svg", b"https://faq.example-clinic.com/widget.js"}
    assert b"innerHTML" not in source and b"insertAdjacentHTML" not in source


def test_an_unsure_reply_offers_sections_as_buttons_and_picking_one_answers_from_it(sites, visitor, unsure):
    question, reply = unsure_question(unsure)
    page, bot = visitor.page, sites["bot"]
    page.goto(f"{bot}/demo")
    open_chat(page)
    row = ask(page, question)
    # The offer's first line, a button per section (heading and preview), then the contacts as links.
    expect(row.locator(".msg > p")).to_have_text([reply["answer"].split("\n")[0], reply["answer"].split("\n\n")[-1]])
    expect(row.locator("a[href='mailto:info@ketamineinfusioncenters.com']")).to_have_count(1)
    picks = row.get_by_role("group", name="Closest sections").get_by_role("button")
    offered = reply["suggestions"]
    expect(picks).to_have_count(len(offered))
    for button, s in zip(picks.all(), offered, strict=True):
        expect(button).to_have_accessible_name(re.compile(rf"^{re.escape(s['section'])}:? {re.escape(s['preview'])}$"))
        expect(button.locator("b")).to_have_text(s["section"])
    heading, preview = (shadow_eval(page, f"r => parseFloat(getComputedStyle(r.querySelector('.picks {sel}')).fontSize)") for sel in ("b", "small"))
    assert heading > preview

    # Keyboard: back from the question box, past the contact links, to the buttons; Enter picks one.
    expect(question_box(page)).to_be_focused()
    focused = "r => [...r.querySelectorAll('.picks button')].indexOf(r.activeElement)"
    for _ in range(4):
        page.keyboard.press("Shift+Tab")
        if shadow_eval(page, focused) >= 0:
            break
    assert shadow_eval(page, focused) == len(offered) - 1, shadow_eval(page, "r => r.activeElement && r.activeElement.outerHTML")
    page.keyboard.press("Shift+Tab")
    assert shadow_eval(page, focused) == len(offered) - 2
    chosen = offered[-2]
    page.keyboard.press("Enter")
    expect(log(page).locator(".row.user p")).to_have_text([question, chosen["section"]])
    expect(answers(page)).to_have_count(3, timeout=60_000)
    answer = answers(page).last
    expect(answer.locator(f"a[href='{bot}{chosen['url']}']")).to_have_count(1)
    expect(answer.get_by_role("button")).to_have_count(0)
    assert visitor.chat_bodies[-1] == {"message": question, "section": f"{chosen['source']}#{chosen['anchor']}", "history": []}

    # After navigating, the buttons still work, and still send the question's own history.
    page.goto(f"{bot}/demo?page=2")
    expect(log(page).get_by_role("group", name="Closest sections").get_by_role("button")).to_have_count(len(offered))
    log(page).get_by_role("group", name="Closest sections").get_by_role("button").first.click()
    expect(answers(page)).to_have_count(4, timeout=60_000)
    expect(answers(page).last.locator(f"a[href='{bot}{offered[0]['url']}']")).to_have_count(1)
    assert visitor.chat_bodies[-1] == {"message": question, "section": f"{offered[0]['source']}#{offered[0]['anchor']}", "history": []}
    expect(question_box(page)).to_be_focused()
    ask(page, "and how much does it cost?")
    assert [t["content"] for t in visitor.chat_bodies[-1]["history"] if t["role"] == "user"] == [question, chosen["section"], offered[0]["section"]]


def test_suggestions_on_a_phone_show_markup_as_text_and_a_failed_pick_can_be_retried(sites, make_page):
    visitor = make_page(PHONE, scale=2)
    page, bot = visitor.page, sites["bot"]
    page.goto(f"{bot}/demo")
    open_chat(page)
    row, real = offer_sections(page, bot)
    picks = row.get_by_role("button")
    expect(picks).to_have_count(2)
    expect(picks.first).to_have_accessible_name(re.compile(r"^<img src=x onerror=alert\(1\)> Opening hours: <b>Monday</b> to Friday$"))
    for button in picks.all():
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["height"] >= 44, box
    assert shadow_eval(page, "r => r.querySelectorAll('img, [onerror], .picks small *').length") == 0
    expect(row.locator("a[href^='tel:']")).to_have_count(1)

    # A section the pages no longer have: said plainly, nothing to retry.
    picks.first.click()
    error = log(page).locator(".row.error")
    expect(error).to_contain_text("That section has changed", timeout=30_000)
    expect(error.get_by_role("button")).to_have_count(0)

    # Rate-limited, then retried: the same pick is sent again and answered from its section.
    limited = []

    def limit_once(route):
        if limited:
            route.fallback()
        else:
            limited.append(1)
            route.fulfill(status=429, headers={"Retry-After": "2"}, content_type="application/json",
                          body='{"error":{"code":"rate_limited","message":"too many requests"}}')

    page.route(f"{bot}/api/chat", limit_once)
    picks.last.click()
    expect(error).to_contain_text("wait 2 seconds")
    error.get_by_role("button", name="Retry").click()
    expect(answers(page).last).to_contain_text("$400-$600", timeout=60_000)
    expect(answers(page).last.locator(f"a[href='{bot}{real['url']}']")).to_be_visible()
    expect(error).to_have_count(0)
    pick = {"message": "How much does it cost?", "section": f"{real['source']}#{real['anchor']}", "history": []}
    assert visitor.chat_bodies[-2:] == [pick, pick]
    expect(log(page).locator(".row.user p")).to_have_text(["How much does it cost?", "<img src=x onerror=alert(1)> Opening hours", real["section"]])
    assert visitor.dialogs == []


def test_suggestion_buttons_pass_axe_on_desktop_and_phone(sites, make_page):
    for viewport in (DESKTOP, PHONE):
        page = make_page(viewport).page
        page.goto(f"{sites['bot']}/demo")
        open_chat(page)
        offer_sections(page, sites["bot"])
        assert axe_violations(page) == [], viewport
