"""The corpus's file formats: Markdown, plain text and HTML, each read into an outline.

An :class:`Outline` is a document without its syntax: a title and url when the file gives
them, then headings and blocks (paragraphs and list items) in reading order, each with the
line of the file it starts on. ``bot.corpus`` turns an outline into sections, anchors and
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

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from .errors import CorpusError

LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_MD_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph or a list item as written in the file."""

    text: str
    line: int
    is_item: bool = False


@dataclass(frozen=True, slots=True)
class Heading:
    text: str
    level: int  # 1 to 3
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


# -- Markdown -------------------------------------------------------------------------
def outline_markdown(text: str, display: str) -> Outline:
    lines = text.splitlines()
    meta, start = front_matter(lines, display)
    outline = Outline(title=meta.get("title", ""), url=meta.get("url", ""))
    para: list[str] = []
    para_line = 0

    def flush() -> None:
        nonlocal para
        if para:
            outline.items.append(Block(" ".join(para), para_line))
            para = []

    for number, raw in enumerate(lines[start:], start=start + 1):
        stripped = raw.strip()
        heading = _MD_HEADING.match(stripped)
        if heading:
            flush()
            outline.items.append(Heading(heading.group(2), len(heading.group(1)), number))
        elif not stripped:
            flush()
        elif LIST_ITEM.match(raw):
            flush()
            outline.items.append(Block(stripped, number, is_item=True))
        else:
            if not para:
                para_line = number
            para.append(stripped)
    flush()
    return outline


# -- plain text -----------------------------------------------------------------------
# Single-line headings the clinic's pages use without a question mark.
KNOWN_HEADINGS = frozenset(
    {
        "introduction", "overview", "summary", "conclusion", "in conclusion", "final thoughts",
        "key takeaways", "faq", "faqs", "frequently asked questions", "aftercare", "preparation",
        "preparing for your visit", "pricing", "prices", "costs", "fees", "insurance", "contact",
        "contact us", "next steps", "references", "resources", "background", "disclaimer",
    }
)
_MAX_HEADING_WORDS = 12


def _short(line: str) -> bool:
    return len(line.split()) <= _MAX_HEADING_WORDS and len(line) <= 100


def is_text_heading(line: str) -> bool:
    """A short line that ends in ``?`` or is a known heading word ("Conclusion")."""
    if not _short(line) or LIST_ITEM.match(line):
        return False
    return line.endswith("?") or line.rstrip(":").strip().lower() in KNOWN_HEADINGS


def _is_title(line: str) -> bool:
    return _short(line) and not LIST_ITEM.match(line) and line[-1] not in ".!?:;,"


def outline_text(text: str, display: str) -> Outline:
    lines = text.splitlines()
    meta, start = front_matter(lines, display)
    outline = Outline(title=meta.get("title", ""), url=meta.get("url", ""))
    body = [(n, raw.strip()) for n, raw in enumerate(lines[start:], start=start + 1)]
    texts = [i for i, (_, s) in enumerate(body) if s]
    # Blank lines between text lines mean paragraphs may wrap over several lines.
    wrapped = any(not s for _, s in body[texts[0] : texts[-1]]) if texts else False
    para: list[str] = []
    para_line = 0
    para_item = False

    def flush() -> None:
        nonlocal para, para_item
        if para:
            outline.items.append(Block(" ".join(para), para_line, para_item))
            para, para_item = [], False

    for index, (number, line) in enumerate(body):
        if not line:
            flush()
            continue
        if not wrapped:
            flush()
        if not para:  # the line starts a paragraph: it may be a heading
            alone = not wrapped or index + 1 == len(body) or not body[index + 1][1]
            if index == texts[0] and alone and len(texts) > 1 and _is_title(line):
                outline.items.append(Heading(line, 1, number))
                continue
            if is_text_heading(line):
                outline.items.append(Heading(line.rstrip(":").strip(), 2, number))
                continue
        if LIST_ITEM.match(line):
            flush()
            para, para_line, para_item = [line], number, True
        else:
            if not para:
                para_line = number
            para.append(line)
    flush()
    return outline


