"""The questions the bot could not answer, grouped by meaning with the model the bot already
holds, as the console's Unanswered view shows them.

- Misses already dealt with leave the list: a question a fix names (asked no later than the
  fix, for a fix that answers it), and any question close in meaning to one that staff
  marked "not for the bot", "needs new content" or "crisis-adjacent": it is counted under
  that decision instead of filling the list again.
- The rest are grouped greedily, most asked first: a question joins the group whose centre
  (the mean of its questions' vectors, weighted by how often each was asked) is nearest, if
  that is at least :data:`SAME_MEANING` cosine similar, or starts a group of its own.
- :func:`counted_since`: for each decision, the questions asked after it that it covers.
- Each group shows its most typical question (the one nearest its centre), how many
  visitors asked, when last, and its other phrasings; the largest groups come first. A
  group with a message that got crisis resources is marked crisis-adjacent.
- Questions the bot answered with suggestions of the closest sections are misses too; a
  group counts how often visitors then picked each section (:attr:`Group.picks`), and names
  the one they keep picking (:attr:`Group.favourite`, see :data:`KEEP_PICKING`), which the
  console offers first for "Answer with this section". Staff decide; nothing changes by itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from bot.store.curation import Fix, Miss, Pick
from bot.store.records import question_key

# all-MiniLM-L6-v2 puts paraphrases of one question at about 0.75 and above, and different
# questions on one subject (cost / insurance of the same treatment) at 0.4-0.65.
SAME_MEANING = 0.72
DECIDED = ("not_for_bot", "needs_content", "crisis")  # later similar questions count under these
# Visitors "keep picking" a section when it was picked at least this many times in the group
# and more often than any other section: one pick can be a misclick or curiosity, and a tie
# says the visitors do not agree. Such a section comes first when staff answer the group.
KEEP_PICKING = 2


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
    def suggested(self) -> int:
        """How many of its messages got the closest sections offered instead of an answer."""
        return sum(m.suggested for m in self.misses)

    @property
    def picks(self) -> tuple[Pick, ...]:
        """The sections visitors picked among those suggested, summed over the group's
        questions, the most picked first."""
        counts: Counter = Counter()
        headings: dict[str, str] = {}
        for miss in self.misses:
            for pick in miss.picks:
                counts[pick.key] += pick.count
                headings.setdefault(pick.key, pick.section)
        return tuple(Pick(key, headings[key], n) for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    @property
    def favourite(self) -> Pick | None:
        """The section visitors keep picking (:data:`KEEP_PICKING`), or None."""
        picks = self.picks
        if not picks or picks[0].count < KEEP_PICKING or (len(picks) > 1 and picks[1].count == picks[0].count):
            return None
        return picks[0]

    @property
    def id(self) -> str:
        """Stable while the group's typical question stays: the console's handle on it."""
        return question_key(self.typical)


@dataclass(slots=True)
class Grouped:
    groups: list[Group]


def group_misses(misses: list[Miss], fixes: list[Fix], encode: Callable[[list[str]], np.ndarray]) -> Grouped:
    """The misses still to deal with, grouped by meaning (see the module docstring).
    ``encode``: texts to vectors, with the bot's model."""
    active = [f for f in fixes if f.active]
    misses = [m for m in misses if not _named_by_a_fix(m, active)]
    if not misses:
        return Grouped([])
    vectors = _unit(encode([m.question for m in misses]))
    decided = [f for f in active if f.action in DECIDED and f.phrasings]
    decided_vectors = _unit(encode([p for f in decided for p in f.phrasings])) if decided else None
    order = sorted(range(len(misses)), key=lambda i: (-misses[i].count, -misses[i].last.timestamp()))
    groups: list[Group] = []
    sums = np.zeros((len(misses), vectors.shape[1]), np.float32)  # row g: group g's count-weighted sum
    centres = np.zeros_like(sums)
    for i in order:
        miss, vector = misses[i], vectors[i]
        if decided_vectors is not None and float((decided_vectors @ vector).max()) >= SAME_MEANING:
            continue  # close to a decision: counted under it (counted_since), not listed again
        best = int(np.argmax(centres[: len(groups)] @ vector)) if groups else -1
        if best < 0 or float(centres[best] @ vector) < SAME_MEANING:
            best = len(groups)
            groups.append(Group([], []))
        groups[best].misses.append(miss)
        groups[best].vectors.append(vector)
        sums[best] += miss.count * vector
        centres[best] = sums[best] / (np.linalg.norm(sums[best]) or 1.0)
    for g, group in enumerate(groups):
        best = max(range(len(group.misses)), key=lambda k: (float(group.vectors[k] @ centres[g]), group.misses[k].count))
        group.typical = group.misses[best].question
    groups.sort(key=lambda g: (g.count, g.last), reverse=True)
    return Grouped(groups)


def counted_since(fixes: list[Fix], later: Callable[[datetime], list[Miss]], encode: Callable[[list[str]], np.ndarray]) -> Counter:
    """For each decision still standing ("not for the bot", "needs new content",
    "crisis-adjacent", "section right, sentence wrong"): how many times a question was asked
    after it that is one of its phrasings or close to one in meaning. ``later(at)``: the
    misses asked after ``at``."""
    counted: Counter = Counter()
    for fix in fixes:
        if not fix.active or fix.action not in (*DECIDED, "wrong_sentence") or not fix.phrasings:
            continue
        rows = later(fix.at)
        if not rows:
            continue
        keys = {question_key(p) for p in fix.phrasings}
        near = (_unit(encode([m.question for m in rows])) @ _unit(encode(list(fix.phrasings))).T).max(axis=1)
        counted[fix.id] = sum(m.count for m, sim in zip(rows, near, strict=True) if m.key in keys or sim >= SAME_MEANING)
    return counted


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
