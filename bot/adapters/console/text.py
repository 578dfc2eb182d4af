"""What the console shows of a reply and of the log: Markdown, table rows and their columns."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import gradio as gr

from bot.replies import Reply, ReplyKind
from bot.store import StorageError, Store

T = TypeVar("T")

PASSAGE_COLUMNS = ["used", "section", "dense", "lexical", "coverage", "sentence", "passage"]
FEEDBACK_COLUMNS = ["when (UTC)", "rating", "question", "answer", "cited sections", "comment", "channel"]
LOG_COLUMNS = ["when (UTC)", "channel", "question", "reply", "sections", "answer", "ms"]
RECENT = 200  # messages the Log tab lists
SCORE_COLUMNS = ["kind", "passed", "total", "rate"]
FAILURE_COLUMNS = ["id", "kind", "question", "the bot", "answer", "reason"]
SCOPES = {"visitors (widget + API)": ("widget", "api"), "all channels (with staff)": ("widget", "api", "staff")}
DAYS = 30
OUTCOME_COLORS = {"answered": "#2e7d32", "abstained": "#ef6c00", "crisis": "#c62828"}
THUMBS = {1: "👍 up", -1: "👎 down"}
RATED = {1: "Thumbs up", -1: "Thumbs down"}


def format_reply(reply: Reply) -> str:
    """The answer as Markdown with its citations as links."""
    text = reply.answer
    if reply.crisis:
        text = f"**Crisis resources**\n\n{text}"
    if reply.citations:
        links = "\n".join(f"- [{c.section}]({c.url}) (score {c.score:.2f})" for c in reply.citations)
        text = f"{text}\n\n**Sources**\n{links}"
    return text


def outcome(reply: Reply) -> str:
    return {ReplyKind.CRISIS: "crisis", ReplyKind.SUGGESTIONS: "suggestions", ReplyKind.ABSTENTION: "abstained"}.get(reply.kind, "answered")


def kind_text(kind: ReplyKind, offered: int = 0, picked_section: str | None = None) -> str:
    """A logged reply's kind as the console lists it: "answered", "answered · picked:
    <heading>" (the visitor picked that suggestion), "suggestions (3 offered)", "abstained"
    or "crisis"."""
    if kind is ReplyKind.SUGGESTIONS:
        return f"suggestions ({offered} offered)"
    if kind is not ReplyKind.ANSWER:
        return "crisis" if kind is ReplyKind.CRISIS else "abstained"
    return f"answered · picked: {picked_section}" if picked_section else "answered"


def why_text(reply: Reply, message: str) -> str:
    """The side panel's account of the last answer, for staff."""
    state = outcome(reply)
    lines = [f"**{state}**: {reply.reason or 'no reason given'}"]
    if reply.crisis:
        lines.append("A crisis message gets the crisis resources before anything else.")
    elif reply.suggestions:
        lines.append("The bot is unsure, so the visitor is offered the closest sections to pick from, with the clinic's contact "
                     "details: " + "; ".join(f"[{s.section}]({s.url})" for s in reply.suggestions))
    elif reply.abstained:
        lines.append("The visitor is told the article does not answer this, and given the clinic's contact details.")
    lines.append(f"searched for: `{reply.query or message}`")
    if reply.citations:
        lines.append("quoted from: " + "; ".join(f"[{c.section}]({c.url})" for c in reply.citations))
    return "\n\n".join(lines)


def passage_rows(reply: Reply) -> list[list]:
    """The passages behind ``reply`` as rows of PASSAGE_COLUMNS."""
    return [
        ["✓" if p.get("used") else "", p["section"], p.get("dense"), p.get("lexical"), p.get("coverage"), p.get("sentence"), p["text"]]
        for p in reply.passages
    ]


def passages_markdown(reply: Reply) -> str:
    """The passages behind ``reply`` for the side panel: section, scores, whether quoted."""
    if not reply.passages:
        return "_No passages were retrieved for this message._"
    blocks = ["**Passages retrieved**, best first (✓ = the answer quotes this section)"]
    for row in passage_rows(reply):
        used, section, *scores, text = row
        numbers = " · ".join(f"{name} {value:.2f}" for name, value in zip(PASSAGE_COLUMNS[2:6], scores, strict=True) if value is not None)
        mark = "✓ " if used else ""
        blocks.append(f"{mark}**{section}**  \n{numbers}\n> {clip(text, 240)}")
    return "\n\n".join(blocks)


def when(at) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def count_of(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def clip(text: str | None, limit: int = 300) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_log(store: Store | None, read: Callable[[Store], list[T]]) -> list[T]:
    """What ``read`` finds in the question log: nothing without a log, and nothing, with a
    warning to the staff member, while the log cannot be read (a database that went away)."""
    if store is None:
        return []
    try:
        return read(store)
    except StorageError as exc:
        gr.Warning(log_unavailable(exc))
        return []


def log_unavailable(exc: Exception) -> str:
    """What the console says when the question log cannot be read (a database that went away)."""
    return (f"⚠ The question log is unavailable right now ({exc}). Visitors still get answers; the questions "
            "asked meanwhile are kept and appear here once the log is back.")
