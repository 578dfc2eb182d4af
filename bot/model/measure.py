"""How well a model finds the passage that answers, before anything else the bot does.

For every corpus of an evaluation folder (``tests/data/corpora/<name>/corpus`` and
``eval.jsonl``), single-turn questions only:

- **top 1**: the passage the model ranks first holds one of the question's facts;
- **top 3**: one of its first three does;
- **AUC**: how well the best cosine tells an answerable question whose first passage is
  right from an unanswerable one (1.0: always; 0.5: no better than chance), the separation
  an answerability threshold has to work with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.evaluation import EVAL_FILE
from bot.model.collection import read_clinic


@dataclass(frozen=True, slots=True)
class Figures:
    name: str
    questions: int
    top1: float
    top3: float
    auc: float | None  # None without unanswerable questions

    def row(self) -> str:
        auc = "—" if self.auc is None else f"{self.auc:.3f}"
        return f"| {self.name} | {self.questions} | {self.top1:.1%} | {self.top3:.1%} | {auc} |"


def auc(positive: Sequence[float], negative: Sequence[float]) -> float | None:
    """Probability that a positive scores above a negative (ties count half)."""
    if not len(positive) or not len(negative):
        return None
    p, n = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float((p > n).mean() + 0.5 * (p == n).mean())


def measure(folder: Path, embedder, max_words: int = 160) -> Figures:
    clinic = read_clinic(folder.name, folder / "corpus", folder / EVAL_FILE, max_words)
    single = [q for q in clinic.questions if not q.follow_up]
    asked = [q for q in single if q.answerable]
    passages = embedder.encode(clinic.passages)
    scores = embedder.encode([q.query for q in single]) @ passages.T
    order = np.argsort(-scores, axis=1)[:, :3]
    best = scores.max(axis=1)
    first = np.array([int(o[0]) in q.positives for o, q in zip(order, single, strict=True)])
    three = np.array([any(int(i) in q.positives for i in o) for o, q in zip(order, single, strict=True)])
    right = np.array([q.answerable for q in single]) & first
    wrong = np.array([not q.answerable for q in single])
    answerable = np.array([q.answerable for q in single])
    return Figures(folder.name, len(asked), float(first[answerable].mean()) if asked else 0.0,
                   float(three[answerable].mean()) if asked else 0.0, auc(best[right], best[wrong]))


def table(groups: dict[str, list[Figures]]) -> str:
    """One Markdown table: a row per corpus, then each group's macro average."""
    lines = ["| corpus | answerable questions | top 1 | top 3 | AUC |", "|---|---|---|---|---|"]
    for name, rows in groups.items():
        lines += [r.row() for r in rows]
        lines.append(macro(f"**{name}, macro**", rows).row())
    return "\n".join(lines)


def macro(name: str, rows: Sequence[Figures]) -> Figures:
    aucs = [r.auc for r in rows if r.auc is not None]
    return Figures(name, sum(r.questions for r in rows), float(np.mean([r.top1 for r in rows])),
                   float(np.mean([r.top3 for r in rows])), float(np.mean(aucs)) if aucs else None)
