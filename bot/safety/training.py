"""Train the crisis model from the collection, choose its threshold, and report it.

``python -m bot.safety train`` runs the whole recipe, seeded:

1. start from the packaged all-MiniLM-L6-v2, cut to its first ``layers`` layers (a pass
   through three costs about half of one through six);
2. fine-tune it (all but the word embeddings) with a logistic head on its mean-pooled token states (binary cross-entropy,
   AdamW with a linear warm-up and decay, batches of messages of similar length) on the
   training split;
3. choose the threshold on the tuning split: the lowest probability that still flags no
   more than ``lookalike_rate`` of its look-alikes (dark words, no risk) and no more than
   ``ordinary_rate`` of its ordinary clinic questions;
4. write the folder (fp16 weights, tokenizer, ``head.json``) and its model card, with the
   tuning split's figures per category.

``python -m bot.safety evaluate FILE...`` reports any labelled file per category, for the
shipped check (floor and model) and, with ``--old REV``, for the check of an earlier commit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bot.safety.collection import ORDINARY, Collection, Example
from bot.safety.model import HEAD_FILE, CrisisModel, Head
from bot.safety.patterns import sure_sign
from bot.search.embedder import packaged_path

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Recipe:
    layers: int = 3
    epochs: int = 2
    batch_size: int = 16
    body_lr: float = 4e-5
    head_lr: float = 1e-3
    warmup: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 96
    seed: int = 0
    lookalike_rate: float = 0.08  # the share of the tuning split's look-alikes the threshold may flag
    ordinary_rate: float = 0.01  # ... and of its ordinary clinic questions (no dark words at all)


@dataclass
class Rates:
    """Recognised (crisis) or flagged (look-alike) messages per category."""

    hits: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)

    def add(self, category: str, hit: bool) -> None:
        self.hits[category] = self.hits.get(category, 0) + int(hit)
        self.totals[category] = self.totals.get(category, 0) + 1

    @property
    def all(self) -> tuple[int, int]:
        return sum(self.hits.values()), sum(self.totals.values())

    def rows(self) -> list[tuple[str, int, int]]:
        return [(c, self.hits[c], self.totals[c]) for c in sorted(self.totals)]


@dataclass
class Report:
    crisis: Rates = field(default_factory=Rates)
    lookalike: Rates = field(default_factory=Rates)

    @classmethod
    def of(cls, examples: Sequence[Example], flagged: Sequence[bool]) -> Report:
        report = cls()
        for example, hit in zip(examples, flagged, strict=True):
            (report.crisis if example.crisis else report.lookalike).add(example.category, bool(hit))
        return report

    def markdown(self, title: str = "") -> str:
        lines = [f"| {title or 'category'} | recognised |", "| --- | ---: |"]
        lines += [f"| {c} | {h}/{n} ({h / n:.0%}) |" for c, h, n in self.crisis.rows()]
        h, n = self.crisis.all
        if n:
            lines.append(f"| **all crisis** | **{h}/{n} ({h / n:.1%})** |")
        lines += ["", f"| {title or 'look-alike'} kind | flagged |", "| --- | ---: |"]
        lines += [f"| {c} | {h}/{n} ({h / n:.0%}) |" for c, h, n in self.lookalike.rows()]
        h, n = self.lookalike.all
        if n:
            lines.append(f"| **all look-alikes** | **{h}/{n} ({h / n:.1%})** |")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"crisis": {c: [h, n] for c, h, n in self.crisis.rows()},
                "lookalike": {c: [h, n] for c, h, n in self.lookalike.rows()},
                "crisis_all": list(self.crisis.all), "lookalike_all": list(self.lookalike.all)}


CHECK_MESSAGES = ("how much does a session cost?", "i dont want to wake up tomorrow", "my back is killing me lol")


def choose_threshold(lookalike_probabilities: np.ndarray, rate: float) -> float:
    """The lowest threshold that flags at most ``rate`` of these look-alikes (a message is a
    crisis at or above it)."""
    p = np.sort(np.asarray(lookalike_probabilities, np.float64))[::-1]
    allowed = int(np.floor(rate * len(p)))  # how many may be flagged
    if allowed >= len(p):
        return 0.0
    return float(np.nextafter(p[allowed], 1.0))  # just above the first look-alike that must not be flagged


def train(examples: Sequence[Example], recipe: Recipe, progress: Callable[[int, int, float], None] | None = None):
    """Fine-tune the cut model and its head; returns (tokenizer, body, head weights, bias)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    random.seed(recipe.seed)
    np.random.seed(recipe.seed)
    torch.manual_seed(recipe.seed)
    path = str(packaged_path())
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    body = AutoModel.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    body.encoder.layer = body.encoder.layer[: recipe.layers]
    body.config.num_hidden_layers = recipe.layers
    # The word embeddings stay as they are: a third of the weights, and the slowest to update.
    body.embeddings.word_embeddings.weight.requires_grad_(False)
    head = torch.nn.Linear(body.config.hidden_size, 1)
    tuned = [p for p in body.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": tuned, "lr": recipe.body_lr}, {"params": head.parameters(), "lr": recipe.head_lr}],
        weight_decay=recipe.weight_decay,
    )
    # Batches of messages of similar length (little padding), in a shuffled order.
    ordered = sorted(examples, key=lambda e: (len(e.text), e.text))
    batches = [ordered[i : i + recipe.batch_size] for i in range(0, len(ordered), recipe.batch_size)]
    steps = recipe.epochs * len(batches)
    warm = max(1, int(recipe.warmup * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps))
    rng = random.Random(recipe.seed)
    body.train()
    done = 0
    for _ in range(recipe.epochs):
        rng.shuffle(batches)
        for batch in batches:
            encoded = tokenizer([e.text for e in batch], padding=True, truncation=True, max_length=recipe.max_length, return_tensors="pt")
            states = body(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            target = torch.tensor([e.crisis for e in batch], dtype=torch.float32)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(head(pooled).squeeze(-1), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            done += 1
            if progress:
                progress(done, steps, loss.item())
    body.eval()
    weights = head.weight.detach().numpy()[0].astype(np.float32)
    return tokenizer, body, weights, float(head.bias.detach()[0])


def write_model(out: Path, tokenizer, body, head: Head, about: dict) -> None:
    """The folder, written beside ``out`` and renamed into place."""
    import torch

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    body.to(torch.float16).save_pretrained(str(tmp), safe_serialization=True)
    body.to(torch.float32)
    tokenizer.save_pretrained(str(tmp))
    (tmp / HEAD_FILE).write_text(json.dumps(head.to_json(**about), indent=1) + "\n", encoding="utf-8")
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_training(collection: Collection, out: Path, recipe: Recipe, progress=None) -> dict:
    """Train, choose the threshold on the tuning split, write the folder; the figures."""
    started = time.perf_counter()
    tokenizer, body, weights, bias = train(collection.training, recipe, progress)
    minutes = (time.perf_counter() - started) / 60
    provisional = Head(weights, bias, 0.5, recipe.max_length)
    about = {"recipe": asdict(recipe),
             "data_sha256": collection.digest(), "training_examples": len(collection.training),
             "tuning_examples": len(collection.tuning), "training_minutes": round(minutes, 1)}
    write_model(out, tokenizer, body, provisional, about)
    model = CrisisModel(out)  # the shipped fp16 weights, read back as they will be served
    tuning = list(collection.tuning)
    p = probabilities(model, [e.text for e in tuning])
    dark = np.array([not e.crisis and e.category != ORDINARY for e in tuning])
    plain = np.array([not e.crisis and e.category == ORDINARY for e in tuning])
    threshold = max(choose_threshold(p[dark], recipe.lookalike_rate),
                    choose_threshold(p[plain], recipe.ordinary_rate) if plain.any() else 0.0)
    flagged = (p >= threshold) | np.array([sure_sign(e.text) for e in tuning], bool)  # as the check decides
    report = Report.of(tuning, flagged)
    about["tuning"] = report.to_json()
    # Stored so a test can tell that the shipped folder still computes what it did here.
    about["check"] = {t: round(float(x), 6) for t, x in zip(CHECK_MESSAGES, model.probability(list(CHECK_MESSAGES)), strict=True)}
    (out / HEAD_FILE).write_text(json.dumps(Head(weights, bias, threshold, recipe.max_length).to_json(**about), indent=1) + "\n", encoding="utf-8")
    return {"threshold": threshold, "minutes": minutes, "report": report, "about": about}


def probabilities(model: CrisisModel, texts: Sequence[str], batch: int = 32) -> np.ndarray:
    out = [model.probability(list(texts[i : i + batch])) for i in range(0, len(texts), batch)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)