# -- HTML -----------------------------------------------------------------------------
_DROPPED = frozenset({"script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "nav", "footer"})
_BLOCKS = frozenset(
    """p div section article main header footer aside blockquote pre ul ol dl dt dd table thead
    tbody tfoot tr figure figcaption form fieldset address h4 h5 h6 hr details summary body""".split()
)
_WS = re.compile(r"\s+")


class _OutlineParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.outline = Outline()
        self._drop: list[str] = []  # the dropped element we are inside, and nested same-name tags
        self._text: list[str] = []
        self._line = 0
        self._heading: tuple[int, int, str] | None = None  # level, line, id
        self._lists: list[list] = []  # [tag, items so far] of the open lists
        self._item = False
        self._in_title = False
        self._title: list[str] = []

    # text -------------------------------------------------------------------------
    def handle_data(self, data: str) -> None:
        if self._drop:
            return
        if self._in_title:
            self._title.append(data)
            return
        if not self._text or not "".join(self._text).strip():
            stripped = data.lstrip()
            if stripped:
                self._line = self.getpos()[0] + data[: len(data) - len(stripped)].count("\n")
        self._text.append(data)

    def _take(self) -> tuple[str, int]:
        text = _WS.sub(" ", "".join(self._text)).strip()
        self._text = []
        return text, self._line

    def _flush(self) -> None:
        if self._heading is not None:
            return  # a heading's text ends at its end tag
        text, line = self._take()
        if not text:
            self._item = False
            return
        if self._item and self._lists:
            kind, count = self._lists[-1]
            prefix = f"{count}. " if kind == "ol" else "- "
            self.outline.items.append(Block(prefix + text, line, is_item=True))
        else:
            self.outline.items.append(Block(text, line))
        self._item = False

    # tags -------------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if self._drop:
            if tag == self._drop[0]:
                self._drop.append(tag)
            return
        if (
            tag in _DROPPED
            or "hidden" in attr
            or (attr.get("role") or "").lower() == "navigation"
            or (attr.get("aria-hidden") or "").lower() == "true"
        ):
            if tag not in {"br", "img", "hr", "input", "meta", "link"}:  # void elements never close
                self._drop.append(tag)
            return
        if tag == "title":
            self._in_title = True
        elif tag == "link" and "canonical" in (attr.get("rel") or "").lower().split():
            self.outline.url = attr.get("href") or ""
        elif tag in {"h1", "h2", "h3"}:
            self._flush()
            self._heading = (int(tag[1]), self.getpos()[0], (attr.get("id") or "").strip())
            self._text = []
        elif tag in {"ul", "ol"}:
            self._flush()
            self._lists.append([tag, 0])
        elif tag == "li":
            self._flush()
            if self._lists:
                self._lists[-1][1] += 1
            self._item = True
        elif tag in {"br", "td", "th"}:
            self._text.append(" ")
        elif tag in _BLOCKS:
            if not self._item:
                self._flush()

    def handle_endtag(self, tag: str) -> None:
        if self._drop:
            if tag == self._drop[-1]:
                self._drop.pop()
            return
        if tag == "title":
            self._in_title = False
        elif tag in {"h1", "h2", "h3"} and self._heading is not None:
            level, line, anchor = self._heading
            self._heading = None
            text, text_line = self._take()
            if text:
                self.outline.items.append(Heading(text, level, text_line or line, anchor))
        elif tag in {"ul", "ol"}:
            self._flush()
            if self._lists:
                self._lists.pop()
        elif tag == "li":
            self._flush()
        elif tag in _BLOCKS and not self._item:
            self._flush()

    def close(self) -> None:
        super().close()
        self._heading = None
        self._flush()
        if not any(isinstance(i, Heading) and i.level == 1 for i in self.outline.items):
            self.outline.title = _WS.sub(" ", "".join(self._title)).strip()


def outline_html(text: str, display: str) -> Outline:
    parser = _OutlineParser()
    parser.feed(text)
    parser.close()
    return parser.outline


OUTLINERS: dict[str, Callable[[str, str], Outline]] = {
    ".md": outline_markdown,
    ".txt": outline_text,
    ".html": outline_html,
    ".htm": outline_html,
}
SUFFIXES = tuple(OUTLINERS)
