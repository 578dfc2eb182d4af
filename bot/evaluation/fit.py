"""Fit the answerability model on the tuning corpora: ``python -m bot.evaluation.fit``.

For every question of the tuning corpora's evaluation files, each candidate section the
retriever finds is one example: positive when one of its sentences holds one of the
question's facts, negative otherwise (every section of a question the corpus does not
answer is negative). A logistic regression (scikit-learn) is fit on the standardised
features; the threshold is the probability that best separates, on the same corpora,
questions whose best section answers from questions that should abstain (the mean over
corpora of the two pass rates). Leave-one-corpus-out ROC AUC is reported and stored.

Held-out corpora (tests/data/corpora/SPLIT.md) are never read here.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot import evaluation
from bot.answer.answerability import CLIP, FEATURES, AnswerabilityModel, model_file
from bot.answer.query import prepare
from bot.evaluation.replies import fit_replies
from bot.search.embedder import PACKAGED, model_name
from bot.settings import DEFAULT_EMBEDDING_MODEL

logger = logging.getLogger(__name__)

CORPORA = Path("tests/data/corpora")
# Chosen before any result was seen (tests/data/corpora/SPLIT.md).
TUNING = ("article", "dental-html", "physio-faq", "medspa-multi", "ketamine-mixed-a")
# Tuning corpora too (SPLIT.md), added in session 7. A refit on all eight (546 questions) moved
# answers down on three of the five above (up on one) and traded answers for abstentions on
# these (docs/EVALUATION.md), so the shipped model stays fit on the five; add these to TUNING
# to try again.
MORE_TUNING = ("chiro-html", "ortho-md", "podiatry-multi")
HELD_OUT = (  # never read here
    "fertility-txt", "dermatology-blog", "ketamine-mixed-b", "eye-clinic", "hearing-clinic", "ketamine-mixed-c",
    "sleep-clinic", "allergy-txt", "ketamine-mixed-d", "vein-clinic", "urgent-care", "ketamine-mixed-e",
    "weight-loss", "counseling", "ketamine-mixed-f",
    "travel-clinic", "hair-restoration", "acupuncture", "ketamine-mixed-g",
)


def examples(folder: Path, embedder) -> list[dict]:
    """One row per (question, candidate section) of ``folder``'s evaluation file."""
    bot = evaluation.load_bot(folder / "corpus", embedder)
    rows = []
    for case in evaluation.load_cases(folder / evaluation.EVAL_FILE):
        if case.kind not in ("answer", "abstain") or case.history or case.parts:
            continue
        query = prepare([case.q], bot.retriever, embedder)[" ".join(case.q.split())]
        evidence = bot.retriever.evidence(query.vector, query.terms, query.word_vectors, query.forms)
        facts = [evaluation.normalized(f) for f in case.facts]
        for rank, e in enumerate(evidence):
            text = evaluation.normalized(" ".join(s.text for s in e.sentences))
            right = case.kind == "answer" and any(f in text for f in facts)
            if case.source and right:
                right = Path(e.chunk.source).name == case.source
            rows.append({"corpus": folder.name, "case": case.id, "kind": case.kind, "rank": rank,
                         "label": int(right), "features": e.features, "probability": e.probability,
                         "q": case.q, "text": f"{e.chunk.section}. " + " ".join(s.text for s in e.sentences)})
    return rows


def fit(rows: list[dict], c: float = 1.0):
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r["features"][f] for f in FEATURES] for r in rows], dtype=np.float64)
    y = np.array([r["label"] for r in rows])
    means, scales = x.mean(axis=0), x.std(axis=0)
    scales[scales == 0] = 1.0
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    model.fit(np.clip((x - means) / scales, -CLIP, CLIP), y)
    return AnswerabilityModel(
        dict(zip(FEATURES, map(float, model.coef_[0]), strict=True)),
        dict(zip(FEATURES, map(float, means), strict=True)),
        dict(zip(FEATURES, map(float, scales), strict=True)),
        float(model.intercept_[0]),
        0.5,
        {},
    )


def outcomes(rows: list[dict], model: AnswerabilityModel) -> dict[tuple[str, str], tuple[str, float, bool]]:
    """Per question: its kind, the best probability, and whether that section is right."""
    best: dict[tuple[str, str], tuple[str, float, bool]] = {}
    for r in rows:
        key = (r["corpus"], r["case"])
        p = model.probability(r["features"])
        if key not in best or p > best[key][1]:
            best[key] = (r["kind"], p, bool(r["label"]))
    return best


