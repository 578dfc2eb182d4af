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

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

from bot.errors import CorpusError

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
@lru_cache(maxsize=1)
def _markdown_parser():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table")


def _inline_text(token) -> str:
    """The words of an inline token as a reader sees them: emphasis and code marks
    dropped, link text kept (not its address), images by their alt text, raw HTML dropped."""
    out = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif child.type == "image":
            out.append(child.content)
    return _WS.sub(" ", "".join(out)).strip()


def outline_markdown(text: str, display: str) -> Outline:
    """Read Markdown with markdown-it-py (CommonMark and tables): ATX and setext headings
    (levels 1-3; deeper ones count as level 3), paragraphs, list items, table rows (as
    items, cells joined by ': ' then ', '); fenced and indented code is not answer text."""
    lines = text.splitlines()
    meta, start = front_matter(lines, display)
    outline = Outline(title=meta.get("title", ""), url=meta.get("url", ""))
    tokens = _markdown_parser().parse("\n".join(lines[start:]))
    heading: int | None = None
    items = 0  # open list items: a paragraph inside one is an item
    row: list[str] | None = None
    row_line = 0
    for token in tokens:
        line = (token.map[0] + 1 + start) if token.map else 0
        if token.type == "heading_open":
            heading = min(int(token.tag[1]), 3)
        elif token.type == "heading_close":
            heading = None
        elif token.type == "list_item_open":
            items += 1
        elif token.type == "list_item_close":
            items -= 1
        elif token.type == "tr_open":
            row, row_line = [], line
        elif token.type == "tr_close" and row is not None:
            cells = [c for c in row if c]
            if cells:
                body = cells[0] + (": " + ", ".join(cells[1:]) if len(cells) > 1 else "")
                outline.items.append(Block(f"- {body}", row_line, is_item=True))
            row = None
        elif token.type == "inline":
            words = _inline_text(token)
            if row is not None:
                row.append(words)
            elif not words:
                continue
            elif heading is not None:
                outline.items.append(Heading(words, heading, line))
            else:
                outline.items.append(Block(f"- {words}" if items else words, line, is_item=items > 0))
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
# Page furniture, not content: menus, site header and footer, sidebars, forms, dialogs.
_DROPPED = frozenset(
    {"script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "nav", "footer",
     "header", "aside", "form", "dialog", "button", "select", "label"}
)
_DROPPED_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "dialog", "alertdialog", "search", "form"})
# Cookie and consent notices, pop-ups, skip links and share bars, by their class or id.
_FURNITURE = re.compile(
    r"(?:^|[\s_-])(?:cookies?|consent|gdpr|ccpa|cmp|popup|pop-up|modal|overlay|newsletter|subscribe|"
    r"skip-link|skip-to|share|social|breadcrumbs?|sidebar|widget|related|announcement|promo|topbar|top-bar)(?:$|[\s_-])",
    re.IGNORECASE,
)
_MAIN = re.compile(r"<main\b|role\s*=\s*[\"']?main\b", re.IGNORECASE)
_ARTICLE = re.compile(r"<article\b", re.IGNORECASE)
_BLOCKS = frozenset(
    """p div section article main header footer aside blockquote pre ul ol dl dt dd table thead
    tbody tfoot tr figure figcaption form fieldset address h4 h5 h6 hr details summary body""".split()
)
_WS = re.compile(r"\s+")


