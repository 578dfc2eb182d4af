"""The command line, run as a user would: a subprocess with the real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, ROOT


def run(*args: str, index_dir: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "FAQBOT_INDEX_DIR": str(index_dir), "FAQBOT_CORPUS_DIR": str(CORPUS)}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=check)


def test_ask_json_follows_the_api_contract(index_dir):
    result = run("ask", "how much does it cost?", "--json", index_dir=index_dir)
    reply = json.loads(result.stdout)
    assert set(reply) >= {"answer", "abstained", "crisis", "citations"}
    assert "$400-$600" in reply["answer"] and not reply["abstained"] and not reply["crisis"]
    (citation,) = [c for c in reply["citations"] if c["anchor"] == "how-much-does-ketamine-infusion-cost"]
    assert citation["section"] == "How much does ketamine infusion cost?"
    assert citation["source"] == "corpus/ketamine-infusion-insurance.md"
    assert citation["url"] == "/source/ketamine-infusion-insurance#how-much-does-ketamine-infusion-cost"
    assert citation["quote"] in reply["answer"] and isinstance(citation["score"], float)


def test_ask_prints_answer_and_sources_for_a_person(index_dir):
    out = run("ask", "does insurance cover it?", index_dir=index_dir).stdout
    assert "Sources:" in out and "Is ketamine infusion covered by insurance?" in out


def test_help_lists_the_commands(index_dir):
    out = run("--help", index_dir=index_dir).stdout
    for command in ("index", "ask", "eval"):
        assert command in out


@pytest.mark.slow  # starts a model or a server by itself
def test_index_builds_then_skips_when_current(tmp_path):
    out = tmp_path / "idx"
    first = run("index", "--out", str(out), "--json", index_dir=out)
    summary = json.loads(first.stdout)
    assert summary["documents"] == 1 and summary["chunks"] > 10
    again = run("index", "--out", str(out), "--if-needed", index_dir=out)
    assert "is current" in again.stdout


@pytest.mark.slow  # starts a model or a server by itself
def test_missing_index_is_a_clear_error(tmp_path):
    result = run("ask", "cost?", index_dir=tmp_path / "none", check=False)
    assert result.returncode == 2
    assert "python -m bot index" in result.stderr and "Traceback" not in result.stderr
