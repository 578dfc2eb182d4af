"""Clinic pages with visitors' questions, read into what the retrieval model learns from.

A collection folder (``training/retrieval/``, its README says how it was written) holds one
folder per clinic::

    clinics/<clinic>/corpus/      the clinic's pages (Markdown, text, HTML), read as the bot reads a corpus
    clinics/<clinic>/questions.jsonl   visitors' questions, in the evaluation files' shape:
        {"kind": "answer", "q": ..., "facts": [spans of the pages], "history": [...]}
        {"kind": "abstain", "q": ...}   a near miss the pages do not answer

The evaluation corpora (``tests/data/corpora/<name>/corpus`` and ``eval.jsonl``) have the
same shape, so one reader serves both. A question is paired with every passage whose text
holds one of its facts; a question whose facts are in no passage (a span that crosses two
passages, a typo in the span) is counted and left out.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.answer.followups import previous_question, with_context
from bot.errors import BotError
from bot.evaluation import load_cases, normalized
from bot.ingest.corpus import load_chunks
from bot.replies import Turn
from bot.search.index import passage_text

logger = logging.getLogger(__name__)

QUESTIONS_FILE = "questions.jsonl"


class CollectionError(BotError):
    """A collection or evaluation folder that cannot be read; the message names the file."""


@dataclass(frozen=True, slots=True)
class Question:
    """One visitor question of a clinic, as the bot reads it."""

    query: str  # a follow-up carries its previous question's words (bot.answer.followups)
    positives: tuple[int, ...]  # passages (indices into the clinic's) holding a fact; () when unanswerable
    answerable: bool
    follow_up: bool = False


@dataclass(slots=True)
class Clinic:
    name: str
    passages: list[str]  # as the index embeds them: heading, then text
    questions: list[Question] = field(default_factory=list)
    unmatched: int = 0  # answerable questions left out: no passage holds a fact

    def answerable(self) -> list[Question]:
        return [q for q in self.questions if q.answerable]

    def unanswerable(self) -> list[Question]:
        return [q for q in self.questions if not q.answerable]


def query_of(message: str, history: Sequence[Turn]) -> str:
    """What the model embeds for a message: a follow-up with the previous question's words."""
    previous = previous_question(history)
    return with_context(message, previous) if previous else message


def read_clinic(name: str, corpus: Path, questions: Path, max_words: int = 160) -> Clinic:
    """One clinic's passages and its questions (``answer`` and ``abstain`` kinds; crisis and
    other kinds are not the retrieval model's business)."""
    chunks = load_chunks(corpus, max_words)
    clinic = Clinic(name, [passage_text(c) for c in chunks])
    texts = [normalized(c.text) for c in chunks]
    for case in load_cases(questions):
        message = case.q.strip()
        if not message or case.kind not in ("answer", "abstain"):
            continue
        query = query_of(message, case.history)
        if case.kind == "abstain":
            clinic.questions.append(Question(query, (), False, bool(case.history)))
            continue
        facts = [normalized(f) for f in case.facts if f.strip()]
        hits = tuple(i for i, text in enumerate(texts) if any(f in text for f in facts))
        if hits:
            clinic.questions.append(Question(query, hits, True, bool(case.history)))
        else:
            clinic.unmatched += 1
    return clinic


@dataclass(slots=True)
class Collection:
    clinics: list[Clinic]
    digest: str  # sha256 over every file read, in order

    def questions(self) -> int:
        return sum(len(c.questions) for c in self.clinics)

    def summary(self) -> dict:
        return {
            "clinics": len(self.clinics),
            "passages": sum(len(c.passages) for c in self.clinics),
            "answerable": sum(len(c.answerable()) for c in self.clinics),
            "follow_ups": sum(q.follow_up for c in self.clinics for q in c.answerable()),
            "unanswerable": sum(len(c.unanswerable()) for c in self.clinics),
            "unmatched": sum(c.unmatched for c in self.clinics),
            "sha256": self.digest,
        }


def load_collection(root: Path, max_words: int = 160) -> Collection:
    """Every clinic of ``root/clinics`` that has pages and questions."""
    folders = sorted(p for p in (root / "clinics").glob("*") if (p / QUESTIONS_FILE).is_file() and (p / "corpus").is_dir())
    if not folders:
        raise CollectionError(f"{root / 'clinics'}: no clinic folder with corpus/ and {QUESTIONS_FILE}; see {root / 'README.md'}")
    digest = hashlib.sha256()
    clinics = []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
        clinics.append(read_clinic(folder.name, folder / "corpus", folder / QUESTIONS_FILE, max_words))
    return Collection(clinics, digest.hexdigest())
