"""The values the core returns: a reply and its citations (the JSON contract of the API)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Citation:
    section: str
    anchor: str
    source: str
    url: str
    quote: str
    score: float


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A section offered when the bot is unsure: picking it asks for that section's answer
    (``POST /api/chat`` with ``"section": "<source>#<anchor>"``)."""

    section: str
    anchor: str
    source: str
    url: str
    preview: str  # the section's sentence closest to the question

    @property
    def key(self) -> str:
        return f"{self.source}#{self.anchor}"


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier message of the conversation."""

    role: str  # "user" or "assistant"
    content: str


class ReplyKind(StrEnum):
    """What a reply is: the one value the core decides (the JSON's ``kind``)."""

    ANSWER = "answer"  # the clinic's sentences, cited
    SUGGESTIONS = "suggestions"  # unsure: the closest sections offered, with the contacts
    ABSTENTION = "abstention"  # the pages do not answer: said plainly, with the contacts
    CRISIS = "crisis"  # crisis resources first (maybe followed by an answer)


@dataclass(frozen=True, slots=True)
class Reply:
    answer: str
    kind: ReplyKind
    citations: tuple[Citation, ...] = ()
    # Why the bot answered as it did, for the staff console: not shown to visitors.
    reason: str = ""
    query: str = ""  # the question as searched, after follow-up resolution
    passages: tuple[dict, ...] = field(default=(), compare=False)
    suggestions: tuple[Suggestion, ...] = ()
    picked: str = ""  # "<source>#<anchor>": the suggestion the visitor picked to get this reply

    @property
    def abstained(self) -> bool:
        """True when the bot did not answer: an abstention, or suggestions in its place."""
        return self.kind in (ReplyKind.ABSTENTION, ReplyKind.SUGGESTIONS)

    @property
    def crisis(self) -> bool:
        return self.kind is ReplyKind.CRISIS

    def to_json(self, debug: bool = False) -> dict:
        data = {
            "answer": self.answer,
            "kind": self.kind.value,
            "abstained": self.abstained,
            "crisis": self.crisis,
            "citations": [asdict(c) for c in self.citations],
            "suggestions": [asdict(s) for s in self.suggestions],
        }
        if debug:
            data.update(reason=self.reason, query=self.query, passages=list(self.passages))
        return data
