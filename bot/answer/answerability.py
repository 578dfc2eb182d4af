"""How likely a section is to answer a question: a small logistic model over general
features, fit on the tuning corpora and shipped as a readable JSON file.

The features (computed by :class:`bot.answer.retrieval.Retriever`) say nothing about any one
clinic's subject: how close the question is to the section's best sentence, best passage
and heading; BM25; how much of the question's words the section covers, exactly and in
meaning (each word's best match among the section's words), and above all its rarest word;
how close the curated phrasings are; where the section sits in its document; and the gaps
to the best candidate. ``python -m bot.evaluation.fit`` refits it (docs/EVALUATION.md); the file
records the corpora and questions it was fit on and the threshold chosen on them.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from bot.errors import BotError
from bot.search.embedder import PACKAGED

logger = logging.getLogger(__name__)

MODEL_FILE = Path(__file__).with_name("answerability.json")  # fit with the packaged model
FILE_NAME = MODEL_FILE.name


def model_file(embedding_model: str | Path) -> Path:
    """The answerability model fit with ``embedding_model`` (as the setting names it): this
    folder's file for the packaged model, the one beside a tuned model's weights otherwise.
    Its features are cosines of that model: another model's would misjudge them."""
    return MODEL_FILE if str(embedding_model) == PACKAGED else Path(embedding_model) / FILE_NAME

FEATURES = (
    "sentence", "dense", "heading", "lexical", "lexical_share", "coverage", "soft", "focus",
    "weakest", "unmatched", "sentence_soft", "sentence_focus", "form", "heading_coverage", "phrasing", "place", "sentence_gap",
    "dense_gap", "heading_gap", "focus_known", "words",
)


CLIP = 3.0


class ModelFileError(BotError):
    pass


@dataclass(frozen=True, slots=True)
class AnswerabilityModel:
    """``probability(features)`` = logistic(bias + sum(weight * clip((x - mean) / scale))):
    each standardised feature is clipped to +-``CLIP`` so that a value far outside what the
    model was fit on (a heading that is the question word for word) cannot swing it alone."""

    weights: dict[str, float]
    means: dict[str, float]
    scales: dict[str, float]
    bias: float
    threshold: float  # the least probability at which the best section may answer
    meta: dict
    # Below ``threshold``, the least probability at which the closest sections are offered
    # as suggestions (below it: a plain abstention). None: no suggestions band.
    suggest: float | None = None
    # Two best sections from different pages this close in probability: the bot cannot tell
    # which the visitor means, so it offers both instead of answering (0: never).
    ambiguity: float = 0.0

    @property
    def suggest_threshold(self) -> float:
        return self.threshold if self.suggest is None else min(self.suggest, self.threshold)

    def probability(self, features: dict[str, float]) -> float:
        z = self.bias
        for name, w in self.weights.items():
            z += w * min(max((features.get(name, 0.0) - self.means[name]) / self.scales[name], -CLIP), CLIP)
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))

    def to_json(self) -> dict:
        return {
            "format": 1,
            "features": list(self.weights),
            "weights": self.weights,
            "means": self.means,
            "scales": self.scales,
            "bias": self.bias,
            "threshold": self.threshold,
            **({"suggest_threshold": self.suggest, "ambiguity_margin": self.ambiguity} if self.suggest is not None else {}),
            "meta": self.meta,
        }

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> AnswerabilityModel:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            names = data["features"]
            unknown = set(names) - set(FEATURES)
            if unknown:
                raise ValueError(f"unknown features {sorted(unknown)}")
            return cls(
                {n: float(data["weights"][n]) for n in names},
                {n: float(data["means"][n]) for n in names},
                {n: float(data["scales"][n]) or 1.0 for n in names},
                float(data["bias"]),
                float(data["threshold"]),
                dict(data.get("meta") or {}),
                None if data.get("suggest_threshold") is None else float(data["suggest_threshold"]),
                float(data.get("ambiguity_margin") or 0.0),
            )
        except FileNotFoundError:
            logger.warning("%s is missing: using neutral weights; run 'python -m bot.evaluation.fit'", path)
            return cls.neutral()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFileError(f"{path} cannot be read ({exc}): restore it from git or run 'python -m bot.evaluation.fit'") from None

    @classmethod
    def neutral(cls) -> AnswerabilityModel:
        """Before any fit: sentence similarity and coverage only."""
        weights = dict.fromkeys(FEATURES, 0.0)
        weights.update(sentence=1.0, coverage=1.0, focus=1.0)
        return cls(weights, dict.fromkeys(FEATURES, 0.0), {"sentence": 0.1, **dict.fromkeys(FEATURES[1:], 0.3)}, -9.0, 0.5, {})

    def save(self, path: Path = MODEL_FILE) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)
