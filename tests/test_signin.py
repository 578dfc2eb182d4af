"""The staff sign-in against guessing: failed sign-ins limited per address and per user name,
a weak password refused at start, and no console action sent from another site."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from conftest import CORPUS, ROOT, Clock
from serving import Server
from starlette.requests import Request

from bot.adapters.guard import FIRST_WAIT, FREE_FAILURES, FailedSignIns, is_cross_site

USER, PASSWORD = "nurse", "correct horse battery"


def test_after_a_few_failures_each_sign_in_waits_longer_and_a_success_clears_it():
    clock = Clock()
    failures = FailedSignIns(clock)
    for _ in range(FREE_FAILURES - 1):
        failures.failed("ip:a", "user:nurse")
        assert failures.wait("ip:a", "user:nurse") == 0
    failures.failed("ip:a", "user:nurse")
    assert failures.wait("ip:a") == FIRST_WAIT and failures.wait("user:nurse") == FIRST_WAIT
    assert failures.wait("ip:b", "user:doctor") == 0  # another address and user are not held up
    clock.now += FIRST_WAIT
    assert failures.wait("ip:a", "user:nurse") == 0
    failures.failed("ip:a", "user:nurse")
    assert failures.wait("ip:a") == 2 * FIRST_WAIT  # growing
    for _ in range(20):
        failures.failed("ip:a")
    assert failures.wait("ip:a") == 15 * 60  # capped
    failures.succeeded("ip:a", "user:nurse")
    assert failures.wait("ip:a", "user:nurse") == 0


def test_sign_ins_sent_at_the_same_moment_are_counted_before_any_password_is_checked():
    failures = FailedSignIns(Clock())
    started = [failures.begin("ip:a", "user:nurse") for _ in range(FREE_FAILURES + 3)]
    assert [wait for wait, _ in started[:FREE_FAILURES]] == [0] * FREE_FAILURES
    assert all(wait == FIRST_WAIT for wait, _ in started[FREE_FAILURES:])
    for _ in range(3000):  # no overflow however long the guessing goes on
        failures.failed("ip:b")
    assert failures.wait("ip:b") == 15 * 60


def test_failures_are_forgotten_after_an_hour_without_one():
    clock = Clock()
    failures = FailedSignIns(clock)
    for _ in range(FREE_FAILURES):
        failures.failed("user:nurse")
    clock.now += 3601
    assert failures.wait("user:nurse") == 0
    assert failures.failed("user:nurse") == 1


def _request(headers: dict[str, str]) -> Request:
    return Request({"type": "http", "method": "POST", "path": "/gradio_api/queue/join",
                    "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]})


@pytest.mark.parametrize(("headers", "cross"), [
    ({"Host": "bot.clinic.example", "Sec-Fetch-Site": "same-origin"}, False),
    ({"Host": "bot.clinic.example", "Sec-Fetch-Site": "none"}, False),  # typed in the address bar
    ({"Host": "bot.clinic.example", "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, True),
    ({"Host": "bot.clinic.example", "Sec-Fetch-Site": "same-site", "Origin": "https://blog.clinic.example"}, True),
    ({"Host": "bot.clinic.example", "Origin": "https://bot.clinic.example"}, False),  # an older browser
    ({"Host": "bot.clinic.example", "Origin": "https://evil.example"}, True),
    ({"Host": "bot.clinic.example", "Origin": "null"}, True),  # a sandboxed frame or a file
    ({"Host": "bot.clinic.example"}, False),  # curl or a script: no browser cookie rides along
])
def test_what_counts_as_sent_from_another_site(headers, cross):
    assert is_cross_site(_request(headers)) is cross


@pytest.fixture(scope="module")
def guarded(settings, tmp_path_factory):
    """A server with a staff sign-in that trusts one proxy, so a test can sign in from
    several addresses."""
    tmp = tmp_path_factory.mktemp("signin")
    server = Server({
        "FAQBOT_INDEX_DIR": str(settings.index_dir), "FAQBOT_CORPUS_DIR": str(CORPUS), "FAQBOT_DB": str(tmp / "faqbot.sqlite3"),
        "FAQBOT_STAFF_USER": USER, "FAQBOT_STAFF_PASSWORD": PASSWORD, "FAQBOT_TRUST_PROXY": "1", "FAQBOT_LOG_LEVEL": "INFO",
    }, tmp / "server.log").start()
    yield server
    server.stop()


def _sign_in(base: str, address: str, user: str, password: str, **kwargs) -> httpx.Response:
    return httpx.post(f"{base}/login", data={"username": user, "password": password},
                      headers={"X-Forwarded-For": address}, **kwargs)


def test_a_burst_of_wrong_passwords_is_stopped_and_logged_without_the_password(guarded):
    statuses = [_sign_in(guarded.base, "203.0.113.7", "admin", f"guess-{i}").status_code for i in range(60)]
    assert statuses[:FREE_FAILURES] == [400] * FREE_FAILURES
    assert set(statuses[FREE_FAILURES:]) == {429}
    # Even the right password waits now: a guess that happened to be right would not show.
    held = _sign_in(guarded.base, "203.0.113.7", USER, PASSWORD)
    assert held.status_code == 429 and 0 < int(held.headers["Retry-After"]) <= FIRST_WAIT
    assert "try again in" in held.json()["error"]["message"]
    # Another address signs in at once with the right password.
    assert _sign_in(guarded.base, "198.51.100.2", USER, PASSWORD).status_code == 200
    log = guarded.log_text()
    assert "failed staff sign-in as 'admin' from 203.0.113.7 (5 in a row)" in log
    assert "guess-" not in log and PASSWORD not in log


def test_a_form_with_two_user_names_is_refused(guarded):
    refused = httpx.post(f"{guarded.base}/login", content=f"username=decoy&username={USER}&password=guess",
                         headers={"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "198.51.100.77"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_form"


def test_console_actions_sent_from_another_site_are_refused(guarded):
    with httpx.Client(base_url=guarded.base, headers={"X-Forwarded-For": "198.51.100.9"}) as browser:
        assert browser.post("/login", data={"username": USER, "password": PASSWORD}).status_code == 200
        join = {"data": ["hello"], "fn_index": 0, "session_hash": "abc123", "event_data": None, "trigger_id": None}
        for headers in [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}]:
            refused = browser.post("/gradio_api/queue/join", json=join, headers=headers)
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "cross_site"
            assert browser.post("/login", data={"username": USER, "password": PASSWORD}, headers=headers).status_code == 403
        host = guarded.base.removeprefix("http://")
        same = browser.post("/gradio_api/queue/join", json=join, headers={"Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"})
        assert same.status_code != 403  # Gradio's own answer to this made-up event
    # The visitors' API stays open to the clinic's pages (CORS decides which).
    assert httpx.post(f"{guarded.base}/api/chat", json={"message": "how much does it cost?"},
                      headers={"Origin": "https://www.clinic.example", "Sec-Fetch-Site": "cross-site"}, timeout=30).status_code == 200


def test_guessing_one_user_name_from_many_addresses_is_stopped_too(guarded):
    statuses = [_sign_in(guarded.base, f"192.0.2.{i}", USER, "wrong password").status_code for i in range(FREE_FAILURES + 2)]
    assert statuses[:FREE_FAILURES] == [400] * FREE_FAILURES and statuses[FREE_FAILURES:] == [429, 429]


@pytest.mark.slow  # starts a server by itself
@pytest.mark.parametrize("password", ["s3cret", "nurse-nurse-nurse"])
def test_the_server_refuses_a_weak_staff_password_at_start(tmp_path, password):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAQBOT_")}
    env.update({"FAQBOT_DB": str(tmp_path / "faqbot.sqlite3"), "FAQBOT_STAFF_USER": USER, "FAQBOT_STAFF_PASSWORD": password})
    done = subprocess.run([sys.executable, "app.py", "--port", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "FAQBOT_STAFF_PASSWORD is too" in done.stderr and "at least 12 characters" in done.stderr
    assert password not in done.stderr
