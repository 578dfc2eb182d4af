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
class Turn:
    """One earlier message of the conversation."""

    role: str  # "user" or "assistant"
    content: str


class ReplyKind(StrEnum):
    """What a reply is: the one value the core decides (the JSON says it as two flags)."""

    ANSWER = "answer"  # the clinic's sentences, cited
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

    @property
    def abstained(self) -> bool:
        return self.kind is ReplyKind.ABSTENTION

    @property
    def crisis(self) -> bool:
        return self.kind is ReplyKind.CRISIS

    def to_json(self, debug: bool = False) -> dict:
        data = {
            "answer": self.answer,
            "abstained": self.abstained,
            "crisis": self.crisis,
            "citations": [asdict(c) for c in self.citations],
        }
        if debug:
            data.update(reason=self.reason, query=self.query, passages=list(self.passages))
        return data
