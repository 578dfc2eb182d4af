"""The clinic's contact details as the corpus states them (for abstentions)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.ingest.corpus import Chunk

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\d)(?:\+?1[ -.]?)?(?:\(\d{3}\)\s?|\d{3}[ -.])\d{3}[ -.]\d{4}(?!\d)")


# Asking how to reach the clinic, not when or why ("when should I call you?" is a question
# for the pages, "what's your phone number?" is a request for contact details).
_ASKS = re.compile(
    r"\b(?:phone(?:\s*(?:number|no|#))?|telephone|e-?mail(?:\s+address)?|contact (?:details|info\w*|number|you|the clinic|your office|someone|a person|us)|"
    r"how (?:do|can|should|would) (?:i|we) (?:reach|call|contact|email|e-mail|get (?:in touch|a hold|ahold)|talk to|speak (?:to|with))|"
    r"get in touch|(?:your|the clinic's|the office's|the) (?:number|email)|"
    r"(?:talk|speak) (?:to|with) (?:a (?:real )?(?:person|human)|a staff member|your staff|someone (?:there|at the clinic|on your team))|"
    r"send (?:my |a |you )?(?:questions?|message))\b|^\W*contact\W*$",
    re.IGNORECASE,
)


_SUMMARY = re.compile(
    r"\b(?:tl;? ?dr|tldr|summar(?:y|ise|ize)|in (?:short|a nutshell|brief)|bottom line|key (?:points|takeaways)|"
    r"main points?|gist|sum (?:it )?up)\b",
    re.IGNORECASE,
)
_SUMMARY_SECTION = re.compile(r"\b(?:conclusion|summary|in short|bottom line|takeaways?)\b", re.IGNORECASE)


def asks_for_summary(question: str) -> bool:
    """True when the visitor asks for the gist of the article ("tl;dr?", "sum it up")."""
    return bool(_SUMMARY.search(question))


def summary_chunks(chunks: list[Chunk]) -> list[Chunk]:
    """The passages of the first section titled like a conclusion or summary."""
    for chunk in chunks:
        if _SUMMARY_SECTION.search(chunk.section):
            return [c for c in chunks if c.source == chunk.source and c.anchor == chunk.anchor]
    return []


def asks_for_contact(question: str) -> bool:
    """True when the visitor asks how to reach the clinic."""
    return bool(_ASKS.search(question))


@dataclass(frozen=True, slots=True)
class Contacts:
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    chunk: Chunk | None  # the passage that states them, for a citation

    def quote(self) -> str | None:
        """The passage's own sentence(s) that give the contact details."""
        if self.chunk is None:
            return None
        found = [s for s in self.chunk.sentences if any(x in s for x in (*self.emails, *self.phones))]
        return " ".join(found) or None

    def sentence(self) -> str:
        parts = [*self.emails[:1], *self.phones[:1]]
        if not parts:
            return "Please contact the clinic directly."
        return "You can reach the clinic at " + " or ".join(parts) + "."


def find_contacts(chunks: list[Chunk]) -> Contacts:
    """The first passage that gives an email or phone number, and what it gives."""
    for chunk in chunks:
        emails = tuple(m.rstrip(".") for m in _EMAIL.findall(chunk.text))
        phones = tuple(_PHONE.findall(chunk.text))
        if emails or phones:
            return Contacts(emails, phones, chunk)
    return Contacts((), (), None)


def contacts_by_page(chunks: list[Chunk]) -> dict[str, Contacts]:
    """Each page's own contact details (its first passage that gives any), by source: a
    question that came closest to one page is pointed to the contacts that page gives."""
    pages: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        pages.setdefault(chunk.source, []).append(chunk)
    found = {source: find_contacts(page) for source, page in pages.items()}
    return {source: contacts for source, contacts in found.items() if contacts.chunk is not None}
