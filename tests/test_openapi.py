"""The API's own contract (/api/openapi.json), and schemathesis run against it on a real server."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
from conftest import CORPUS
from fastapi.testclient import TestClient

from bot.adapters.api import create_api
from bot.serve.runtime import BotHolder
from bot.settings import Settings

ROUTES = {"/api/chat": "post", "/healthz": "get", "/source/{name}": "get", "/admin/reload": "post"}


def test_the_contract_is_the_bots_own_titled_and_versioned_with_every_route():
    client = TestClient(create_api(BotHolder(Settings(corpus_dir=CORPUS))))  # not loaded: the contract needs no model
    doc = client.get("/api/openapi.json").json()
    assert doc["info"]["title"] == "Clinic FAQ bot API" and doc["info"]["version"]
    assert {path: next(iter(ops)) for path, ops in doc["paths"].items()} == ROUTES
    schemas = doc["components"]["schemas"]
    assert {"ChatRequest", "Reply", "Citation", "Error"} <= set(schemas)
    assert schemas["ChatRequest"]["properties"]["message"]["maxLength"] == Settings().max_message_chars
    assert schemas["Reply"]["required"] == ["answer", "kind", "abstained", "crisis", "citations", "suggestions"]
    assert schemas["Reply"]["properties"]["kind"]["enum"] == ["answer", "suggestions", "abstention", "crisis"]
    assert "section" in schemas["ChatRequest"]["properties"] and "Suggestion" in schemas
    # The corpus's documents are the examples of /source/{name}.
    name = doc["paths"]["/source/{name}"]["get"]["parameters"][0]["schema"]["examples"]
    assert name == ["ketamine-infusion-insurance"]


def test_admin_routes_without_a_token_answer_404_in_the_apis_error_shape():
    client = TestClient(create_api(BotHolder(Settings(corpus_dir=CORPUS))))
    r = client.post("/admin/reload")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert "FAQBOT_ADMIN_TOKEN" in r.json()["error"]["message"]


def test_schemathesis_finds_no_server_error_and_every_reply_matches_its_schema(server, tmp_path):
    """Every operation of the contract, generated requests (valid and not) against the real
    server: no 5xx, only documented statuses and media types, every body as documented."""
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st is not None, "schemathesis is not installed: run make install"
    assert httpx.get(f"{server}/healthz").status_code == 200
    result = subprocess.run(
        [st, "run", f"{server}/api/openapi.json", "--url", server,
         "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
         "--max-examples", "25", "--seed", "1", "--generation-database", "none"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "4 selected / 4 total" in result.stdout and "passed" in result.stdout
