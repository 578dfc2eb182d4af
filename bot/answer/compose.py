"""Compose a reply from ranked section evidence: the clinic's own sentences, with
citations, or an honest abstention when the evidence is not there.

:func:`compose` is a pure function of the query's evidence (from
:meth:`bot.answer.retrieval.Retriever.evidence`) and the answerability threshold:

1. The best section answers only when the answerability model gives it at least the
   threshold chosen on the tuning corpora (docs/EVALUATION.md).
2. Its sentences closest to the question are quoted in document order, each informative:
   a lead-in that announces a list ("There are several benefits:") is quoted with the list;
   a sentence that only restates the question or its heading is quoted with the sentence
   that follows it; a sentence that leans on the one before ("However, this...") with that one.
3. The second and third sections are quoted too when the model gives them at least
   ``ALSO_QUOTED``: it is then unsure which section answers, and the one that does is often
   the runner-up. A sentence of another passing section that states the same thing is
   quoted as well (both sides of a contradiction between pages, each with its own citation).

The constants below were chosen on the tuning corpora only (docs/EVALUATION.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.answer.evidence import SectionEvidence, Sentence
from bot.replies import Citation

# Cosine similarity of a question to a curated phrasing at which it is the same question
# (case, punctuation, a typo): the section the phrasing points to answers it, whatever
# the answerability model says. Rewordings below this are left to the model.
SAME_QUESTION = 0.95

# A sentence that starts like this leans on the one before it (English, not any topic).
_LEANS_BACK = re.compile(
    r"^(?:However|Again|This|These|That|Those|It|They|If this|If so|In addition|Additionally|"
    r"Also|For example|For instance|Still|Then|So|But|And|Otherwise|Instead|Even so)\b"
)
# A sentence that announces what follows ("There are a few risks you should be aware of.",
# "Benefits include:").
_ANNOUNCES = re.compile(
    r":\s*$|\b(?:the following|as follows|include|includes|including|there are (?:a (?:few|number of|couple of|variety of)|several|many|some|two|three|four|five)"
    r"|(?:a few|several|some|many|a number of) (?:\w+ ){0,3}(?:things|ways|steps|reasons|benefits|risks|options|factors|types|signs|tips))\b",
    re.IGNORECASE,
)

MAX_SENTENCES = 3  # quoted from one section, beside a list a lead-in announces
MAX_ITEMS = 8  # list items quoted after their lead-in
MAX_QUOTED = 12  # sentences quoted from one section at most, lists included
SENTENCE_MARGIN = 0.15  # sentences ranked this close to the best are quoted too
MAX_SECTIONS = 3  # sections quoted for one question at most
# A runner-up section this likely to answer is quoted beside the best: among the sections
# the model ranks second or third, the one holding the answer often reaches it. Chosen on
# the tuning corpora (docs/EVALUATION.md).
ALSO_QUOTED = 0.5
PARALLEL_SIMILARITY = 0.6
PARALLEL_MARGIN = 0.2


Quote = tuple[SectionEvidence, tuple[Sentence, ...]]  # a section and its sentences to quote


@dataclass(frozen=True, slots=True)
class Decision:
    answerable: bool
    reason: str
    evidence: tuple[SectionEvidence, ...]
    quotes: tuple[Quote, ...] = ()
    offer: bool = True  # whether the closest sections may be offered when it does not answer

    @property
    def probability(self) -> float:
        return self.evidence[0].probability if self.evidence else 0.0


def merge(quotes: Sequence[Quote]) -> list[Quote]:
    """One quote per section (its sentences from every quote, in document order), in the
    order the sections first appear: the parts of a two-part question that one section
    answers are quoted once."""
    merged: dict = {}
    for section, sentences in quotes:
        have = merged.setdefault(section.key, (section, {}))[1]
        for s in sentences:
            have[(s.row, s.index)] = s
    return [(section, tuple(have[k] for k in sorted(have))) for section, have in merged.values()]


def render(quotes: Sequence[Quote]) -> tuple[str, tuple[Citation, ...]]:
    """The reply's text (one paragraph per section) and its citations."""
    texts, citations = [], []
    for section, sentences in quotes:
        text = join(sentences)
        texts.append(text)
        chunk = section.chunk
        citations.append(Citation(chunk.section, chunk.anchor, chunk.source, chunk.url, text, round(section.probability, 4)))
    return "\n\n".join(texts), tuple(citations)


