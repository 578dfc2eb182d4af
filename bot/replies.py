"""The values the core returns: a reply and its citations (the JSON contract of the API)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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


@dataclass(frozen=True, slots=True)
class Reply:
    answer: str
    abstained: bool
    crisis: bool
    citations: tuple[Citation, ...] = ()
    # Why the bot answered as it did, for the staff console: not shown to visitors.
    reason: str = ""
    query: str = ""  # the question as searched, after follow-up resolution
    passages: tuple[dict, ...] = field(default=(), compare=False)

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
