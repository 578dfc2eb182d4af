"""The third reply, for the uncertain middle: the closest sections, offered honestly.

The answerability model's probability for the best section picks one of three replies
(:func:`choose`): at or above its ``threshold`` an answer; below it, down to its
``suggest_threshold``, the closest sections as suggestions; below that a plain abstention
(the weather, a poem: nothing is close). One more rule: when the best section and the best
section of another page are nearly tied (within the model's ``ambiguity`` margin), the bot
cannot tell which page the visitor means, and offers both instead of answering. Both
thresholds and the margin are fit on the tuning corpora (``python -m bot.evaluation.fit``),
never by hand.

Picking a suggestion asks for that section's answer (:meth:`bot.answer.service.Bot.answer_section`).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.answer.answerability import AnswerabilityModel
from bot.answer.evidence import SectionEvidence
from bot.replies import ReplyKind, Suggestion

SUGGESTED = 3  # sections offered at most
PREVIEW_CHARS = 240  # a longer preview sentence is cut at a word, with an ellipsis
SUGGEST_TEXT = "I'm not sure I have the exact answer. These parts of the clinic's pages come closest:"
SUGGEST_CONTACT = "If none of them answers your question: {contact}"


def ambiguous(evidence: Sequence[SectionEvidence], model: AnswerabilityModel) -> bool:
    """True when the best section would answer but the best section of another page is
    within ``model.ambiguity`` of it."""
    if not evidence or model.ambiguity <= 0 or evidence[0].probability < model.threshold:
        return False
    best = evidence[0]
    other = next((e for e in evidence[1:] if e.chunk.source != best.chunk.source), None)
    return other is not None and best.probability - other.probability < model.ambiguity


def choose(evidence: Sequence[SectionEvidence], answerable: bool, model: AnswerabilityModel, offer: bool = True) -> ReplyKind:
    """The kind of reply for a question whose composed decision is ``answerable``.
    ``offer``: False when the closest sections must not be offered (a topic the corpus
    lists as out of scope)."""
    if answerable and not ambiguous(evidence, model):
        return ReplyKind.ANSWER
    if offer and evidence and evidence[0].probability >= model.suggest_threshold:
        return ReplyKind.SUGGESTIONS
    return ReplyKind.ANSWER if answerable else ReplyKind.ABSTENTION


def offered(evidence: Sequence[SectionEvidence]) -> tuple[SectionEvidence, ...]:
    """The sections to offer: the most likely first, one per heading, ``SUGGESTED`` at most."""
    out: list[SectionEvidence] = []
    headings: set[str] = set()
    for e in evidence:
        heading = " ".join(e.chunk.section.lower().split())
        if heading in headings:
            continue
        headings.add(heading)
        out.append(e)
        if len(out) == SUGGESTED:
            break
    return tuple(out)


def suggestion(section: SectionEvidence) -> Suggestion:
    """``section`` as a suggestion: its heading, link, and its sentence closest to the question."""
    chunk = section.chunk
    return Suggestion(chunk.section, chunk.anchor, chunk.source, chunk.url, preview(section.best.text))


def preview(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= PREVIEW_CHARS:
        return text
    return text[: PREVIEW_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "\u2026"


def render(suggestions: Sequence[Suggestion], contact: str) -> str:
    """The reply's text for clients that read only ``answer``: the offer, one line per
    section, then the contacts."""
    lines = [SUGGEST_TEXT, *(f"- {s.section}{' ' if s.section[-1:] in '?!.:' else ': '}{s.preview}" for s in suggestions)]
    return "\n".join(lines) + "\n\n" + SUGGEST_CONTACT.format(contact=contact)
