"""Hostile input and abuse: limits, rate limiting, CORS, security headers, Gradio's file
routes, what the logs hold, and no outbound calls.

In-process tests drive the ASGI app directly (a stub bot records what reaches it); the
rest run one real server (app.py) with every outbound connection refused and recorded.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
from conftest import CORPUS, ROOT, Clock
from fastapi.testclient import TestClient
from gradio_client import Client
from serving import Server, raw_get

from bot.adapters.api import create_api
from bot.adapters.security import check_origins, refused_path
from bot.replies import Reply, ReplyKind, Turn
from bot.serve.ratelimit import RateLimiter, client_key, retry_after
from bot.serve.runtime import BotHolder
from bot.settings import Settings

CRISIS = "I want to kill myself"
ALLOWED = "https://clinic.example"
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]


class StubBot:
    """Records what the API hands the core; answers every message the same way."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Turn, ...]]] = []

    def answer(self, message: str, history=()) -> Reply:
        self.calls.append((message, tuple(history)))
        return Reply("The stub's answer.", ReplyKind.ANSWER)


def stub_api(**changes):
    settings = replace(Settings(corpus_dir=CORPUS), **changes)
    holder = BotHolder(settings)
    holder.bot = StubBot()
    return create_api(holder), holder.bot


def asgi_post(app, body_parts, headers: dict[str, str], client: tuple[str, int] = ("203.0.113.7", 50000), path="/api/chat"):
    """POST through the ASGI interface: ``body_parts`` is what ``receive`` hands out, one
    per call (an exception instance is raised instead; "forever" never returns). Returns
    (status, headers, JSON body, how many times the body was asked for)."""
    reads = 0
    parts = list(body_parts)
    sent: list[dict] = []

    async def receive():
        nonlocal reads
        reads += 1
        if not parts:
            return {"type": "http.request", "body": b"", "more_body": False}
        part = parts.pop(0)
        if isinstance(part, BaseException):
            raise part
        if part == "forever":
            await asyncio.Event().wait()
        return {"type": "http.request", "body": part, "more_body": bool(parts)}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": client, "server": ("127.0.0.1", 7860),
    }

    async def run():
        async with asyncio.timeout(30):
            await app(scope, receive, send)

    asyncio.run(run())
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, json.loads(body), reads


JSON = {"content-type": "application/json"}


# --- input limits ----------------------------------------------------------------------------


def test_a_body_declared_too_large_is_refused_before_any_of_it_is_read():
    app, bot = stub_api()
    status, _, body, reads = asgi_post(app, [AssertionError("the body was read")], {**JSON, "content-length": "70000"})
    assert (status, body["error"]["code"], reads) == (413, "body_too_large", 0)
    assert "65536 bytes" in body["error"]["message"] and bot.calls == []


def test_a_body_without_a_length_is_cut_off_as_soon_as_it_passes_the_limit():
    app, _ = stub_api(max_body_bytes=10_000)
    endless = [b"x" * 4096] * 1000  # 4 MB if it were all read
    status, _, body, reads = asgi_post(app, endless, JSON)
    assert status == 413 and body["error"]["code"] == "body_too_large"
    assert reads <= 4  # 3 parts pass 10,000 bytes


def test_a_body_that_never_arrives_in_full_gets_a_408_in_time():
    app, bot = stub_api(body_timeout=1)
    started = time.monotonic()
    status, _, body, _ = asgi_post(app, [b'{"message": "how', "forever"], JSON)
    assert (status, body["error"]["code"]) == (408, "request_timeout")
    assert time.monotonic() - started < 5 and bot.calls == []


def test_a_length_that_is_not_a_number_is_a_400():
    app, bot = stub_api()
    status, _, body, reads = asgi_post(app, [AssertionError("the body was read")], {**JSON, "content-length": "abc"})
    assert (status, body["error"]["code"], reads) == (400, "invalid_length", 0) and bot.calls == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "application/jsonx"])
def test_anything_but_json_gets_415(content_type):
    client = TestClient(stub_api()[0])
    r = client.post("/api/chat", content=b'{"message": "hi"}', headers={"content-type": content_type} if content_type else {})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
    assert "Content-Type: application/json" in r.json()["error"]["message"]


