"""Screenshots of the staff console for the README: docs/console.png, console-fixing.png
and console-overview.png.

    .venv/bin/python scripts/screenshot_console.py [--index index/]

Starts app.py on a free port with a throw-away question log, sends a few visitor questions
through /api/chat as the widget would, signs in, asks one question in the console and
saves the pages. Needs Debian's Chromium (/usr/bin/chromium) and the playwright package.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
USER, PASSWORD = "staff", "screenshot passphrase"
VISITORS = [
    "How much does ketamine infusion cost?",
    "is it covered by insurance?",
    "What conditions does ketamine treat?",
    "Are there side effects?",
    "How does ketamine infusion work?",
    "What are your opening hours?",
    "what are your opening hours",
    "What are your opening hours??",
    "Do you have parking",
    "Is there any parking near your clinic?",
    "Do you take HSA cards?",
    "do you accept HSA cards",
    "Can I use my HSA card to pay?",
    "Do you treat teenagers?",
    "What should I wear to my appointment?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", help="index folder (default: FAQBOT_INDEX_DIR or index/)")
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "FAQBOT_DB": str(Path(tmp) / "faqbot.sqlite3"), "FAQBOT_STAFF_USER": USER, "FAQBOT_STAFF_PASSWORD": PASSWORD,
               "FAQBOT_RATE_LIMIT": "0"}  # the visitors below come from one address
        if args.index:
            env["FAQBOT_INDEX_DIR"] = args.index
        server = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    print("the server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.5)
            for question in VISITORS:
                httpx.post(f"{base}/api/chat", json={"message": question}, headers={"X-FAQBot-Channel": "widget"}, timeout=30)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900}, device_scale_factor=1)
                page.goto(base)
                page.get_by_label("username").fill(USER)
                page.get_by_label("password").fill(PASSWORD)
                page.get_by_role("button", name="Login").click()
                page.get_by_label("Question").fill("How much does it cost, and does insurance cover it?")
                page.get_by_label("Question").press("Enter")
                expect(page.get_by_text("searched for").first).to_be_visible(timeout=30_000)
                page.get_by_role("button", name="Like").last.click()
                expect(page.get_by_text("stored for answer 1")).to_be_visible(timeout=10_000)
                page.wait_for_timeout(500)
                page.screenshot(path=str(DOCS / "console.png"), full_page=True)
                page.get_by_role("tab", name="Unanswered").click()
                expect(page.get_by_label("Unanswered, grouped")).to_contain_text("HSA", timeout=30_000)
                page.wait_for_timeout(500)
                # Fixing a group: pick it, pick the section, preview (nothing is saved).
                page.get_by_label("Group to fix").click()
                page.get_by_role("option", name=re.compile("HSA")).first.click()
                page.get_by_label("Section that answers it (★ = suggested)").click()
                page.get_by_role("option", name=re.compile("How much does ketamine infusion cost")).first.click()
                page.get_by_role("button", name="Preview the reply").click()
                expect(page.get_by_text("once saved, the bot replies to")).to_be_visible(timeout=30_000)
                page.wait_for_timeout(500)
                page.screenshot(path=str(DOCS / "console-fixing.png"), full_page=True)
                page.get_by_role("tab", name="Overview").click()
                page.wait_for_timeout(2000)
                page.screenshot(path=str(DOCS / "console-overview.png"), full_page=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)
    print(f"saved {DOCS / 'console.png'}, console-fixing.png and console-overview.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
