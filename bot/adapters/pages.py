"""Readable HTML for a corpus document, with an id on every heading so citations open the
right section (``/source/<name>#<anchor>``)."""

from __future__ import annotations

from html import escape

from bot.ingest.corpus import Document, item_text

_STYLE = """
body{font:17px/1.6 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.8rem;line-height:1.25}h2{margin-top:2rem;font-size:1.3rem}
:target{background:#fff3c4;scroll-margin-top:1rem}
a{color:#0b57d0}
"""


def render_document(doc: Document) -> str:
    """The document as a standalone HTML page (every text escaped)."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{escape(doc.title)}</title><style>{_STYLE}</style></head><body><main>",
    ]
    for section in doc.sections:
        tag = "h1" if section.level == 1 else f"h{min(section.level, 3)}"
        parts.append(f"<{tag} id='{escape(section.anchor)}'>{escape(section.title)}</{tag}>")
        open_list = ""  # "ol" or "ul" while inside a list
        for block in section.blocks:
            if block.is_item and not open_list:
                open_list = "ol" if block.text[:1].isdigit() else "ul"
                parts.append(f"<{open_list}>")
            elif not block.is_item and open_list:
                parts.append(f"</{open_list}>")
                open_list = ""
            if block.is_item:
                parts.append(f"<li>{escape(item_text(block))}</li>")
            else:
                parts.append(f"<p>{escape(block.text)}</p>")
        if open_list:
            parts.append(f"</{open_list}>")
    parts.append("</main></body></html>")
    return "\n".join(parts)