def compose(evidence: Sequence[SectionEvidence], threshold: float) -> Decision:
    """Answer from the best sections of ``evidence`` (best first), or abstain and say why."""
    evidence = tuple(evidence)
    if not evidence:
        return Decision(False, "no passage of the corpus shares words or meaning with the question", evidence)
    best = evidence[0]
    curated = next((e for e in evidence if e.features.get("phrasing", 0.0) >= SAME_QUESTION), None)
    if best.probability < threshold and curated is not None:
        # Staff pointed this very question at a section (corpus/questions.yaml): their answer.
        reason = f"a curated phrasing of this question points to '{curated.chunk.section}'"
        return Decision(True, reason, evidence, ((curated, tuple(quote(curated))),))
    if best.probability < threshold:
        missing = f"; missing: {', '.join(best.missing)}" if best.missing else ""
        return Decision(
            False,
            f"best section '{best.chunk.section}' answers with probability {best.probability:.2f} "
            f"< {threshold:.2f}{missing}",
            evidence,
        )
    picked = [(best, quote(best))]
    # The model is unsure which section answers: the runners-up it finds likely are quoted too.
    picked += [(other, quote(other)) for other in evidence[1:MAX_SECTIONS] if other.probability >= ALSO_QUOTED]
    parallel = parallel_sentence(best, evidence[1:], threshold)
    if parallel is not None and all(parallel[0].key != p[0].key for p in picked):
        picked.append(parallel)
    picked.sort(key=lambda p: max(s.rank for s in p[1]), reverse=True)
    reason = f"'{best.chunk.section}' answers with probability {best.probability:.2f} (threshold {threshold:.2f})"
    return Decision(True, reason, evidence, tuple((section, tuple(sentences)) for section, sentences in picked))


def join(sentences: Sequence[Sentence]) -> str:
    """Sentences in document order; each list item on a line of its own."""
    out = ""
    for i, s in enumerate(sentences):
        previous = sentences[i - 1] if i else None
        if s.is_item and (s.starts_item or previous is None or not previous.is_item):
            out += ("\n- " if out else "- ") + s.text
        elif previous is not None and previous.is_item and not s.is_item:
            out += "\n" + s.text
        else:
            out += (" " if out else "") + s.text
    return out


def quote(section: SectionEvidence) -> list[Sentence]:
    """The sentences of ``section`` to quote, in document order, each informative."""
    ordered = list(section.sentences)  # document order
    place = {(s.row, s.index): i for i, s in enumerate(ordered)}
    ranked = sorted(ordered, key=lambda s: s.rank, reverse=True)
    top = ranked[0].rank
    chosen = [s for s in ranked if s.rank >= top - SENTENCE_MARGIN][:MAX_SENTENCES]
    picked: set[int] = set()
    todo = [place[(s.row, s.index)] for s in chosen]
    while todo and len(picked) < MAX_QUOTED:  # what a needed sentence needs is quoted too ("These include:" and its list)
        i = todo.pop()
        if i not in picked:
            picked.add(i)
            todo.extend(j for j in _what_it_needs(ordered, i) if j not in picked)
    return [ordered[i] for i in sorted(picked)]


def _what_it_needs(ordered: list[Sentence], i: int) -> list[int]:
    """The sentences quoting ``ordered[i]`` requires so that it is informative."""
    s = ordered[i]
    needs: list[int] = []
    if _LEANS_BACK.match(s.text) and i > 0:
        needs.append(i - 1)
    items = []
    for j in range(i + 1, len(ordered)):
        if not ordered[j].is_item:
            break
        items.append(j)
    if not s.is_item and items:  # a lead-in comes with its list
        needs.extend(items[:MAX_ITEMS])
    elif (_ANNOUNCES.search(s.text) or s.novelty <= 1) and i + 1 < len(ordered) and not s.is_item:
        # It announces, or only restates the question: quote what comes next, too.
        needs.append(i + 1)
    if s.is_item and not items and i > 0 and not ordered[i - 1].is_item and _ANNOUNCES.search(ordered[i - 1].text):
        needs.append(i - 1)  # a lone item with the lead-in that says what it is an item of
    return needs


def parallel_sentence(
    best: SectionEvidence, others: Sequence[SectionEvidence], threshold: float
) -> tuple[SectionEvidence, list[Sentence]] | None:
    """A sentence of another passing section that states the same thing as ``best``'s top
    sentence (the same fact, or a contradicting figure for it)."""
    top = best.best
    found = None
    for other in others:
        if other.probability < threshold:
            continue
        for sentence in other.sentences:
            if sentence.score < top.score - PARALLEL_MARGIN:
                continue
            similarity = float(sentence.vector @ top.vector)
            if similarity >= PARALLEL_SIMILARITY and (found is None or similarity > found[0]):
                found = (similarity, other, sentence)
    return None if found is None else (found[1], [found[2]])