@pytest.mark.parametrize(("body", "why"), [
    (b"{'message': 'hi'}", "not valid UTF-8 JSON"),
    (b'{"message": "hi"} trailing', "not valid UTF-8 JSON"),
    (b'{"message": NaN}', "not valid UTF-8 JSON"),
    (b'{"message": Infinity}', "not valid UTF-8 JSON"),
    (b'\xff\xfe{"message": "hi"}', "not valid UTF-8 JSON"),
    ('{"message": "hi"}'.encode("utf-16"), "not valid UTF-8 JSON"),
    (b"[" * 40_000 + b"]" * 40_000, "nested too deeply"),
])
def test_bodies_that_are_not_json_get_400_saying_so(body, why):
    client = TestClient(stub_api(max_body_bytes=100_000)[0])
    r = client.post("/api/chat", content=body, headers=JSON)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json" and why in r.json()["error"]["message"]


@pytest.mark.parametrize(("body", "field", "why"), [
    ([], "body", "must be a JSON object"),
    ("hello", "body", "not a string"),
    ({}, "message", "is required"),
    ({"message": None}, "message", "not null"),
    ({"message": 5}, "message", "not a number"),
    ({"message": ["hi"]}, "message", "not a list"),
    ({"message": "   \n\t "}, "message", "is empty"),
    ({"message": "\u200b\u200d\ufeff"}, "message", "is empty"),
    ({"message": "\x00\x01\x7f"}, "message", "is empty"),
    ({"message": "x" * 1001}, "message", "longer than 1000 characters"),
    ({"message": "hi", "question": "x"}, "question", "unknown field"),
    ({"message": "hi", "history": "earlier"}, "history", "must be a list"),
    ({"message": "hi", "history": [["user", "x"]]}, "history[0]", "must be an object"),
    ({"message": "hi", "history": [{"role": "system", "content": "x"}]}, "history[0].role", "'user' or 'assistant'"),
    ({"message": "hi", "history": [{"role": "user"}]}, "history[0].content", "must be a string"),
    ({"message": "hi", "history": [{"role": "user", "content": "a", "name": "x"}]}, "history[0]", "only role and content"),
])
def test_schema_errors_are_422_naming_the_field_and_why(body, field, why):
    app, bot = stub_api()
    r = TestClient(app).post("/api/chat", json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    message = r.json()["error"]["message"]
    assert message.startswith(f"{field}:") and why in message, message
    assert bot.calls == []  # never answered


def test_an_error_in_a_long_history_names_the_turn_as_sent():
    history = [{"role": "user", "content": "x"}] * 24 + [{"role": "robot", "content": "x"}]
    r = TestClient(stub_api()[0]).post("/api/chat", json={"message": "hi", "history": history})
    assert r.json()["error"]["message"].startswith("history[24].role:")


def test_the_bot_gets_clean_normalised_text_and_a_bounded_history():
    app, bot = stub_api(max_history_turns=3, max_history_chars=50)
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i} " + "y" * 100} for i in range(10)]
    message = "  how much\u200b does it co\x00st at the cafe\u0301?\u202e \n"
    r = TestClient(app).post("/api/chat", json={"message": message, "history": history})
    assert r.status_code == 200 and r.json()["answer"] == "The stub's answer."
    (seen, turns), = bot.calls
    assert seen == "how much does it cost at the caf\u00e9?"  # invisible and control characters gone, NFC, trimmed
    assert [t.content[:6] for t in turns] == ["turn 7", "turn 8", "turn 9"]  # the latest turns
    assert all(len(t.content) == 50 for t in turns)


def test_a_message_at_the_limit_is_answered_and_one_over_it_is_not():
    settings = Settings.from_env({"FAQBOT_MAX_MESSAGE_CHARS": "40"})
    holder = BotHolder(replace(settings, corpus_dir=CORPUS))
    holder.bot = StubBot()
    client = TestClient(create_api(holder))
    assert client.post("/api/chat", json={"message": "a" * 40}).status_code == 200
    r = client.post("/api/chat", json={"message": "a" * 41})
    assert r.status_code == 422 and "longer than 40 characters" in r.json()["error"]["message"]


@pytest.mark.parametrize(("changes", "variable"), [
    ({"rate_limit": -1}, "FAQBOT_RATE_LIMIT"), ({"rate_burst": 0}, "FAQBOT_RATE_BURST"),
    ({"trust_proxy": -1}, "FAQBOT_TRUST_PROXY"), ({"max_body_bytes": 0}, "FAQBOT_MAX_BODY_BYTES"),
    ({"body_timeout": 0}, "FAQBOT_BODY_TIMEOUT"), ({"allowed_origins": ("https://clinic.example/",)}, "FAQBOT_ALLOWED_ORIGINS"),
])
def test_settings_that_cannot_work_are_refused_at_start_naming_the_variable(changes, variable):
    with pytest.raises(ValueError, match=variable):
        create_api(BotHolder(replace(Settings(), **changes)))


