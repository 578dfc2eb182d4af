"""A short run of the soak script (``make soak`` runs the full one: 32 clients for 60 s
while re-indexing twice): no 5xx, no dropped connection, every new index served."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.slow  # starts a model or a server by itself
def test_a_short_soak_under_reindexing_has_no_5xx_and_no_dropped_connection(tmp_path):
    out = tmp_path / "soak.json"
    done = subprocess.run(
        [sys.executable, "scripts/soak.py", "--seconds", "8", "--clients", "8", "--reindexes", "1", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(out.read_text())
    assert summary["status_5xx"] == 0 and summary["dropped"] == 0 and summary["unexpected"] == 0
    assert summary["answered_chat"] > 20 and summary["chat_latency_ms"]["p95"] > 0
    assert [r["exit"] for r in summary["reindexes"]] == [0] and summary["reindexes"][0]["served_after_seconds"] is not None
    assert "p95" in done.stdout and "| question |" in done.stdout
