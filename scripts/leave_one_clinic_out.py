"""Trials: what more data and learned quoting do, leaving one clinic out at a time
(docs/EVALUATION.md, session 9). Not used by the bot.

Every opened corpus under ``tests/data/corpora`` serves as data (the article's three files
count as one clinic). For each clinic left out in turn, models are fit on the others and
scored on it, best section only (no follow-ups, no two-part questions):

- ``sections``: the answerability model refit on the other clinics (logistic as shipped,
  and boosted trees), threshold chosen on them, against the shipped model: the share of
  answerable questions whose best section holds the fact and clears the threshold, and of
  unanswerable ones that stay under it;
- ``sentences``: within a best section that holds the fact, the share of questions whose
  fact is in the top 1 / 2 / 3 sentences, ranked by the bot's rank and by a logistic model
  and boosted trees over general sentence features.

    .venv/bin/python scripts/leave_one_clinic_out.py --rows /tmp/loco sections
    .venv/bin/python scripts/leave_one_clinic_out.py --rows /tmp/loco sentences

The rows are computed once with the real model (about 2 minutes a corpus) and kept in
``--rows``. Fresh corpora that are still sealed must not be under the corpora folder.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import evaluation  # noqa: E402
from bot.answer import compose  # noqa: E402
from bot.answer.answerability import FEATURES, AnswerabilityModel  # noqa: E402
from bot.answer.forms import gives  # noqa: E402
from bot.answer.query import prepare  # noqa: E402
from bot.evaluation.fit import HELD_OUT, TUNING, choose_threshold, examples, fit, outcomes, pass_rates  # noqa: E402

CORPORA = Path("tests/data/corpora")
_DIGIT = re.compile(r"\d")


def clinic(name: str) -> str:
    return "article" if name.startswith("article") else name


def sentence_rows(folder: Path, embedder) -> list[dict]:
    """For each single-turn answerable question, each of its three best sections holding a
    fact: the sections' sentences with their labels, the bot's rank and general features."""
    bot = evaluation.load_bot(folder / "corpus", embedder)
    retriever, rows = bot.retriever, []
    for case in evaluation.load_cases(folder / evaluation.EVAL_FILE):
        if case.kind != "answer" or case.history or case.parts:
            continue
        query = prepare([case.q], retriever, embedder)[" ".join(case.q.split())]
        evidence = retriever.evidence(query.vector, query.terms, query.word_vectors, query.forms)
        facts = [evaluation.normalized(f) for f in case.facts]
        near = retriever.words.soft_matches(query.terms, query.word_vectors)  # once per question
        for place, section in enumerate(evidence[:3]):
            wrong_source = case.source and Path(section.chunk.source).name != case.source
            labels = [int(not wrong_source and any(f in evaluation.normalized(s.text) for f in facts)) for s in section.sentences]
            if any(labels):
                sentences = [dict(label=y, **sentence_features(retriever, query, near, section, k)) for k, y in enumerate(labels)]
                rows.append(dict(corpus=folder.name, case=case.id, place=place, sentences=sentences))
    return rows


def sentence_features(retriever, query, near: np.ndarray, section, k: int) -> dict:
    s = section.sentences[k]
    terms, top = query.terms, max(x.score for x in section.sentences)
    own = retriever.sentence_terms(s.row)[s.index]
    soft = focus = shared = 0.0
    if terms.stems:
        weights = np.array([terms.weights[t] for t in terms.stems])
        matches = retriever.words.matches(terms, near, retriever._sentence_words(s.row)[s.index], own)
        soft, focus = float(matches @ weights / weights.sum()), float(matches[terms.stems.index(terms.focus)])
        shared = retriever.words.coverage(terms, own)[0]
    form = 0.5 if not query.forms else float(gives(s.text, query.forms))
    features = dict(
        score=s.score, gap=s.score - top, shared=shared, soft=soft, focus=focus, form=form,
        novelty=math.log1p(s.novelty), item=float(s.is_item), first=float(k == 0),
        place=k / max(len(section.sentences) - 1, 1), words=math.log1p(len(s.text.split())),
        digit=float(bool(_DIGIT.search(s.text))), leans=float(bool(compose._LEANS_BACK.match(s.text))),
        announces=float(bool(compose._ANNOUNCES.search(s.text))), question=float(s.text.rstrip().endswith("?")),
    )
    return dict(text=s.text, row=s.row, index=s.index, rank=s.rank, f=features)


def load_rows(folder: Path, kind: str) -> dict[str, list[dict]]:
    """Rows per corpus, computed (and kept in ``folder``) on first use."""
    folder.mkdir(parents=True, exist_ok=True)
    embedder, out = None, {}
    for corpus in evaluation.corpus_folders(CORPORA):
        path = folder / f"{kind}-{corpus.name}.json"
        if not path.is_file():
            if embedder is None:
                from bot.search.embedder import MiniLMEmbedder

                embedder = MiniLMEmbedder()
            print(f"rows of {corpus.name} ...", file=sys.stderr, flush=True)
            rows = examples(corpus, embedder) if kind == "sections" else sentence_rows(corpus, embedder)
            path.write_text(json.dumps([{k: v for k, v in r.items() if k != "text"} for r in rows]))
        out[corpus.name] = json.loads(path.read_text())
    return out


class Trees:
    """Boosted trees with the answerability model's ``probability(features)``."""

    def __init__(self, rows: list[dict]) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier

        y = np.array([r["label"] for r in rows])
        weight = np.where(y == 1, (len(y) - y.sum()) / max(y.sum(), 1), 1.0)
        self.model = HistGradientBoostingClassifier(
            max_depth=3, learning_rate=0.05, max_iter=200, l2_regularization=1.0, random_state=0
        )
        self.model.fit(_matrix(rows), y, sample_weight=weight)
        self.known: dict[int, float] = {}

    def score(self, rows: list[dict]) -> Trees:
        for r, p in zip(rows, self.model.predict_proba(_matrix(rows))[:, 1], strict=True):
            self.known[id(r["features"])] = float(p)
        return self

    def probability(self, features: dict) -> float:
        return self.known[id(features)]