# --- rate limiting -------------------------------------------------------------------------


def test_the_bucket_allows_a_burst_then_the_rate():
    clock = Clock()
    limiter = RateLimiter(30, 10, clock=clock)  # one token every 2 s
    assert [limiter.take("a") for _ in range(10)] == [0.0] * 10
    wait = limiter.take("a")
    assert wait == pytest.approx(2.0) and retry_after(wait) == "2"
    clock.now += 1.0
    assert limiter.take("a") == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.take("a") == 0.0 and limiter.take("a") > 0
    clock.now += 3600
    assert [limiter.take("a") for _ in range(11)].count(0.0) == 10  # refills to the burst, no more
    assert limiter.take("b") == 0.0  # another client has its own bucket


def test_the_limiter_forgets_the_oldest_clients_first():
    limiter = RateLimiter(30, 1, max_clients=100, clock=Clock())
    for i in range(1000):
        limiter.take(f"10.0.{i // 256}.{i % 256}")
    assert limiter.clients() == 100


@pytest.mark.parametrize(("peer", "header", "hops", "key"), [
    ("203.0.113.7", None, 0, "203.0.113.7"),
    ("203.0.113.7", "198.51.100.1", 0, "203.0.113.7"),  # not trusted: ignored
    ("10.0.0.2", "198.51.100.1", 1, "198.51.100.1"),
    ("10.0.0.2", "6.6.6.6, 198.51.100.1", 1, "198.51.100.1"),  # the client's own entry (left) is not believed
    ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.9", 2, "198.51.100.1"),
    ("10.0.0.2", "not-an-ip", 1, "10.0.0.2"),
    ("10.0.0.2", "198.51.100.1:51234", 1, "198.51.100.1"),
    ("2001:db8:1:2:aaaa::1", None, 0, "2001:db8:1:2::/64"),  # one household's IPv6 network
    ("::ffff:203.0.113.7", None, 0, "203.0.113.7"),
    ("testclient", None, 0, "testclient"),
    (None, None, 0, "unknown"),
])
def test_the_client_is_the_connection_unless_a_trusted_proxy_says_otherwise(peer, header, hops, key):
    assert client_key(peer, header, hops) == key


def hammer(app, n: int, message: str = "how much does it cost?", **kw) -> list[int]:
    body = json.dumps({"message": message}).encode()
    return [asgi_post(app, [body], JSON, **kw)[0] for _ in range(n)]


def test_one_address_is_limited_with_retry_after_and_others_are_not():
    app, _ = stub_api(rate_limit=30, rate_burst=5)
    assert hammer(app, 7) == [200] * 5 + [429] * 2
    status, headers, body, _ = asgi_post(app, [b'{"message": "hi"}'], JSON)
    assert status == 429 and body["error"]["code"] == "rate_limited" and int(headers["retry-after"]) >= 1
    assert f"try again in {headers['retry-after']} second" in body["error"]["message"]
    assert hammer(app, 5, client=("198.51.100.9", 1)) == [200] * 5


def test_bad_requests_count_against_the_rate_too():
    app, _ = stub_api(rate_limit=30, rate_burst=3)
    statuses = [asgi_post(app, [b"garbage"], JSON)[0] for _ in range(5)]
    assert statuses == [400] * 3 + [429] * 2


def test_crisis_messages_are_never_withheld_by_the_limiter():
    app, bot = stub_api(rate_limit=1, rate_burst=1)
    assert hammer(app, 3) == [200, 429, 429]
    assert hammer(app, 5, message=CRISIS) == [200] * 5
    assert len(bot.calls) == 6
    # ... and while the bot is still loading, too.
    loading = create_api(BotHolder(replace(Settings(), rate_limit=1, rate_burst=1)))
    assert hammer(loading, 2, message="how much?") == [503, 429]
    status, _, body, _ = asgi_post(loading, [json.dumps({"message": CRISIS}).encode()], JSON)
    assert status == 200 and body["crisis"] is True and "988" in body["answer"]


