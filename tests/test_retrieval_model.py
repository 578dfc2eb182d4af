"""The retrieval model adapted to clinic questions (models/retrieval/, bot/model/): the
weights shipped are the ones their card names, they still compute what they computed when
trained, an index is only served by the model it was built with, and the collection reader
pairs questions with the passages that hold their facts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from bot.answer.answerability import MODEL_FILE, AnswerabilityModel, model_file
from bot.errors import ModelMissing
from bot.model.collection import load_collection, query_of
from bot.model.training import ABOUT_FILE, CHECK_TEXTS
from bot.search.embedder import PACKAGED, MiniLMEmbedder, model_name
from bot.search.reindex import check
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TUNED = ROOT / "models" / "retrieval"


def about() -> dict:
    return json.loads((TUNED / ABOUT_FILE).read_text(encoding="utf-8"))


def test_the_shipped_weights_are_the_ones_their_card_names():
    digest = hashlib.sha256((TUNED / "model.safetensors").read_bytes()).hexdigest()
    assert about()["weights_sha256"] == digest
    assert digest in (TUNED / "README.md").read_text(encoding="utf-8")
    assert model_name(TUNED) == f"all-MiniLM-L6-v2-clinic@{digest[:16]}" == about()["name"]
    assert model_name(PACKAGED) == "all-MiniLM-L6-v2"


def test_a_sentence_from_the_shipped_folder_has_the_vector_it_had_when_trained(embedder):
    tuned = MiniLMEmbedder(model=TUNED)
    got = tuned.encode(list(CHECK_TEXTS))
    stored = np.array([about()["check"][t] for t in CHECK_TEXTS], np.float32)
    assert np.abs(got - stored).max() < 1e-4
    # ... and it is a model of its own: the packaged model puts the same texts elsewhere
    assert np.abs(MiniLMEmbedder(model=PACKAGED).encode(list(CHECK_TEXTS)) - stored).max() > 1e-2
    # ... and it is the one the bot serves unless told otherwise
    assert embedder.name == model_name(Settings().embedding_model) == model_name(TUNED)


def test_a_folder_without_weights_says_how_to_get_them(tmp_path):
    with pytest.raises(ModelMissing, match="make model") as caught:
        model_name(tmp_path / "retrieval")
    assert "FAQBOT_EMBEDDING_MODEL=packaged" in str(caught.value)


def test_an_index_built_with_one_model_is_stale_for_another(index_dir):
    built = Settings(corpus_dir=ROOT / "tests/data/corpora/article/corpus", index_dir=index_dir)
    same = check(built)
    other = PACKAGED if str(built.embedding_model) != PACKAGED else str(TUNED)
    changed = check(Settings(corpus_dir=built.corpus_dir, index_dir=index_dir, embedding_model=other))
    assert same == []
    assert changed == [f"the index was built with {model_name(built.embedding_model)}, the bot runs {model_name(other)}"]


PAGE = """# Foot clinic

## Custom insoles

Custom orthotics cost $495 per pair and take two weeks to make.

## Ingrown toenails

The toe stays numb for about three hours after the procedure.
"""


def _collection(tmp_path: Path, rows: list[dict]) -> Path:
    clinic = tmp_path / "clinics" / "foot"
    (clinic / "corpus").mkdir(parents=True)
    (clinic / "corpus" / "services.md").write_text(PAGE, encoding="utf-8")
    (clinic / "questions.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return tmp_path


def test_questions_pair_with_the_passage_holding_their_fact(tmp_path):
    root = _collection(tmp_path, [
        {"id": "a1", "kind": "answer", "q": "how much r insoles", "facts": ["cost $495 per pair"]},
        {"id": "f1", "kind": "answer", "q": "and how long is it numb?", "facts": ["stays numb for about three hours"],
         "history": [{"role": "user", "content": "Do you treat ingrown toenails?"}, {"role": "assistant", "content": "Yes."}]},
        {"id": "a2", "kind": "answer", "q": "a span no page holds", "facts": ["costs nothing at all"]},
        {"id": "n1", "kind": "abstain", "q": "is there wifi"},
        {"id": "c1", "kind": "crisis", "q": "not the retrieval model's business"},
    ])
    collection = load_collection(root)
    (clinic,) = collection.clinics
    insoles, numb = clinic.answerable()
    assert "Custom insoles" in clinic.passages[insoles.positives[0]]
    assert "numb" in clinic.passages[numb.positives[0]]
    assert numb.follow_up and "ingrown" in numb.query.lower()  # read with the previous question's words
    assert [q.query for q in clinic.unanswerable()] == ["is there wifi"]
    assert collection.summary()["unmatched"] == 1
    assert len(collection.digest) == 64


def test_a_follow_up_without_history_is_read_as_written():
    assert query_of("how much is it?", []) == "how much is it?"


def test_each_model_is_served_with_the_answerability_model_fit_on_its_cosines():
    assert model_file(PACKAGED) == MODEL_FILE
    assert model_file(str(TUNED)) == TUNED / "answerability.json"
    packaged, tuned = AnswerabilityModel.load(MODEL_FILE), AnswerabilityModel.load(model_file(str(TUNED)))
    assert tuned.meta["embedding_model"] == model_name(TUNED)  # fit with these weights, not others
    assert tuned.weights != packaged.weights