def _matrix(rows: list[dict]) -> np.ndarray:
    return np.array([[r["features"][f] for f in FEATURES] for r in rows])


def rates(rows: list[dict], model, threshold: float) -> tuple[float | None, float | None]:
    return pass_rates(outcomes(rows, model).values(), threshold)


def sections(rows: dict[str, list[dict]]) -> dict[str, dict[str, tuple[float, float]]]:
    shipped = AnswerabilityModel.load()
    scores: dict[str, dict] = {"shipped": {}, "logistic": {}, "trees": {}}
    everything = [r for rs in rows.values() for r in rs]
    for left_out in sorted({clinic(n) for n in rows}):
        train = [r for n, rs in rows.items() if clinic(n) != left_out for r in rs]
        logistic = fit(train)
        trees = Trees(train).score(everything)
        for name, model in (("logistic", logistic), ("trees", trees)):
            threshold = choose_threshold(train, model)[0]
            for corpus in (n for n in rows if clinic(n) == left_out):
                scores[name][corpus] = rates(rows[corpus], model, threshold)
        for corpus in (n for n in rows if clinic(n) == left_out):
            scores["shipped"][corpus] = rates(rows[corpus], shipped, shipped.threshold)
    return scores


def sentences(rows: dict[str, list[dict]]) -> dict[str, dict[str, tuple[float, ...]]]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    def x(row):
        return np.array([[s["f"][k] for k in sorted(s["f"])] for s in row["sentences"]])

    def found(row, ranks):
        order = np.argsort(-np.asarray(ranks))
        return [float(any(row["sentences"][i]["label"] for i in order[:k])) for k in (1, 2, 3)]

    scores: dict[str, dict] = {"bot": {}, "logistic": {}, "trees": {}}
    for left_out in sorted({clinic(n) for n in rows}):
        train = [r for n, rs in rows.items() if clinic(n) != left_out for r in rs]
        features = np.vstack([x(r) for r in train])
        y = np.array([s["label"] for r in train for s in r["sentences"]])
        mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-9
        logistic = LogisticRegression(class_weight="balanced", max_iter=3000).fit((features - mean) / scale, y)
        trees = HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=200, random_state=0).fit(features, y)
        for corpus in (n for n in rows if clinic(n) == left_out):
            best = [r for r in rows[corpus] if r["place"] == 0]
            ranked = {
                "bot": [[s["rank"] for s in r["sentences"]] for r in best],
                "logistic": [logistic.decision_function((x(r) - mean) / scale) for r in best],
                "trees": [trees.predict_proba(x(r))[:, 1] for r in best],
            }
            for name, ranks in ranked.items():
                scores[name][corpus] = tuple(np.mean([found(r, k) for r, k in zip(best, ranks, strict=True)], axis=0))
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trial", choices=("sections", "sentences"))
    parser.add_argument("--rows", type=Path, required=True, help="folder where the rows are kept")
    args = parser.parse_args(argv)
    rows = load_rows(args.rows, args.trial)
    scores = sections(rows) if args.trial == "sections" else sentences(rows)
    for corpus in sorted(rows):
        print(corpus, "  ".join(f"{m} " + "/".join(f"{v:.3f}" for v in s[corpus]) for m, s in scores.items()))
    for label, names in (("held out", HELD_OUT), ("tuning", TUNING), ("all", tuple(rows))):
        line = "  ".join(
            f"{m} " + "/".join(f"{v:.3f}" for v in np.mean([s[n] for n in names if n in s], axis=0)) for m, s in scores.items()
        )
        print(f"macro, {label}: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