def test_a_crisis_the_model_recognises_is_never_withheld_either(crisis_check):
    """No sure sign, so the limiter is consulted; the crisis model is asked before a refusal,
    and while the bot loads."""
    message = "do you take insurance? doesnt matter much, i wont be around to pay the bill"
    bot = StubBot()
    app_holder = BotHolder(replace(Settings(corpus_dir=CORPUS), rate_limit=1, rate_burst=1))
    app_holder.bot, app_holder.crisis = bot, crisis_check
    app = create_api(app_holder)
    assert hammer(app, 2) == [200, 429]
    assert hammer(app, 3, message=message) == [200] * 3
    loading = BotHolder(replace(Settings(), rate_limit=1, rate_burst=1))
    loading.crisis = crisis_check
    status, _, body, _ = asgi_post(create_api(loading), [json.dumps({"message": message}).encode()], JSON)
    assert status == 200 and body["crisis"] is True and "988" in body["answer"]


def test_a_spoofed_x_forwarded_for_does_not_buy_a_new_bucket():
    app, _ = stub_api(rate_limit=30, rate_burst=2)
    body = b'{"message": "hi"}'
    statuses = [asgi_post(app, [body], {**JSON, "x-forwarded-for": f"198.51.100.{i}"})[0] for i in range(4)]
    assert statuses == [200, 200, 429, 429]


def test_behind_a_trusted_proxy_each_visitor_has_their_own_bucket():
    app, _ = stub_api(rate_limit=30, rate_burst=2, trust_proxy=1)
    proxy = ("10.0.0.2", 40000)
    body = b'{"message": "hi"}'

    def visit(xff: str) -> int:
        return asgi_post(app, [body], {**JSON, "x-forwarded-for": xff}, client=proxy)[0]

    assert [visit("198.51.100.1") for _ in range(3)] == [200, 200, 429]
    assert [visit("198.51.100.2") for _ in range(2)] == [200, 200]
    assert visit("1.2.3.4, 198.51.100.1") == 429  # a forged left entry changes nothing


def test_rate_limit_0_turns_the_limiter_off():
    app, _ = stub_api(rate_limit=0)
    assert hammer(app, 60) == [200] * 60


# --- CORS, headers, Gradio's routes (in-process) ----------------------------------------------


def test_no_origin_is_allowed_by_default_and_only_the_listed_ones_when_set():
    assert Settings().allowed_origins == () and Settings.from_env({}).allowed_origins == ()
    closed = TestClient(stub_api()[0])
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    assert "access-control-allow-origin" not in closed.options("/api/chat", headers=preflight).headers
    r = closed.post("/api/chat", json={"message": "hi"}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    open_ = TestClient(stub_api(allowed_origins=(ALLOWED,))[0])
    assert "access-control-allow-origin" not in open_.options("/api/chat", headers=preflight).headers
    ok = open_.options("/api/chat", headers={**preflight, "Origin": ALLOWED})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == ALLOWED
    r = open_.post("/api/chat", json={"message": "hi"}, headers={"Origin": ALLOWED})
    assert r.headers["access-control-allow-origin"] == ALLOWED and "retry-after" in r.headers["access-control-expose-headers"].lower()


@pytest.mark.parametrize("origin", ["https://clinic.example/", "clinic.example", "https://clinic.example/page", "ftp://clinic.example", "https://x:y@clinic.example", "https://clinic.example:99999"])
def test_an_allowed_origin_that_is_not_an_origin_is_refused_with_the_fix(origin):
    with pytest.raises(ValueError, match=r"scheme://host\[:port\]"):
        check_origins((origin,))


def test_allowed_origins_are_normalised_as_browsers_send_them():
    assert check_origins(("HTTPS://Clinic.Example", "http://127.0.0.1:8080")) == ("https://clinic.example", "http://127.0.0.1:8080")


def test_html_pages_carry_a_content_security_policy_and_no_sniffing():
    client = TestClient(stub_api()[0])
    for path in ["/demo", "/source/ketamine-infusion-insurance"]:
        r = client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'self'" in csp and "base-uri 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "same-origin"
        assert r.headers["x-frame-options"] == "SAMEORIGIN"
    assert "script-src 'self'" in client.get("/demo").headers["content-security-policy"]
    assert "script-src" not in client.get("/source/ketamine-infusion-insurance").headers["content-security-policy"]
    chat = client.post("/api/chat", json={"message": "hi"})
    assert chat.headers["cache-control"] == "no-store" and chat.headers["x-content-type-options"] == "nosniff"
    assert client.get("/widget.js").headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", [
    "/gradio_api/file=https://example.com/x.png", "/gradio_api/file=HTTP://example.com", "/gradio_api/file=//example.com/x",
    "/gradio_api/file/https://example.com/x", "/gradio_api/proxy=https://example.com/", "/file=http://169.254.169.254/latest",
])
def test_routes_that_would_fetch_a_url_are_closed(path):
    assert refused_path(path)
    r = TestClient(stub_api()[0]).get(path)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_local_paths_are_left_to_gradios_allow_list():
    assert refused_path("/gradio_api/file=/tmp/gradio/abc/eval.jsonl") is None
    assert refused_path("/api/chat") is None and refused_path("/source/ketamine-infusion-insurance") is None


