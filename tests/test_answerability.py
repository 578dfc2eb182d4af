"""The answerability model: the shipped file, its fit, and what a broken file says."""

from __future__ import annotations

import json
import random

import pytest

from bot.answer.answerability import FEATURES, MODEL_FILE, AnswerabilityModel, ModelFileError
from bot.evaluation import fit


def rows(n: int = 600, seed: int = 0) -> list[dict]:
    """Synthetic candidate sections: a section answers when its best sentence is close and
    its rarest word covered, with noise."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        features = {name: rng.random() for name in FEATURES}
        answers = features["sentence"] + features["focus"] + rng.gauss(0, 0.3) > 1.3
        out.append({"corpus": f"c{i % 3}", "case": str(i // 4), "kind": "answer", "rank": i % 4,
                    "label": int(answers), "features": features})
    return out


def test_the_fit_learns_what_the_labels_say():
    model = fit.fit(rows())
    middle = dict.fromkeys(FEATURES, 0.5)
    assert model.probability(middle | {"sentence": 0.9, "focus": 0.9}) > 0.8
    assert model.probability(middle | {"sentence": 0.1, "focus": 0.1}) < 0.2
    assert max(model.weights, key=lambda n: abs(model.weights[n])) in ("sentence", "focus")


def test_the_model_round_trips_through_its_file(tmp_path):
    model = fit.fit(rows())
    model.save(tmp_path / "m.json")
    again = AnswerabilityModel.load(tmp_path / "m.json")
    sample = dict.fromkeys(FEATURES, 0.4)
    assert again.probability(sample) == pytest.approx(model.probability(sample))


def test_the_shipped_model_was_fit_on_tuning_corpora_only():
    model = AnswerabilityModel.load(MODEL_FILE)
    assert model.meta["corpora"] and set(model.meta["corpora"]) <= set(fit.TUNING + fit.MORE_TUNING)
    assert not set(model.meta["corpora"]) & set(fit.HELD_OUT)
    assert 0.0 < model.threshold < 1.0
    assert set(model.weights) == set(FEATURES)


def test_a_missing_model_file_falls_back_to_neutral_weights(tmp_path):
    model = AnswerabilityModel.load(tmp_path / "nowhere.json")
    close = dict.fromkeys(FEATURES, 0.0) | {"sentence": 0.9, "coverage": 1.0, "focus": 1.0}
    far = dict.fromkeys(FEATURES, 0.0) | {"sentence": 0.1}
    assert model.probability(close) > model.probability(far)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "cannot be read"),
        (json.dumps({"features": ["sentence"], "weights": {}}), "cannot be read"),
        (json.dumps({"features": ["shoe_size"], "weights": {"shoe_size": 1}, "means": {}, "scales": {}, "bias": 0, "threshold": 0.5}),
         "unknown features"),
    ],
)
def test_a_broken_model_file_is_named_with_what_to_do(tmp_path, content, says):
    path = tmp_path / "answerability.json"
    path.write_text(content)
    with pytest.raises(ModelFileError) as caught:
        AnswerabilityModel.load(path)
    message = str(caught.value)
    assert str(path) in message and says in message and "python -m bot.evaluation.fit" in message