def pass_rates(items, threshold: float) -> tuple[float | None, float | None]:
    """Of per-question outcomes (kind, best probability, whether that section is right): the
    share of answerable questions answered from the right section at ``threshold``, and the
    share of the others that abstain (None when there are none)."""
    answers = [p >= threshold and right for kind, p, right in items if kind == "answer"]
    abstains = [p < threshold for kind, p, _ in items if kind == "abstain"]
    return tuple(sum(v) / len(v) if v else None for v in (answers, abstains))


def choose_threshold(rows: list[dict], model: AnswerabilityModel) -> tuple[float, float]:
    """The threshold with the best mean over corpora of (answer rate + abstain rate) / 2."""
    per_question = outcomes(rows, model)
    corpora = sorted({k[0] for k in per_question})
    best = (-1.0, 0.5)
    for t in np.arange(0.05, 0.96, 0.01):
        scores = []
        for corpus in corpora:
            items = [v for k, v in per_question.items() if k[0] == corpus]
            rates = [r for r in pass_rates(items, t) if r is not None]
            scores.append(sum(rates) / len(rates))
        best = max(best, (float(np.mean(scores)), round(float(t), 2)))
    return best[1], best[0]


def auc(rows: list[dict], model: AnswerabilityModel) -> float:
    """ROC AUC of answerable-with-the-right-section against the rest, per question."""
    from sklearn.metrics import roc_auc_score

    items = list(outcomes(rows, model).values())
    y = [int(kind == "answer" and right) for kind, _, right in items]
    return float(roc_auc_score(y, [p for _, p, _ in items])) if 0 < sum(y) < len(y) else float("nan")


def _examples(root: Path, saved: str | None, model: str = DEFAULT_EMBEDDING_MODEL) -> list[dict]:
    """The examples of the tuning corpora under ``root``, read from ``saved`` when it exists
    (else computed with the real model, and written there when given)."""
    if saved and Path(saved).is_file():
        return json.loads(Path(saved).read_text())
    from bot.search.embedder import MiniLMEmbedder

    embedder = MiniLMEmbedder(model=model)
    rows = []
    for name in TUNING:
        if not (root / name / evaluation.EVAL_FILE).is_file():
            print(f"skipping {name}: no {evaluation.EVAL_FILE}", file=sys.stderr)
            continue
        print(f"examples from {name} ...", file=sys.stderr)
        rows += examples(root / name, embedder)
    if saved:
        Path(saved).write_text(json.dumps(rows))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.evaluation.fit", description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default=str(CORPORA), help="folder of evaluation corpora")
    parser.add_argument("--model", default=DEFAULT_EMBEDDING_MODEL,
                        help=f"the embedding model to fit with: '{PACKAGED}' or a model folder (default: the one served)")
    parser.add_argument("--out", help="where to write the model (default: the file the bot loads with --model's model)")
    parser.add_argument("--c", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--rows", help="reuse (or write) the examples as JSON here")
    parser.add_argument("--replies", action="store_true",
                        help="keep the model's weights; choose only when to answer, offer suggestions or abstain")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    root = Path(args.corpora)
    assert not set(TUNING + MORE_TUNING) & set(HELD_OUT), "a held-out corpus is listed for tuning"
    if args.replies:
        fit_replies(root, args.model, Path(args.out) if args.out else model_file(args.model), args.rows)
        return 0
    rows = _examples(root, args.rows, args.model)
    cv = {}
    for name in sorted({r["corpus"] for r in rows}):
        train = [r for r in rows if r["corpus"] != name]
        test = [r for r in rows if r["corpus"] == name]
        cv[name] = round(auc(test, fit(train, args.c)), 3)
    model = fit(rows, args.c)
    threshold, score = choose_threshold(rows, model)
    questions = len({(r["corpus"], r["case"]) for r in rows})
    final = AnswerabilityModel(
        model.weights, model.means, model.scales, model.bias, threshold,
        {
            "fit_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "embedding_model": model_name(args.model),
            "corpora": sorted({r["corpus"] for r in rows}),
            "questions": questions,
            "examples": len(rows),
            "positives": sum(r["label"] for r in rows),
            "c": args.c,
            "threshold_score": round(score, 4),
            "leave_one_corpus_out_auc": cv,
            "auc_on_fit_data": round(auc(rows, model), 3),
        },
    )
    out = Path(args.out) if args.out else model_file(args.model)
    final.save(out)
    print(json.dumps(final.meta, indent=1))
    print("weights:", json.dumps({k: round(v, 3) for k, v in final.weights.items()}))
    print(f"threshold {threshold:.2f}")
    fit_replies(root, args.model, out)  # the thresholds of the third reply depend on the weights
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