class _OutlineParser(HTMLParser):
    """``scope``: read only inside these elements (``main``, or ``article``) when the page
    has them; everything else is the site's furniture around the content."""

    def __init__(self, scope: str | None = None) -> None:
        super().__init__(convert_charrefs=True)
        self.outline = Outline()
        self._scope = scope
        self._inside = 0 if scope else 1  # depth inside the scope element(s)
        self._drop: list[str] = []  # the dropped element we are inside, and nested same-name tags
        self._text: list[str] = []
        self._line = 0
        self._heading: tuple[int, int, str] | None = None  # level, line, id
        self._lists: list[list] = []  # [tag, items so far] of the open lists
        self._item = False
        self._in_title = False
        self._title: list[str] = []
        self._scope_tags: list[str] = []
        self._cells: list[str] | None = None  # the table row being read
        self._cell_line = 0

    # text -------------------------------------------------------------------------
    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title.append(data)
            return
        if self._drop or not self._inside:
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
    def _is_scope(self, tag: str, attr: dict) -> bool:
        return tag == self._scope or (self._scope == "main" and (attr.get("role") or "").lower() == "main")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if self._drop:
            if tag == self._drop[0]:
                self._drop.append(tag)
            return
        if tag == "title":
            self._in_title = True
            return
        if tag == "link" and "canonical" in (attr.get("rel") or "").lower().split():
            self.outline.url = attr.get("href") or ""
            return
        if self._scope and self._is_scope(tag, attr):
            self._inside += 1
            self._scope_tags.append(tag)
            return
        if not self._inside:
            return
        if (
            (tag in _DROPPED and not (tag == "header" and self._scope_tags))  # an article's own header stays
            or "hidden" in attr
            or (attr.get("role") or "").lower() in _DROPPED_ROLES
            or (attr.get("aria-hidden") or "").lower() == "true"
            or (attr.get("aria-modal") or "").lower() == "true"
            or _FURNITURE.search(f"{attr.get('class') or ''} {attr.get('id') or ''}")
        ):
            if tag not in {"br", "img", "hr", "input", "meta", "link"}:  # void elements never close
                self._drop.append(tag)
            return
        if tag in {"h1", "h2", "h3", "h4"}:
            self._flush()
            self._heading = (min(int(tag[1]), 3), self.getpos()[0], (attr.get("id") or "").strip())
            self._text = []
        elif tag in {"ul", "ol"}:
            self._flush()
            self._lists.append([tag, 0])
        elif tag == "li":
            self._flush()
            if self._lists:
                self._lists[-1][1] += 1
            self._item = True
        elif tag == "tr":
            self._flush()
            self._cells = []
        elif tag in {"td", "th"}:
            self._take_cell()
        elif tag == "br":
            self._text.append(" ")
        elif tag in _BLOCKS:
            if not self._item:
                self._flush()

    def _take_cell(self) -> None:
        """Close the table cell being read (its text joins the row)."""
        if self._cells is not None:
            text, line = self._take()
            if text:
                self._cells.append(text)
                self._cell_line = self._cell_line or line

    def handle_endtag(self, tag: str) -> None:
        if self._drop:
            if tag == self._drop[-1]:
                self._drop.pop()
            return
        if tag == "title":
            self._in_title = False
            return
        if self._scope_tags and tag == self._scope_tags[-1]:
            self._flush()
            self._scope_tags.pop()
            self._inside -= 1
            return
        if not self._inside:
            return
        if tag in {"td", "th"}:
            self._take_cell()
        elif tag == "tr" and self._cells is not None:
            self._take_cell()
            cells, self._cells = self._cells, None
            if cells:
                body = cells[0] + (": " + ", ".join(cells[1:]) if len(cells) > 1 else "")
                self.outline.items.append(Block(f"- {body}", self._cell_line, is_item=True))
            self._cell_line = 0
        elif tag in {"h1", "h2", "h3", "h4"} and self._heading is not None:
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
    """Read the page's content: inside ``<main>`` (or its ``<article>`` elements) when it has
    one, without menus, header, footer, sidebars, forms, cookie notices and scripts."""
    scope = "main" if _MAIN.search(text) else "article" if _ARTICLE.search(text) else None
    parser = _OutlineParser(scope)
    parser.feed(text)
    parser.close()
    outline = parser.outline
    if scope and not any(isinstance(i, Heading) and i.level == 1 for i in outline.items):
        # The page's title is often in a banner above <main>: its first <h1> heads the content.
        found = _H1.search(text)
        title = _WS.sub(" ", html.unescape(_TAG.sub(" ", found.group(1)))).strip() if found else ""
        if title:
            outline.items.insert(0, Heading(title, 1, text[: found.start()].count("\n") + 1))
            outline.title = ""  # the <h1> names the document, as on a page without <main>
    return outline


_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


OUTLINERS: dict[str, Callable[[str, str], Outline]] = {
    ".md": outline_markdown,
    ".txt": outline_text,
    ".html": outline_html,
    ".htm": outline_html,
}
SUFFIXES = tuple(OUTLINERS)
