"""Plain text (``.txt``): optional front matter as in Markdown. A heading is a short line of
its own that ends in ``?`` ("How much does it cost?") or is a known heading word
("Conclusion", "Aftercare"); a short first line without end punctuation is the title.
Paragraphs are separated by blank lines; a file without blank lines (as the clinic's
article was handed over) has one paragraph per line."""

from __future__ import annotations

from bot.ingest.outline import LIST_ITEM, Block, Heading, Outline, front_matter

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