def test_gradio_is_pinned_to_the_release_installed():
    pins = dict(line.strip().split("==") for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line and not line.startswith("#"))
    assert pins["gradio"] == version("gradio")
    assert f"gradio=={version('gradio')}" in (ROOT / "constraints.txt").read_text().splitlines()


def test_secrets_are_not_in_the_settings_repr():
    settings = Settings.from_env({"FAQBOT_STAFF_PASSWORD": "correct horse", "FAQBOT_ADMIN_TOKEN": "s3cret-token"})
    assert settings.staff_password == "correct horse" and settings.admin_token == "s3cret-token"
    assert "correct horse" not in repr(settings) and "s3cret-token" not in repr(settings)


# --- a real server -----------------------------------------------------------------------------

MARKER = "zebra-quartz-7 how much does the infusion cost"
STAFF_MARKER = "marmalade-giraffe-3 is ketamine safe"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def hardened(settings, tmp_path_factory):
    """app.py with default limits, one allowed origin, a question log, an admin token, an
    environment that asks for analytics, and every outbound connection refused and recorded."""
    tmp = tmp_path_factory.mktemp("hardened")
    server = Server({
        "FAQBOT_INDEX_DIR": str(settings.index_dir), "FAQBOT_CORPUS_DIR": str(CORPUS), "FAQBOT_DB": str(tmp / "faqbot.sqlite3"),
        "FAQBOT_ALLOWED_ORIGINS": ALLOWED, "FAQBOT_ADMIN_TOKEN": "s3cret-token", "FAQBOT_LOG_LEVEL": "INFO",
        "FAQBOT_RATE_LIMIT": "", "FAQBOT_RATE_BURST": "",  # the defaults, whatever the test's environment says
        "GRADIO_ANALYTICS_ENABLED": "True", "HF_HUB_OFFLINE": "0",  # the app must switch these off itself
    }, tmp / "server.log", sandbox=tmp / "sandbox").start()
    yield server
    server.stop()


def test_no_gradio_route_reads_files_it_does_not_mean_to_serve(hardened, settings):
    manifest = (settings.index_dir / "current" / "manifest.json").resolve()
    db = Path(hardened.env["FAQBOT_DB"]).resolve()
    paths = [
        "/file=/etc/passwd", "/gradio_api/file=/etc/passwd", "/gradio_api/file/etc/passwd", "/gradio_api/file=../../../../etc/passwd",
        "/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/gradio_api/file=/tmp/gradio/../../etc/passwd",
        f"/gradio_api/file={manifest}", f"/gradio_api/file={manifest.parent}/passages.jsonl", "/gradio_api/file=index/current/manifest.json",
        f"/gradio_api/file={db}", f"/gradio_api/file={ROOT / 'app.py'}", f"/gradio_api/file={CORPUS / 'questions.yaml'}",
        "/static/../../../../etc/passwd", "/assets/..%2f..%2f..%2f..%2fetc/passwd", "/gradio_api/file=/proc/self/environ",
        "/source/../../etc/passwd", "/source/%2e%2e/%2e%2e/etc/passwd", "/source/..%2f..%2fapp",
        "/gradio_api/file=https://example.com/", "/gradio_api/proxy=http://169.254.169.254/",
    ]
    secrets = [b"root:x:0:0", manifest.read_bytes()[:40], b"SQLite format", b"s3cret-token", b"import argparse"]
    for path in paths:
        status, body = raw_get(hardened.base, path)
        assert status in (400, 403, 404), (path, status, body[:200])
        assert not any(s in body for s in secrets), path


def test_console_uploads_are_capped(hardened):
    big = ("eval.jsonl", b"x" * 6_000_000, "application/octet-stream")
    r = httpx.post(f"{hardened.base}/gradio_api/upload", files={"files": big}, timeout=60)
    assert r.status_code == 413, r.text[:200]


