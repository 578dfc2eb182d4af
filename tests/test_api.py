"""The HTTP API against a real server (app.py) with the real model and index."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest


def chat(server: str, body, **kw) -> httpx.Response:
    return httpx.post(f"{server}/api/chat", json=body, timeout=30, **kw)


def test_cost_question_is_answered_with_the_cost_sentence(server):
    r = chat(server, {"message": "how much does it cost?"})
    assert r.status_code == 200
    reply = r.json()
    assert "$400-$600" in reply["answer"] and reply["abstained"] is False and reply["crisis"] is False
    assert reply["citations"][0]["anchor"] == "how-much-does-ketamine-infusion-cost"


def test_weather_question_abstains_with_contact_details(server):
    reply = chat(server, {"message": "what's the weather today?"}).json()
    assert reply["abstained"] is True and reply["citations"] == []
    assert "888-526-8638" in reply["answer"] or "info@ketamineinfusioncenters.com" in reply["answer"]


def test_history_is_accepted(server):
    history = [{"role": "user", "content": "how much does it cost?"}, {"role": "assistant", "content": "$400-$600 per session."}]
    reply = chat(server, {"message": "and does insurance cover that?", "history": history}).json()
    assert not reply["abstained"] and "insurance" in reply["answer"].lower()


def test_healthz_reports_the_index(server):
    r = httpx.get(f"{server}/healthz")
    assert r.status_code == 200
    body = r.json()
    # the model it serves by default: all-MiniLM-L6-v2 adapted to clinic questions, named by its weights' hash
    assert body["status"] == "ok" and body["index"]["model"].startswith("all-MiniLM-L6-v2-clinic@") and body["index"]["passages"] > 10


def test_source_page_has_the_cited_heading(server):
    r = httpx.get(f"{server}/source/ketamine-infusion-insurance")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "id='how-much-does-ketamine-infusion-cost'" in r.text
    assert httpx.get(f"{server}/source/nope").status_code == 404


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        ("not json", {"content-type": "application/json"}, 400, "invalid_json"),
        ('{"message": "hi"}', {"content-type": "text/plain"}, 415, "unsupported_media_type"),
        ('{"message": ""}', {"content-type": "application/json"}, 422, "invalid_request"),
        ('{"message": 5}', {"content-type": "application/json"}, 422, "invalid_request"),
        ('{"history": []}', {"content-type": "application/json"}, 422, "invalid_request"),
        ('{"message": "hi", "history": [{"role": "system", "content": "x"}]}', {"content-type": "application/json"}, 422, "invalid_request"),
        ('["message"]', {"content-type": "application/json"}, 422, "invalid_request"),
        ('{"message": "' + "a" * 2000 + '"}', {"content-type": "application/json"}, 422, "invalid_request"),
        ('{"message": "' + "a" * 70000 + '"}', {"content-type": "application/json"}, 413, "body_too_large"),
    ],
)
def test_malformed_requests_get_a_json_4xx(server, body, headers, status, code):
    r = httpx.post(f"{server}/api/chat", content=body, headers=headers, timeout=30)
    assert r.status_code == status
    error = r.json()["error"]
    assert error["code"] == code and error["message"]
    assert "Traceback" not in r.text


def test_schema_errors_name_the_field(server):
    r = httpx.post(f"{server}/api/chat", json={"message": "hi", "history": [{"role": "robot", "content": "x"}]})
    assert "history[0].role" in r.json()["error"]["message"]


def test_unknown_route_is_json_404(server):
    r = httpx.get(f"{server}/api/nothing")
    assert r.status_code == 404


def _exchange(sock: socket.socket, request: bytes) -> bytes | None:
    """Send one request on a kept-alive connection; the response head, or None when the
    server closed the connection without replying."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")).split(b":")[1])
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_a_connection_idle_for_longer_than_common_clients_keep_it_is_still_served(server):
    # httpx keeps an idle connection for 5 s, nginx 60 s: the server must not close it first,
    # or a request sent at that moment gets no reply (the dropped connection of make soak).
    host, port = server.removeprefix("http://").split(":")
    healthz = f"GET /healthz HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        assert _exchange(sock, healthz).startswith(b"HTTP/1.1 200")
        time.sleep(5.5)
        again = _exchange(sock, healthz)
    assert again is not None and again.startswith(b"HTTP/1.1 200")


def test_a_body_left_unread_closes_the_connection_and_says_so(server):
    reply = httpx.post(f"{server}/api/chat", content=json.dumps({"message": "a" * 70_000}),
                       headers={"Content-Type": "application/json"})
    assert reply.status_code == 413 and reply.headers["connection"] == "close"
    small = httpx.post(f"{server}/api/chat", content=b"{not json", headers={"Content-Type": "application/json"})
    assert small.status_code == 400 and "close" not in small.headers.get("connection", "")  # read whole: kept alive
