"""Markdown (``.md``): optional front matter (``title``, ``url``), headings, paragraphs and lists."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from bot.ingest.outline import WHITESPACE as _WS
from bot.ingest.outline import Block, Heading, Outline, front_matter


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


def _nest_under_groups(items: list[Heading | Block], setext: set[int]) -> list[Heading | Block]:
    """A setext heading whose first heading below is an ATX heading of its own level groups
    them ("Safety and Monitoring" underlined with dashes, over "## What is the REMS
    program?"): the ATX headings after it sit one level deeper, until a heading of a higher
    level or the next setext heading of its level or higher."""
    out = list(items)
    group: int | None = None  # level of the open group heading
    headings = [i for i, item in enumerate(items) if isinstance(item, Heading)]
    for n, i in enumerate(headings):
        item = items[i]
        if i in setext:
            below = headings[n + 1] if n + 1 < len(headings) else None
            opens = below is not None and below not in setext and items[below].level == item.level
            if opens or group is None or item.level <= group:
                group = item.level if opens else None
        elif group is not None:
            if item.level < group:
                group = None
            else:
                out[i] = replace(item, level=item.level + 1)
    return out


def outline_markdown(text: str, display: str) -> Outline:
    """Read Markdown with markdown-it-py (CommonMark and tables): ATX and setext headings
    (levels 1-3; deeper ones count as level 3; one deeper under a group heading, see
    :func:`_nest_under_groups`), paragraphs, list items, table rows (as items, cells joined
    by ': ' then ', '); fenced and indented code is not answer text."""
    lines = text.splitlines()
    meta, start = front_matter(lines, display)
    outline = Outline(title=meta.get("title", ""), url=meta.get("url", ""))
    tokens = _markdown_parser().parse("\n".join(lines[start:]))
    heading: int | None = None
    setext: set[int] = set()  # indices of the items that are setext headings
    underlined = False
    items = 0  # open list items: a paragraph inside one is an item
    row: list[str] | None = None
    row_line = 0
    for token in tokens:
        line = (token.map[0] + 1 + start) if token.map else 0
        if token.type == "heading_open":
            heading = min(int(token.tag[1]), 3)
            underlined = token.markup in ("=", "-")
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
                if underlined:
                    setext.add(len(outline.items))
                outline.items.append(Heading(words, heading, line))
            else:
                outline.items.append(Block(f"- {words}" if items else words, line, is_item=items > 0))
    outline.items = _nest_under_groups(outline.items, setext)
    return outline
