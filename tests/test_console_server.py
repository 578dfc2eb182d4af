"""The console in a running server (app.py) with a staff password: sign-in, the public
routes, and the console's endpoints through gradio_client and a real browser."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx
import pytest
from conftest import CORPUS, ROOT
from gradio_client import Client
from serving import Server

USER, PASSWORD = "nurse", "correct horse battery"
ORIGIN = "http://clinic.example"
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def staff_server(settings, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("staff")
    server = Server({
        "FAQBOT_INDEX_DIR": str(settings.index_dir), "FAQBOT_CORPUS_DIR": str(CORPUS), "FAQBOT_DB": str(tmp / "faqbot.sqlite3"),
        "FAQBOT_STAFF_USER": USER, "FAQBOT_STAFF_PASSWORD": PASSWORD, "FAQBOT_ALLOWED_ORIGINS": ORIGIN,
    }, tmp / "server.log").start()
    yield server.base
    server.stop()


def wait_for(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_the_console_needs_the_staff_sign_in(staff_server):
    assert httpx.get(f"{staff_server}/config").status_code == 401
    assert '"auth_required":true' in httpx.get(f"{staff_server}/").text.replace(" ", "")
    assert httpx.post(f"{staff_server}/login", data={"username": USER, "password": "guess"}).status_code == 400
    with httpx.Client(base_url=staff_server) as browser:
        assert browser.post("/login", data={"username": USER, "password": PASSWORD}).status_code == 200
        assert browser.get("/config").status_code == 200
    with pytest.raises(Exception, match="credentials"):
        Client(staff_server, verbose=False)


def test_visitor_routes_stay_public(staff_server):
    reply = httpx.post(f"{staff_server}/api/chat", json={"message": "how much does it cost?"}, timeout=30)
    assert reply.status_code == 200 and "$400-$600" in reply.json()["answer"]
    for path in ["/healthz", "/widget.js", "/demo", "/source/ketamine-infusion-insurance"]:
        assert httpx.get(f"{staff_server}{path}").status_code == 200, path


def test_a_browser_on_another_site_may_send_the_widget_channel_header(staff_server):
    preflight = httpx.options(f"{staff_server}/api/chat", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-faqbot-channel",
    })
    assert preflight.status_code == 200
    assert "x-faqbot-channel" in preflight.headers["access-control-allow-headers"].lower()


def test_widget_questions_the_bot_could_not_answer_are_grouped_in_the_console(staff_server):
    for message, headers in [("What's the weather in Paris today?", {"X-FAQBot-Channel": "widget"}),
                             ("whats the weather in paris today", {"X-FAQBot-Channel": "widget"}),
                             ("WHAT'S THE WEATHER IN PARIS TODAY", {})]:
        assert httpx.post(f"{staff_server}/api/chat", json={"message": message}, headers=headers, timeout=30).json()["abstained"]
    client = Client(staff_server, auth=(USER, PASSWORD), verbose=False)

    def weather_row():
        rows = client.predict(api_name="/unanswered")[0]["data"]
        return next((r for r in rows if "paris" in r[1].lower() and r[0] == 3), None)

    row = wait_for(weather_row)
    assert row is not None, client.predict(api_name="/unanswered")
    assert row[3] == "api, widget"

    _, chat, why, _ = client.predict("how much does it cost?", [], api_name="/ask")
    assert why.startswith("**answered**") and "/source/ketamine-infusion-insurance#" in str(chat[-1]["content"])
    summary = client.predict("all channels (with staff)", api_name="/overview")[0]
    assert "question" in summary and "abstained" in summary
    assert "| passages |" in client.predict(api_name="/index")


def test_a_staff_member_rates_an_answer_in_the_browser(staff_server, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found: install Debian's Chromium (apt-get install -y chromium) to run the browser test")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(staff_server)
        page.get_by_label("username").fill(USER)
        page.get_by_label("password").fill(PASSWORD)
        page.get_by_role("button", name="Login").click()
        page.get_by_label("Question").fill("what's the weather in Paris today?")
        page.get_by_label("Question").press("Enter")
        sync_api.expect(page.get_by_text("abstained", exact=False).first).to_be_visible(timeout=30_000)
        page.get_by_label("Comment on a rating (optional)").fill("should say we cannot know the weather")
        page.get_by_role("button", name="Dislike").last.click()
        sync_api.expect(page.get_by_text("Thumbs down stored for answer 1")).to_be_visible(timeout=10_000)
        page.get_by_role("tab", name="Feedback").click()
        row = page.get_by_role("row", name=re.compile("👎 down what's the weather in Paris today.*should say we cannot know the weather staff"))
        sync_api.expect(row).to_be_visible(timeout=10_000)
        browser.close()


@pytest.mark.slow  # starts a model or a server by itself
def test_the_server_refuses_an_open_console_on_the_network(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAQBOT_")}
    env["FAQBOT_DB"] = str(tmp_path / "faqbot.sqlite3")
    done = subprocess.run([sys.executable, "app.py", "--host", "0.0.0.0", "--port", "1"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "FAQBOT_STAFF_PASSWORD" in done.stderr and "FAQBOT_ALLOW_OPEN_STAFF=1" in done.stderr
    assert not (tmp_path / "faqbot.sqlite3").exists()
