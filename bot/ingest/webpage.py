"""HTML (``.html``, ``.htm``) saved from a clinic's site: ``h1``-``h3`` are headings (their
``id`` becomes the anchor), ``li`` are list items; scripts, styles, navigation, footers,
cookie notices and hidden elements are dropped; ``<title>`` is the title when there is no
``h1``, ``<link rel="canonical">`` the url."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from bot.ingest.outline import WHITESPACE as _WS
from bot.ingest.outline import Block, Heading, Outline

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

    def _is_furniture(self, tag: str, attr: dict) -> bool:
        """Page furniture or hidden: the element and everything in it is dropped."""
        return bool(
            (tag in _DROPPED and not (tag == "header" and self._scope_tags))  # an article's own header stays
            or "hidden" in attr
            or (attr.get("role") or "").lower() in _DROPPED_ROLES
            or (attr.get("aria-hidden") or "").lower() == "true"
            or (attr.get("aria-modal") or "").lower() == "true"
            or _FURNITURE.search(f"{attr.get('class') or ''} {attr.get('id') or ''}")
        )

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
        if self._is_furniture(tag, attr):
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
