"""The corpus's file formats: Markdown, plain text and HTML, each read into an outline.

An :class:`Outline` is a document without its syntax: a title and url when the file gives
them, then headings and blocks (paragraphs and list items) in reading order, each with the
line of the file it starts on. ``bot.ingest.corpus`` turns an outline into sections, anchors and
passages, so every format is checked and chunked the same way.

Each format is one module: :mod:`bot.ingest.markdown` (``.md``), :mod:`bot.ingest.plaintext`
(``.txt``) and :mod:`bot.ingest.webpage` (``.html``, ``.htm``); each says what it reads as a
heading, a paragraph and a list item.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.ingest.markdown import outline_markdown
from bot.ingest.outline import Outline
from bot.ingest.plaintext import outline_text
from bot.ingest.webpage import outline_html

OUTLINERS: dict[str, Callable[[str, str], Outline]] = {
    ".md": outline_markdown,
    ".txt": outline_text,
    ".html": outline_html,
    ".htm": outline_html,
}
SUFFIXES = tuple(OUTLINERS)
