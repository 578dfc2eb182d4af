"""The engines that run the model: ONNX Runtime gives PyTorch's vectors (fp32) or close ones
in their own space (int8), an index is served only in the space it was built in, and a
bot on an ONNX engine answers, recognises a crisis and never loads torch."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bot.errors import EngineError, IndexMismatch
from bot.search.engines import (
    ENGINES,
    ONNX,
    ONNX_INT8,
    SAME_SPACE_COSINE,
    check_engine,
    open_embedder,
    read_meta,
    space_name,
)
from bot.search.export import exported, weights_file
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

TEXTS = [
    "How much does it cost?",
    "  cost  ",
    "wat r the side efects of ketamin??",
    "Can I drive home afterwards, or should somebody pick me up? My husband works until six.",
    "¿Habla español? Ich möchte einen Termin — 100% sure",
    # longer than the model reads (256 tokens): both engines cut it at the same place
    " ".join(["The infusion takes about forty minutes and a nurse stays with you the whole time."] * 30),
]


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory) -> Path:
    """A fresh export cache: the exports these tests check are made by the code under test."""
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def fp32(onnx_dir):
    return open_embedder(engine=ONNX, onnx_dir=onnx_dir, threads=1)


@pytest.fixture(scope="module")
def int8(onnx_dir):
    return open_embedder(engine=ONNX_INT8, onnx_dir=onnx_dir, threads=1)


def test_an_unknown_engine_is_refused_with_the_ones_that_exist():
    with pytest.raises(EngineError, match=r"FAQBOT_ENGINE='tensorrt' is not an engine: use one of torch, onnx, onnx-int8"):
        check_engine("tensorrt")
    assert Settings.from_env({"FAQBOT_ENGINE": "onnx-int8"}).engine == "onnx-int8"


def test_int8_vectors_are_another_space_and_fp32_ones_are_not():
    base = space_name("packaged", "torch")
    assert space_name("packaged", "onnx") == base
    assert space_name("packaged", "onnx-int8") == base + "+int8"
    assert set(ENGINES) == {"torch", "onnx", "onnx-int8"}


@pytest.mark.slow
def test_onnx_fp32_gives_pytorchs_vectors_one_text_or_many(fp32, embedder):
    want = embedder.encode(TEXTS)
    for got in (fp32.encode(TEXTS), np.concatenate([fp32.encode([t]) for t in TEXTS])):
        assert (got * want).sum(axis=1).min() >= SAME_SPACE_COSINE
    assert fp32.name == embedder.name and fp32.engine == "onnx"
    # a bulk encode (an index build) sorts and batches, and keeps the order
    many = [f"question number {i} about {'cost ' * (i % 7)}" for i in range(70)]
    assert (fp32.encode(many) * embedder.encode(many)).sum(axis=1).min() >= SAME_SPACE_COSINE


@pytest.mark.slow
def test_onnx_int8_stays_close_to_pytorch_and_says_how_close(int8, embedder, onnx_dir):
    cosine = (int8.encode(TEXTS) * embedder.encode(TEXTS)).sum(axis=1)
    assert cosine.min() > 0.97
    meta = read_meta(exported("packaged", ONNX_INT8, onnx_dir))
    assert meta.engine == ONNX_INT8 and 0.97 < meta.cosine_min <= meta.cosine_mean < SAME_SPACE_COSINE
    assert int8.name.endswith("+int8")
    # its own space: a question still finds its own nearest text
    questions = ["how much does it cost", "can i drive home after", "is it safe during pregnancy"]
    passages = ["Each infusion costs $450 and is paid at the visit.", "You cannot drive until the next day.",
                "Ketamine is not given to pregnant patients."]
    sims = int8.encode(questions) @ int8.encode(passages).T
    assert list(sims.argmax(axis=1)) == [0, 1, 2]


@pytest.mark.slow
def test_the_tokenizer_knows_the_same_words(fp32, embedder):
    assert fp32.known_words() == embedder.known_words()
    assert fp32.frequent_words(500) == embedder.frequent_words(500)


@pytest.mark.slow
def test_an_export_is_made_once_and_reused(onnx_dir):
    graph = exported("packaged", ONNX, onnx_dir)
    stamp = graph.stat().st_mtime_ns
    assert exported("packaged", ONNX, onnx_dir) == graph and graph.stat().st_mtime_ns == stamp
    assert not [p for p in graph.parent.iterdir() if p.name.startswith(".") and p.name != ".lock"]


@pytest.mark.slow
def test_an_index_is_served_only_in_the_space_it_was_built_in(tmp_path, settings, embedder, fp32, int8):
    from bot.answer.service import Bot
    from bot.search.folder import read_manifest
    from bot.search.reindex import check, reindex

    assert read_manifest(settings.index_dir).engine == "torch"
    # fp32 ONNX serves the PyTorch build as it is, with the same answers
    torch_bot, onnx_bot = Bot.load(settings, embedder), Bot.load(settings, fp32)
    for q in ["how much is it", "can I drive myself home?", "whats ketamin"]:
        a, b = torch_bot.answer(q), onnx_bot.answer(q)
        assert (a.answer, [c.anchor for c in a.citations]) == (b.answer, [c.anchor for c in b.citations])
    # int8 refuses it, and a re-index with the int8 engine rebuilds it for int8
    with pytest.raises(IndexMismatch, match=r"\+int8"):
        Bot.load(settings, int8)
    own = replace(settings, index_dir=tmp_path / "index", engine="onnx-int8")
    reindex(replace(own, engine="torch"), embedder)
    assert check(own), "switching to int8 must make the index stale"
    reindex(own, int8)
    manifest = read_manifest(own.index_dir)
    assert (manifest.engine, manifest.model) == ("onnx-int8", int8.name) and not check(own)
    reply = Bot.load(own, int8).answer("how much does it cost")
    assert not reply.abstained and "$" in reply.answer


SERVE_WITHOUT_TORCH = """
import json, sys
from pathlib import Path
from bot.settings import Settings
from bot.search.reindex import reindex
from bot.serve.runtime import BotHolder
settings = Settings(corpus_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]), engine=sys.argv[3],
                    onnx_dir=Path(sys.argv[4]), warm_words=0, log_questions=False)
