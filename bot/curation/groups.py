"""The questions the bot could not answer, grouped by meaning with the model the bot already
holds, as the console's Unanswered view shows them.

- Misses already dealt with leave the list: a question a fix names (asked no later than the
  fix, for a fix that answers it), and any question close in meaning to one that staff
  marked "not for the bot", "needs new content" or "crisis-adjacent": it is counted under
  that decision instead of filling the list again.
- The rest are grouped greedily, most asked first: a question joins the first group whose
  centre (the mean of its questions' vectors, weighted by how often each was asked) is at
  least :data:`SAME_MEANING` cosine similar, or starts a group of its own.
- Each group shows its most typical question (the one nearest its centre), how many
  visitors asked, when last, and its other phrasings; the largest groups come first. A
  group with a message that got crisis resources is marked crisis-adjacent.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from bot.search.embedder import Embedder
from bot.store.curation import Fix, Miss
from bot.store.records import question_key

# all-MiniLM-L6-v2 puts paraphrases of one question at about 0.75 and above, and different
# questions on one subject (cost / insurance of the same treatment) at 0.4-0.65.
SAME_MEANING = 0.72
DECIDED = ("not_for_bot", "needs_content", "crisis")  # later similar questions count under these


@dataclass(slots=True)
class Group:
    """Misses that mean the same thing."""

    misses: list[Miss]
    vectors: list[np.ndarray]
    typical: str = ""

    @property
    def count(self) -> int:
        return sum(m.count for m in self.misses)

    @property
    def last(self) -> datetime:
        return max(m.last for m in self.misses)

    @property
    def crisis(self) -> int:
        return sum(m.crisis for m in self.misses)

    @property
    def phrasings(self) -> tuple[str, ...]:
        """Every wording, the typical one first, then the most asked."""
        rest = sorted((m for m in self.misses if m.question != self.typical), key=lambda m: -m.count)
        return (self.typical, *(m.question for m in rest))

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(sorted({c for m in self.misses for c in m.channels}))

    @property
    def id(self) -> str:
        """Stable while the group's typical question stays: the console's handle on it."""
        return question_key(self.typical)

    def centre(self) -> np.ndarray:
        weights = np.array([m.count for m in self.misses], dtype=np.float32)
        mean = (np.stack(self.vectors) * weights[:, None]).sum(axis=0)
        return mean / (np.linalg.norm(mean) or 1.0)


@dataclass(slots=True)
class Grouped:
    groups: list[Group]
    counted: Counter = field(default_factory=Counter)  # fix id -> later questions counted under it


def group_misses(misses: list[Miss], fixes: list[Fix], embedder: Embedder) -> Grouped:
    """The misses still to deal with, grouped by meaning (see the module docstring)."""
    active = [f for f in fixes if f.active]
    misses = [m for m in misses if not _named_by_a_fix(m, active)]
    if not misses:
        return Grouped([])
    vectors = _unit(embedder.encode([m.question for m in misses]))
    counted: Counter = Counter()
    decided = [f for f in active if f.action in DECIDED and f.phrasings]
    decided_vectors = [_unit(embedder.encode(list(f.phrasings))) for f in decided]
    groups: list[Group] = []
    for miss, vector in sorted(zip(misses, vectors, strict=True), key=lambda mv: (-mv[0].count, -mv[0].last.timestamp())):
        fix = next((f for f, fv in zip(decided, decided_vectors, strict=True) if float((fv @ vector).max()) >= SAME_MEANING), None)
        if fix is not None:
            counted[fix.id] += miss.count
            continue
        home = next((g for g in groups if float(g.centre() @ vector) >= SAME_MEANING), None)
        if home is None:
            groups.append(Group([miss], [vector]))
        else:
            home.misses.append(miss)
            home.vectors.append(vector)
    for group in groups:
        centre = group.centre()
        best = max(range(len(group.misses)), key=lambda i: (float(group.vectors[i] @ centre), group.misses[i].count))
        group.typical = group.misses[best].question
    groups.sort(key=lambda g: (g.count, g.last), reverse=True)
    return Grouped(groups, counted)


def _named_by_a_fix(miss: Miss, fixes: list[Fix]) -> bool:
    for fix in fixes:
        if miss.key in {question_key(p) for p in fix.phrasings}:
            # A question answered by a fix and missed again after it is not dealt with.
            if fix.action not in ("answer", "wrong_sentence") or miss.last <= fix.at:
                return True
    return False


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)
