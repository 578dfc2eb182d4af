"""The corpus's file formats: Markdown, plain text and HTML, each read into an outline.

An :class:`Outline` is a document without its syntax: a title and url when the file gives
them, then headings and blocks (paragraphs and list items) in reading order, each with the
line of the file it starts on. ``bot.ingest.corpus`` turns an outline into sections, anchors and
passages, so every format is checked and chunked the same way.

- Markdown (``.md``): optional front matter (``title``, ``url``), ``#``-``###`` headings.
- Plain text (``.txt``): optional front matter as in Markdown. A heading is a short line of
  its own that ends in ``?`` ("How much does it cost?") or is a known heading word
  ("Conclusion", "Aftercare"); a short first line without end punctuation is the title.
  Paragraphs are separated by blank lines; a file without blank lines (as the clinic's
  article was handed over) has one paragraph per line.
- HTML (``.html``, ``.htm``): ``h1``-``h3`` are headings (their ``id`` becomes the anchor),
  ``li`` are list items; scripts, styles, navigation, footers and hidden elements are dropped;
  ``<title>`` is the title when there is no ``h1``, ``<link rel="canonical">`` the url.
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