def test_the_console_cannot_be_framed_by_another_site(hardened):
    r = httpx.get(f"{hardened.base}/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "frame-ancestors 'self'" in r.headers["content-security-policy"] and r.headers["x-frame-options"] == "SAMEORIGIN"
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "same-origin"


def test_visitors_messages_never_reach_the_log_and_secrets_never_leave_the_environment(hardened):
    assert httpx.post(f"{hardened.base}/api/chat", json={"message": MARKER}, headers={"X-FAQBot-Channel": "widget"}, timeout=30).status_code == 200
    assert httpx.post(f"{hardened.base}/api/chat", json={"message": f"{MARKER} {CRISIS}"}, timeout=30).json()["crisis"]
    assert httpx.post(f"{hardened.base}/api/chat", json={"message": MARKER, "history": "bad"}, timeout=30).status_code == 422
    Client(hardened.base, verbose=False).predict(STAFF_MARKER, [], api_name="/ask")
    log = hardened.log_text()
    assert "bot ready" in log  # the log is being written, at INFO
    for secret in ("zebra-quartz", "marmalade-giraffe", "s3cret-token"):
        assert secret not in log
    for path in ["/", "/config", "/demo", "/healthz"]:
        assert "s3cret-token" not in httpx.get(f"{hardened.base}{path}").text


def test_the_server_makes_no_outbound_connection(hardened):
    httpx.get(f"{hardened.base}/gradio_api/file=https://example.com/x.png")
    httpx.get(f"{hardened.base}/gradio_api/info")
    httpx.post(f"{hardened.base}/api/chat", json={"message": "is it covered by insurance?"}, timeout=30)
    assert hardened.outbound_attempts() == []


def test_the_html_and_scripts_reference_no_other_host(hardened):
    own = re.escape(hardened.base)
    allowed = re.compile(rf"^(?:{own}|http://www\.w3\.org/)")
    for path in ["/demo", "/widget.js", "/source/ketamine-infusion-insurance"]:
        text = httpx.get(f"{hardened.base}{path}").text
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("*", "//", "/*")))  # comments
        urls = [u for u in re.findall(r"https?://[^\s\"'<>)]+", code) if not allowed.match(u)]
        assert urls == [], (path, urls)


def test_browsers_load_nothing_from_other_hosts_and_break_no_policy(hardened):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found: install Debian's Chromium (apt-get install -y chromium) to run the browser test")
    sync_api = pytest.importorskip("playwright.sync_api")
    elsewhere, complaints = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_page()
        page.on("request", lambda r: elsewhere.append(r.url) if not r.url.startswith((hardened.base, "data:", "blob:")) else None)
        page.on("console", lambda m: complaints.append(m.text) if m.type == "error" or "Content Security Policy" in m.text else None)
        page.goto(f"{hardened.base}/")
        page.get_by_label("Question").fill("how much does it cost?")
        page.get_by_label("Question").press("Enter")
        sync_api.expect(page.get_by_text("$400-$600").first).to_be_visible(timeout=30_000)
        page.goto(f"{hardened.base}/demo")
        page.locator("faq-chat-widget .launcher").click()
        box = page.get_by_role("textbox", name=re.compile("question", re.I))
        box.fill("is it covered by insurance?")
        box.press("Enter")
        sync_api.expect(page.get_by_role("log").locator(".row.bot:not(.error)").nth(1)).to_contain_text("insurance", timeout=30_000)
        page.goto(f"{hardened.base}/source/ketamine-infusion-insurance")
        sync_api.expect(page.locator("h1").first).to_be_visible()
        browser.close()
    assert elsewhere == [] and complaints == []


def test_a_flood_from_one_address_gets_429_with_retry_after_readable_by_the_widget(hardened):
    """Last in this module: it uses up 127.0.0.1's questions for a while."""
    replies = []
    with httpx.Client(base_url=hardened.base, timeout=30) as client:
        for _ in range(15):
            replies.append(client.post("/api/chat", json={"message": "how much does it cost?"}, headers={"Origin": ALLOWED}))
        crisis = client.post("/api/chat", json={"message": CRISIS}, headers={"Origin": ALLOWED})
    statuses = [r.status_code for r in replies]
    assert 429 in statuses and set(statuses) <= {200, 429} and statuses.count(200) <= 12
    # (A token refills every 2 s, so a slow answer may let a later question through again.)
    refused = next(r for r in replies if r.status_code == 429)
    assert int(refused.headers["retry-after"]) >= 1 and refused.json()["error"]["code"] == "rate_limited"
    assert refused.headers["access-control-allow-origin"] == ALLOWED and "retry-after" in refused.headers["access-control-expose-headers"].lower()
    assert crisis.status_code == 200 and crisis.json()["crisis"] is True
