"""Property-based tests: no input makes ``POST /api/chat`` answer 5xx or hang, and no text
makes the corpus reader fail with anything but a CorpusError naming the file.

The API runs in-process (Starlette's TestClient) with the real model and index from the
session fixtures, or with no bot at all (crisis-only mode, as while a server loads), with
the rate limit off so every example reaches the handler.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bot.adapters.api import create_api
from bot.errors import CorpusError
from bot.ingest.corpus import chunk_document, parse_document
from bot.ingest.questions import load_questions
from bot.serve.runtime import BotHolder

FUZZ = hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
CLIENT_ERRORS = {400, 408, 413, 415, 422}
REPLY_KEYS = {"answer", "abstained", "crisis", "citations"}

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=30)
roles = st.sampled_from(["user", "assistant"]) | st.text(max_size=10) | json_scalars
turns = st.fixed_dictionaries({"role": roles, "content": st.text(max_size=300) | json_scalars}) | json_values
chat_bodies = st.fixed_dictionaries({"message": st.text(max_size=1200)}, optional={"history": st.lists(turns, max_size=25) | json_values})


@pytest.fixture(scope="module")
def real_client(settings, bot):
    """The API with the real bot and the rate limit off."""
    holder = BotHolder(replace(settings, rate_limit=0))
    holder.bot = bot
    with TestClient(create_api(holder), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def loading_client(settings):
    """The API while the bot is still loading (no bot): only crisis replies are answered."""
    with TestClient(create_api(BotHolder(replace(settings, rate_limit=0))), raise_server_exceptions=False) as client:
        yield client


def post(client: TestClient, body: bytes, content_type: str = "application/json"):
    return client.post("/api/chat", content=body, headers={"content-type": content_type})


def check(response, allowed: set[int]) -> dict:
    """The response is one of ``allowed``, JSON, and either a reply or an error that says something."""
    assert response.status_code in allowed, (response.status_code, response.text[:300])
    data = response.json()
    if response.status_code == 200:
        assert REPLY_KEYS <= set(data) and isinstance(data["answer"], str) and data["answer"].strip()
    else:
        assert set(data) == {"error"} and data["error"]["code"] and data["error"]["message"]
        assert "Traceback" not in response.text
    return data


@FUZZ
@given(value=json_values)
@example(value=[])
@example(value={"message": None})
@example(value={"message": "hi", "history": {"role": "user"}})
def test_any_json_value_gets_a_reply_or_a_4xx(real_client, value):
    check(post(real_client, json.dumps(value).encode()), {200} | CLIENT_ERRORS)


@FUZZ
@given(body=chat_bodies)
@example(body={"message": "\ud800 how much does it cost?"})  # a lone surrogate, as JSON can escape it
@example(body={"message": "\u200b\u200b\x00 \t"})
@example(body={"message": "how much?", "history": [{"role": "user", "content": "\udfff"}] * 40})
def test_any_chat_request_gets_a_reply_or_a_422_naming_the_field(real_client, body):
    data = check(post(real_client, json.dumps(body).encode()), {200, 422})
    if "error" in data:
        field = data["error"]["message"].split(":")[0]
        assert field in {"message", "history", "body"} or field.startswith("history["), data


@FUZZ
@given(body=st.binary(max_size=2000), content_type=st.sampled_from(
    ["application/json", "application/json; charset=utf-16", "text/plain", "application/x-www-form-urlencoded",
     "multipart/form-data; boundary=x", "", "application/JSON", "application/json;;;", "*/*"]))
@example(body=b"[" * 50_000 + b"]" * 50_000, content_type="application/json")
@example(body=b'{"message": NaN}', content_type="application/json")
@example(body=b"\xef\xbb\xbf{\"message\": \"hi\"}", content_type="application/json")
@example(body='{"message": "hi"}'.encode("utf-16"), content_type="application/json")
def test_any_bytes_under_any_media_type_get_a_4xx_or_a_reply(real_client, body, content_type):
    check(post(real_client, body, content_type), {200} | CLIENT_ERRORS)


@FUZZ
@given(depth=st.integers(min_value=1, max_value=30_000), kind=st.sampled_from(["[]", "{}"]))
def test_deeply_nested_json_is_refused_not_crashed_on(real_client, depth, kind):
    body = ('{"a":' * depth + "1" + "}" * depth) if kind == "{}" else ("[" * depth + "]" * depth)
    check(post(real_client, body.encode()), {400, 413, 422})


@FUZZ
@given(body=chat_bodies | json_values)
def test_while_loading_every_request_gets_a_crisis_reply_a_503_or_a_4xx(loading_client, body):
    response = post(loading_client, json.dumps(body).encode())
    if response.status_code == 503:
        assert response.json()["error"]["code"] == "not_ready" and response.headers["retry-after"]
        return
    data = check(response, {200} | CLIENT_ERRORS)
    if response.status_code == 200:
        assert data["crisis"] is True


# --- the corpus reader -----------------------------------------------------------------------

markdownish = st.lists(
    st.sampled_from(["# ", "## ", "### ", "- ", "1. ", "---", "title: x", "url: y", "<h1>", "</h1>", "<p>", "<script>", "\n", "\n\n", "  ", "?"])
    | st.text(max_size=40),
    max_size=40,
).map("".join)


@FUZZ
@given(text=st.text(max_size=3000) | markdownish, suffix=st.sampled_from([".md", ".txt", ".html"]))
@example(text="", suffix=".md")
@example(text="---\ntitle: x\n", suffix=".md")
@example(text="# A\n# A\ntext", suffix=".md")
@example(text="<h1 id='x'>A</h1><h2 id='x'>B</h2><p>t</p>", suffix=".html")
@example(text="\x00\x01\ud7ff\ufffe", suffix=".txt")
def test_any_text_is_read_or_refused_with_the_file_named(text, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "corpus"
        root.mkdir()
        path = root / f"doc{suffix}"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            doc = parse_document(path, root)
        except CorpusError as exc:
            assert f"corpus/doc{suffix}" in str(exc)
            return
        for chunk in chunk_document(doc, 160):
            assert chunk.text.strip() and chunk.source == f"corpus/doc{suffix}"


@FUZZ
@given(data=st.binary(max_size=500))
def test_any_bytes_are_read_or_refused_with_the_file_named(data):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "corpus"
        root.mkdir()
        (root / "doc.md").write_bytes(data)
        try:
            parse_document(root / "doc.md", root)
        except CorpusError as exc:
            assert "corpus/doc.md" in str(exc)


@FUZZ
@given(text=st.text(max_size=600) | st.lists(st.sampled_from(
    ["- section: doc.md#a\n", "  questions:\n", "    - ", "what?\n", "- ", ":", "#", "&a ", "*a", "[", "{", "\n", "  "]), max_size=30).map("".join))
def test_any_questions_file_is_read_or_refused_with_the_file_named(text):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "corpus"
        root.mkdir()
        (root / "doc.md").write_text("# Doc\n\n## A\n\nSome text about a.\n")
        (root / "questions.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        documents = [parse_document(root / "doc.md", root)]
        try:
            load_questions(root, documents)
        except CorpusError as exc:
            assert "corpus/questions.yaml" in str(exc)
