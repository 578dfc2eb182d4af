"""A document without its syntax: headings and blocks in reading order, whatever the format.

An :class:`Outline` has a title and url when the file gives them, then headings and blocks
(paragraphs and list items), each with the line of the file it starts on.
``bot.ingest.corpus`` turns an outline into sections, anchors and passages, so every format
is checked and chunked the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import CorpusError

WHITESPACE = re.compile(r"\s+")
LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph or a list item as written in the file."""

    text: str
    line: int
    is_item: bool = False


@dataclass(frozen=True, slots=True)
class Heading:
    text: str
    level: int  # 1 to 3 (4 for a ### under a Markdown group heading)
    line: int
    anchor: str = ""  # an explicit anchor (HTML id); empty: made from the text


@dataclass(slots=True)
class Outline:
    items: list[Heading | Block] = field(default_factory=list)
    title: str = ""  # front matter or <title>; empty: the first level-1 heading
    url: str = ""


def read_text(path: Path, display: str) -> str:
    """The file as text; undecodable bytes are an error naming the line they are on."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorpusError(
            display, line, f"byte {data[exc.start]:#x} is not UTF-8: re-save the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


def front_matter(lines: list[str], display: str) -> tuple[dict[str, str], int]:
    """Parse an optional ``---`` block of ``key: value`` lines; return it and the body start."""
    if not lines or lines[0].strip() != "---":
        return {}, 0
    meta: dict[str, str] = {}
    for i, raw in enumerate(lines[1:], start=1):
        if raw.strip() == "---":
            return meta, i + 1
        if raw.strip():
            key, sep, value = raw.partition(":")
            if not sep:
                raise CorpusError(display, i + 1, "front matter lines must read 'key: value'")
            meta[key.strip().lower()] = value.strip().strip("\"'")
    raise CorpusError(display, 1, "front matter opened with '---' is never closed with '---'")