reindex(settings)
holder = BotHolder(settings)
holder.load()
bot = holder.bot
replies = [bot.answer(q) for q in ["how much does it cost", "I have pills saved up and tonight is the night"]]
print(json.dumps({"kinds": [r.kind.value for r in replies], "answer": replies[0].answer,
                  "loaded": sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules)}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["onnx", "onnx-int8"])
def test_a_server_on_an_onnx_engine_answers_and_never_loads_torch(tmp_path, onnx_dir, engine, fp32, int8):
    from conftest import CORPUS, CRISIS_MODEL

    from bot.safety.model import Head, exported_crisis

    exported_crisis(CRISIS_MODEL, Head.from_json(json.loads((CRISIS_MODEL / "head.json").read_text())), onnx_dir)

    run = subprocess.run([sys.executable, "-c", SERVE_WITHOUT_TORCH, str(CORPUS), str(tmp_path / "index"), engine,
                          str(onnx_dir)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["kinds"] == ["answer", "crisis"] and "$" in out["answer"]
    # once both models are exported (the first index build or start), serving needs no torch
    assert out["loaded"] == [], out


@pytest.mark.slow
def test_the_crisis_model_scores_the_same_through_onnx(onnx_dir, crisis_check):
    from bot.safety.model import CrisisModel

    messages = [json.loads(line)["q"] for line in
                (ROOT / "tests" / "data" / "crisis_and_lookalikes.jsonl").read_text().splitlines()[:80] if line.strip()]
    onnx = CrisisModel(ROOT / "models" / "crisis", onnx_dir)
    got, want = onnx.probability(messages), crisis_check.model.probability(messages)
    assert np.abs(got - want).max() < 1e-4
    assert ((got >= onnx.threshold) == (want >= onnx.threshold)).all()


@pytest.mark.slow
def test_a_broken_export_cache_is_made_again(onnx_dir, tmp_path):
    graph = exported("packaged", ONNX_INT8, onnx_dir)
    copy = tmp_path / "cache" / graph.parent.name
    copy.mkdir(parents=True)
    (copy / graph.name).write_bytes(b"")
    (copy / graph.with_suffix(".json").name).write_text("{not json")
    again = exported("packaged", ONNX_INT8, tmp_path / "cache")
    assert weights_file(again).stat().st_size > 1_000_000 and read_meta(again).engine == ONNX_INT8


@pytest.mark.slow
def test_the_crisis_check_runs_on_pytorch_when_its_export_cannot_be_written(tmp_path, caplog):
    import logging

    from conftest import CRISIS_MODEL

    from bot.safety.check import CrisisCheck

    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the export folder would go")
    settings = Settings(crisis_model=CRISIS_MODEL, engine="onnx", onnx_dir=blocked)
    with caplog.at_level(logging.WARNING, logger="bot.safety.check"):
        check = CrisisCheck.for_settings(settings)
    assert "runs on PyTorch instead" in caplog.text and "FAQBOT_ONNX_DIR" in caplog.text
    assert check.is_crisis("i have decided tonight is the night, i have the pills ready")
    assert not check.is_crisis("how much is one infusion?")


def test_a_wrong_engine_setting_stops_the_start_with_the_fix():
    with pytest.raises(ValueError, match=r"FAQBOT_ENGINE='cuda' is not an engine: use one of torch, onnx, onnx-int8"):
        Settings.from_env({"FAQBOT_ENGINE": "cuda"})
