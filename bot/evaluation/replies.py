"""When to offer the closest sections instead of answering or abstaining (issue 25):
``python -m bot.evaluation.fit --replies`` (and after every full fit).

1. The topic model (:mod:`bot.answer.topic`) is fit on the served model's sentence vectors:
   the training collection's visitor questions (training/retrieval/) against off-topic
   requests written apart (training/offtopic/).
2. For each single-turn question of the tuning corpora, and each request of the fit half of
   tests/data/offtopic.jsonl (odd ids) against each tuning corpus: the best section's
   probability, whether the composed answer holds a fact, the gap to the best section of
   another page, the topic probability, and whether picking each section offered holds a fact.
3. The suggestions threshold, the topic threshold and the ambiguity margin are chosen on those
   rows (:func:`choose_reply_thresholds`). The answer threshold is the model's own, unchanged.

Held-out corpora and the test half of the off-topic requests are never read here.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot import evaluation
from bot.answer.answerability import AnswerabilityModel
from bot.answer.query import prepare
from bot.answer.topic import TopicModel, topic_file

OFFTOPIC = Path("tests/data/offtopic.jsonl")  # requests no clinic answers: odd ids fit, even ids test
TOPIC_TRAINING = (Path("training/retrieval/clinics"), Path("training/offtopic/messages.jsonl"))
# The most of the fit half's off-topic requests that may be offered sections. The bot already
# answers about 4% of them (the answer rule, which this fit leaves alone): suggestions may add
# at most this much to that.
OFFTOPIC_SUGGESTED = 0.01
TOPIC_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
AMBIGUITY_MARGINS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.1)


def fit_topic(embedder, clinics: Path = TOPIC_TRAINING[0], offtopic: Path = TOPIC_TRAINING[1]) -> TopicModel:
    """A logistic regression over sentence vectors: clinic visitors' questions against
    off-topic requests (its threshold is chosen later, with the replies')."""
    from sklearn.linear_model import LogisticRegression

    def texts(path: Path) -> list[str]:
        return [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    clinic = [q for path in sorted(clinics.glob("*/questions.jsonl")) for q in texts(path)]
    other = texts(offtopic)
    x = embedder.encode(clinic + other)
    y = np.array([1] * len(clinic) + [0] * len(other))
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000).fit(x, y)
    meta = {"clinic_questions": len(clinic), "offtopic_requests": len(other), "embedding_model": embedder.name,
            "accuracy_on_fit_data": round(float(model.score(x, y)), 4)}
    return TopicModel(model.coef_[0].astype(np.float32), float(model.intercept_[0]), 0.5, meta)


def reply_rows(folder: Path, embedder, offtopic: list, topic: TopicModel | None = None, settings=None,
               threshold: float | None = None) -> list[dict]:
    """Per single-turn question of ``folder`` (and per off-topic request, kind "offtopic"):
    the best section's probability, whether the composed answer holds a fact, the gap to the
    best section of another page, the topic probability, and whether picking each section
    offered holds a fact."""
    from bot.answer import suggest
    from bot.answer.compose import quote, render
    from bot.replies import Reply, ReplyKind

    bot = evaluation.load_bot(folder / "corpus", embedder, settings=settings)
    if threshold is not None:  # decided at the answerability fit's own threshold
        bot.threshold = threshold
    cases = [c for c in evaluation.load_cases(folder / evaluation.EVAL_FILE)
             if c.kind in ("answer", "abstain") and not c.history and not c.parts]
    rows = []
    for case in [*cases, *offtopic]:
        query = prepare([case.q], bot.retriever, embedder)[" ".join(case.q.split())]
        decision = bot.decide(query)
        evidence = decision.evidence

        def holds(quotes, case=case) -> bool:
            text, citations = render(quotes)
            return case.kind == "answer" and evaluation.passed(case, Reply(text, ReplyKind.ANSWER, citations))

        best = evidence[0] if evidence else None
        other = next((e for e in evidence[1:] if best and e.chunk.source != best.chunk.source), None)
        rows.append({
            "corpus": folder.name, "case": case.id, "kind": "offtopic" if case in offtopic else case.kind,
            "p": best.probability if best else 0.0, "offer": decision.offer and bool(evidence),
            "topic": topic.probability(query.vector) if topic is not None else 1.0,
            "answered": decision.answerable, "right": decision.answerable and holds(decision.quotes),
            "threshold": bot.threshold,
            "gap": None if other is None or best is None else best.probability - other.probability,
            "picks": [holds([(e, tuple(quote(e)))]) for e in suggest.offered(evidence)],
        })
    return rows


@dataclasses.dataclass(frozen=True, slots=True)
class ReplyThresholds:
    answer: float  # the answerability model's own threshold
    suggest: float
    topic: float
    ambiguity: float


def reply_outcome(row: dict, t: ReplyThresholds) -> str:
    """What the bot replies to ``row``'s question: "answer", "suggestions" or "abstention".
    ``row["answered"]`` was decided at the model's own threshold (``row["threshold"]``): a
    higher answer threshold takes back the answers between the two (not a curated phrasing's,
    which answers below any threshold)."""
    answered = row["answered"] and not (row["threshold"] <= row["p"] < t.answer)
    tied = answered and row["p"] >= t.answer and row["gap"] is not None and row["gap"] < t.ambiguity
    if answered and not tied:
        return "answer"
    if row["offer"] and row["topic"] >= t.topic and row["p"] >= min(t.suggest, t.answer):
        return "suggestions"
    return "answer" if answered else "abstention"


def reply_scores(rows: list[dict], t: ReplyThresholds) -> dict[str, dict[str, float]]:
    """Per corpus: found (answerable questions answered right, or offered a section that
    answers), answered right, and stated wrongly (an answer without the fact, or to a
    question the pages do not answer, over all its questions)."""
    out: dict[str, dict[str, list]] = {}
    for r in rows:
        if r["kind"] == "offtopic":
            continue
        kind = reply_outcome(r, t)
        d = out.setdefault(r["corpus"], {"found": [], "right": [], "wrong": []})
        if r["kind"] == "answer":
            d["found"].append((kind == "answer" and r["right"]) or (kind == "suggestions" and any(r["picks"])))
            d["right"].append(kind == "answer" and r["right"])
        d["wrong"].append(kind == "answer" and not r["right"])
    return {c: {k: sum(v) / len(v) if v else 0.0 for k, v in d.items()} for c, d in out.items()}


def right_counts(rows: list[dict], t: ReplyThresholds) -> dict[str, int]:
    """Per corpus: the answerable questions answered right."""
    out: dict[str, int] = {}
    for r in rows:
        if r["kind"] == "answer":
            out[r["corpus"]] = out.get(r["corpus"], 0) + (reply_outcome(r, t) == "answer" and r["right"])
    return out


def choose_reply_thresholds(rows: list[dict], threshold: float) -> tuple[ReplyThresholds, dict]:
    """The thresholds with the best macro (found - stated wrongly) on the tuning corpora, such
    that at most ``OFFTOPIC_SUGGESTED`` of the fit half's off-topic requests are offered
    sections and no corpus answers fewer questions right than at the model's own threshold
    without suggestions (the answer threshold may only rise where that costs no right
    answer). None qualifying: no suggestions band."""
    offtopic = [r for r in rows if r["kind"] == "offtopic"]
    before = ReplyThresholds(threshold, threshold, 1.0, 0.0)
    base, base_right = reply_scores(rows, before), right_counts(rows, before)
    best = None
    for answer in np.arange(threshold, 0.99, 0.01):
        for topic in TOPIC_THRESHOLDS:
            for suggest in np.arange(0.05, answer + 1e-9, 0.05):
                t = ReplyThresholds(round(float(answer), 2), round(float(suggest), 2), topic, 0.0)
                suggested = float(np.mean([reply_outcome(r, t) == "suggestions" for r in offtopic])) if offtopic else 0.0
                if suggested > OFFTOPIC_SUGGESTED:
                    continue
                for ambiguity in AMBIGUITY_MARGINS:
                    t = dataclasses.replace(t, ambiguity=ambiguity)
                    if any(n < base_right[c] for c, n in right_counts(rows, t).items()):
                        continue
                    scores = reply_scores(rows, t)
                    value = float(np.mean([s["found"] - s["wrong"] for s in scores.values()]))
                    if best is None or value > best[0] + 1e-9:
                        best = (value, t, scores)
    if best is None:
        return before, {"value": None, "note": "no thresholds met the constraints"}
    value, t, scores = best

    def macro(values: dict, key: str) -> float:
        return round(float(np.mean([s[key] for s in values.values()])), 4)

    plain = float(np.mean([reply_outcome(r, t) == "abstention" for r in offtopic])) if offtopic else None
    summary = {"objective": "macro found - macro stated wrongly", "value": round(value, 4),
               "answer_threshold": t.answer, "offtopic_plain_abstentions_fit_half": plain,
               "found": macro(scores, "found"), "answered_right": macro(scores, "right"),
               "stated_wrongly": macro(scores, "wrong"),
               "before": {"found": macro(base, "found"), "stated_wrongly": macro(base, "wrong")}}
    return t, summary


def fit_replies(root: Path, model: str, out: Path, saved: str | None = None) -> AnswerabilityModel:
    """Keep the answerability model in ``out``; fit the topic model and choose the
    suggestions threshold, the topic threshold and the ambiguity margin on the tuning corpora."""
    from bot.evaluation.fit import MORE_TUNING, TUNING
    from bot.search.embedder import MiniLMEmbedder
    from bot.settings import Settings

    current = AnswerabilityModel.load(out)
    # The threshold the answerability fit chose: the answer threshold is chosen again from it.
    fitted_threshold = float(current.meta.get("threshold_before_replies", current.threshold))
    embedder = MiniLMEmbedder(model=model)
    topic = fit_topic(embedder)
    if saved and Path(saved).is_file():
        rows = json.loads(Path(saved).read_text())
    else:
        offtopic = evaluation.offtopic_half(OFFTOPIC, "fit")
        rows = []
        for name in TUNING + MORE_TUNING:
            if (root / name / evaluation.EVAL_FILE).is_file():
                print(f"replies on {name} ...", file=sys.stderr)
                settings = dataclasses.replace(Settings.from_env(), embedding_model=model)  # its answerability file
                rows += reply_rows(root / name, embedder, offtopic, topic, settings, fitted_threshold)
        if saved:
            Path(saved).write_text(json.dumps(rows))
    t, summary = choose_reply_thresholds(rows, fitted_threshold)
    at = datetime.now(UTC).isoformat(timespec="seconds")
    meta = {**current.meta, "threshold_before_replies": fitted_threshold,
            "replies_fit": {"at": at, "corpora": sorted({r["corpus"] for r in rows}), **summary}}
    fitted = dataclasses.replace(current, threshold=t.answer, suggest=t.suggest, ambiguity=t.ambiguity, meta=meta)
    fitted.save(out)
    dataclasses.replace(topic, threshold=t.topic, meta={**topic.meta, "fit_at": at}).save(topic_file(model))
    print(json.dumps(meta["replies_fit"], indent=1))
    print(f"answer at {t.answer:.2f}, suggestions from {t.suggest:.2f} when the topic model gives at least "
          f"{t.topic:.2f}, ambiguity margin {t.ambiguity:.2f}")
    return fitted
