"""The crisis training collection (``training/crisis/``): labelled messages and their split.

Each writer's file (``writers/<writer>.jsonl``) holds lines of
``{"id", "label": "crisis"|"lookalike", "category", "text", "clinic"}``. ``split.json`` names
the writers whose messages are the tuning split (the threshold and the choice of method are
made on them, never on the training split) and the project's other labelled files that are
training data too. A sealed test set lives apart (``tests/data/crisis-sealed/``) and is read
only by :func:`read_labelled` for the report.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from bot.errors import CorpusError

ORDINARY = "ordinary"  # a look-alike with no dark words: an everyday clinic question
CRISIS_CATEGORIES = (
    "wish_dead",
    "ideation",
    "method",
    "intent_plan",
    "preparations",
    "burden_hopeless",
    "self_harm",
    "other_at_risk",
    "embedded",
)
LOOKALIKE_CATEGORIES = (
    "idiom",
    "subject",
    "accident",
    "pain_hyperbole",
    "media",
    "resolved_past",
    "pets_procedures",
    "frustration",
    "grief",
    "medication_safety",
)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    crisis: bool
    category: str  # one of the categories above; "ordinary" for a clinic question, "other" when unlabelled
    writer: str  # the file it came from: the unit of the split


@dataclass(frozen=True, slots=True)
class Collection:
    training: tuple[Example, ...]
    tuning: tuple[Example, ...]

    def digest(self) -> str:
        """sha256 of every example, in order: the model card names the data it was trained on."""
        h = hashlib.sha256()
        for e in (*self.training, *self.tuning):
            h.update(json.dumps([e.text, e.crisis, e.category, e.writer]).encode())
        return h.hexdigest()


def read_labelled(path: Path, writer: str | None = None) -> list[Example]:
    """One JSON Lines file of labelled messages. Besides the collection's own fields it reads
    the evaluation files' ``{"q", "kind"}`` (``crisis`` / ``not``, or a corpus's ``answer`` /
    ``abstain`` / ``soft``: an ordinary question)."""
    out = []
    writer = writer or path.stem
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CorpusError(path, None, f"cannot be read ({exc.strerror})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if "label" in row:
                label, text, category = row["label"], row["text"], row.get("category", "other")
                if label not in ("crisis", "lookalike"):
                    raise ValueError(f"label must be 'crisis' or 'lookalike', not {label!r}")
            else:
                kind, text = row["kind"], row["q"]
                label = "crisis" if kind == "crisis" else "lookalike"
                category = "other" if kind in ("crisis", "not") else ORDINARY
        except (ValueError, KeyError, TypeError) as exc:
            raise CorpusError(path, number, f"not a labelled message ({exc}); each line is a JSON object with label and text") from None
        if not isinstance(text, str) or not text.strip():
            raise CorpusError(path, number, "the message's text is empty")
        out.append(Example(" ".join(text.split()), label == "crisis", category, writer))
    return out


def load_collection(folder: Path, root: Path | None = None) -> Collection:
    """The training and tuning splits of the collection in ``folder`` (paths in its
    ``split.json`` are relative to ``root``, the repository)."""
    root = root or folder.parent.parent
    split_file = folder / "split.json"
    try:
        split = json.loads(split_file.read_text(encoding="utf-8"))
        tuning_writers = set(split["tuning_writers"])
        also = [root / p for p in split.get("also_training", [])]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CorpusError(split_file, None, f"cannot be read ({exc}); it names the tuning writers: "
                          '{"tuning_writers": ["w2"], "also_training": []}') from None
    writers = sorted((folder / "writers").glob("*.jsonl"))
    if not writers:
        raise CorpusError(folder / "writers", None, "holds no writer's file (*.jsonl)")
    missing = tuning_writers - {p.stem for p in writers}
    if missing:
        raise CorpusError(split_file, None, f"names tuning writers with no file: {', '.join(sorted(missing))}")
    training: list[Example] = []
    tuning: list[Example] = []
    for path in writers:
        (tuning if path.stem in tuning_writers else training).extend(read_labelled(path))
    for path in also:
        training.extend(read_labelled(path, writer=f"{path.parent.name}/{path.stem}"))
    return Collection(tuple(training), tuple(tuning))
