"""The retrieval model's card (``models/retrieval/README.md``), written from ``training.json``."""

from __future__ import annotations

import json
from pathlib import Path

from bot.model.measure import Figures, macro, table
from bot.model.training import ABOUT_FILE


def write_card(folder: Path, about: dict | None = None) -> None:
    about = about or json.loads((folder / ABOUT_FILE).read_text(encoding="utf-8"))
    data, recipe = about["collection"], about["recipe"]
    lines = [
        "# all-MiniLM-L6-v2, adapted to clinic questions",
        "",
        "The bot's retrieval model: the sentence-embedding model that ranks a clinic's passages for a",
        "visitor's question. It is all-MiniLM-L6-v2 fine-tuned as a bi-encoder on question -> passage",
        "pairs (`python -m bot.model train`, `make model`; bot/model/training.py has the recipe).",
        "",
        f"- **Name in index manifests:** `{about['name']}`",
        f"- **Weights:** `model.safetensors`, fp16, sha256 `{about['weights_sha256']}` (a test checks it)",
        f"- **Base model:** {about['base_model']}; loaded from the package's folder, never from a hub",
        f"- **Training data:** `training/retrieval/` (its README says how it was written), sha256 `{data['sha256']}`:",
        f"  {data['clinics']} clinics, {data['passages']} passages, {data['answerable']} answerable questions "
        f"({data['follow_ups']} follow-ups), {data['unanswerable']} near misses; {data['unmatched']} questions "
        f"left out (no passage holds their fact); {about['triples']} (question, passage, hard negative) triples",
        f"- **Recipe:** sentence-transformers' trainer, MultipleNegativesRankingLoss (scale {recipe['scale']}), "
        f"one mined hard negative per question, {recipe['epochs']} epoch(s), batch {recipe['batch_size']} "
        f"without duplicate passages, AdamW at {recipe['learning_rate']} with {recipe['warmup_ratio']:.0%} warm-up, "
        f"texts cut at {recipe['max_seq_length']} tokens in training (256 when served), seed {recipe['seed']}",
        f"- **Training time:** {about['training_minutes']} minutes on 2 CPU threads",
        "- **Not trained on:** any evaluation corpus (documents or questions), nor five kinds of clinic "
        "left out on purpose (`training/retrieval/split.json`)",
        "- **Served with:** `answerability.json` beside it, the answerability model fit on the tuning corpora "
        "with this model's cosines (`python -m bot.evaluation.fit --model models/retrieval`); the whole bot's "
        "figures with it are in docs/EVALUATION.md",
        "- **Limits:** English only; questions and pages like those of clinic websites; a passage is read "
        "up to 256 tokens. It ranks passages; it does not decide whether one answers (the answerability "
        "model does) nor whether a message is a crisis (models/crisis/ does)",
        "",
    ]
    for label, key in (("This model", "measured"), ("The packaged model", "measured_packaged")):
        groups = about.get(key)
        if not groups:
            continue
        rows = {g: [Figures(**r) for r in rs] for g, rs in groups.items()}
        lines += [f"## {label}: the best passage, dense retrieval only (`python -m bot.model measure`)", "",
                  table(rows), ""]
    if about.get("measured") and about.get("measured_packaged"):
        lines += ["## Before and after, macro", "", "| group | top 1 packaged -> tuned | top 3 | AUC |", "|---|---|---|---|"]
        for group in about["measured"]:
            old = macro(group, [Figures(**r) for r in about["measured_packaged"][group]])
            new = macro(group, [Figures(**r) for r in about["measured"][group]])
            lines.append(f"| {group} | {old.top1:.1%} -> {new.top1:.1%} | {old.top3:.1%} -> {new.top3:.1%} | "
                         f"{old.auc or 0:.3f} -> {new.auc or 0:.3f} |")
        lines.append("")
    (folder / "README.md").write_text("\n".join(lines), encoding="utf-8")
