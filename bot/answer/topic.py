"""Is a message a question for a clinic at all? A small logistic model over the question's
sentence vector, which tells a visitor's question about a clinic (any clinic: its care,
costs, staff, hours, policies) from a request about anything else (the weather, a poem, a
recipe).

It decides one thing: whether the closest sections may be offered when the bot does not
answer (:mod:`bot.answer.suggest`). Off-topic requests get a plain abstention; it never
stops an answer. It is fit with the served embedding model, on the training collection's
visitor questions (training/retrieval/, 64 kinds of clinic) against off-topic requests
written apart (training/offtopic/), by ``python -m bot.evaluation.fit --replies``, and kept
beside the model's weights (``topic.json``). Without the file, every message counts as a
clinic question, as before.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.answer.answerability import MODEL_FILE, ModelFileError
from bot.search.embedder import PACKAGED

logger = logging.getLogger(__name__)

FILE_NAME = "topic.json"


def topic_file(embedding_model: str | Path) -> Path:
    """The topic model fit with ``embedding_model`` (as the setting names it)."""
    return MODEL_FILE.with_name(FILE_NAME) if str(embedding_model) == PACKAGED else Path(embedding_model) / FILE_NAME


@dataclass(frozen=True, slots=True)
class TopicModel:
    weights: np.ndarray  # one per dimension of the sentence vector
    bias: float
    threshold: float  # the least probability of a clinic question at which sections are offered
    meta: dict

    def probability(self, vector: np.ndarray) -> float:
        """How likely the text whose (unit) sentence vector this is asks something of a clinic."""
        z = float(vector @ self.weights) + self.bias
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))

    def on_topic(self, vector: np.ndarray) -> bool:
        return self.probability(vector) >= self.threshold

    @classmethod
    def load(cls, path: Path) -> TopicModel | None:
        """The model in ``path``, or None when there is none (every message on topic)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(np.asarray(data["weights"], dtype=np.float32), float(data["bias"]), float(data["threshold"]),
                       dict(data.get("meta") or {}))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFileError(f"{path} cannot be read ({exc}): restore it from git or run "
                                 "'python -m bot.evaluation.fit --replies'") from None

    def save(self, path: Path) -> None:
        data = {"format": 1, "bias": self.bias, "threshold": self.threshold, "meta": self.meta,
                "weights": [round(float(w), 6) for w in self.weights]}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data) + "\n", encoding="utf-8")
        tmp.replace(path)
