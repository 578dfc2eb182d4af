"""Read the Markdown files under ``corpus/`` into documents, sections and passages.

A passage (:class:`Chunk`) is a paragraph, or a list together with the paragraph that
introduces it, or a run of sentences of a long paragraph. It keeps its source file, the
section it belongs to (with a GitHub-style anchor), its position, and an id derived from
its content, so the same text gets the same id on every build.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CorpusError
from .text import slugify, split_sentences

logger = logging.getLogger(__name__)

CORPUS_SUFFIXES = (".md",)
_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One retrievable passage of the corpus."""

    id: str  # sha256 of source + section + text: same content, same id
    source: str  # corpus/ketamine-infusion-insurance.md
    doc: str  # ketamine-infusion-insurance (the name /source/<doc> renders)
    doc_title: str
    section: str  # "How much does ketamine infusion cost?"
    anchor: str  # "how-much-does-ketamine-infusion-cost"
    url: str  # front-matter url or /source/<doc>, plus #anchor
    position: int  # order of the passage in its document
    line: int  # line of the file the passage starts on
    text: str
    sentences: tuple[str, ...]

    def to_json(self) -> dict:
        data = {f: getattr(self, f) for f in self.__slots__}
        data["sentences"] = list(self.sentences)
        return data

    @classmethod
    def from_json(cls, data: dict) -> Chunk:
        return cls(**{**data, "sentences": tuple(data["sentences"])})


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph or a list item as written in the file."""

    text: str
    line: int
    is_item: bool = False


@dataclass(slots=True)
class Section:
    title: str
    anchor: str
    level: int
    line: int
    blocks: list[Block] = field(default_factory=list)


@dataclass(slots=True)
class Document:
    name: str
    source: str
    title: str
    url: str | None
    sections: list[Section]

    def base_url(self) -> str:
        return self.url or f"/source/{self.name}"


def _read_text(path: Path, display: str) -> str:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CorpusError(
            display, line, f"byte {data[exc.start]:#x} is not UTF-8: re-save the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")


def _front_matter(lines: list[str], display: str) -> tuple[dict[str, str], int]:
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


def parse_markdown(path: Path, root: Path) -> Document:
    """Read one Markdown file into a :class:`Document`."""
    rel = path.relative_to(root)
    display = (Path(root.name) / rel).as_posix()
    lines = _read_text(path, display).splitlines()
    meta, start = _front_matter(lines, display)
    name = rel.with_suffix("").as_posix()
    title = meta.get("title", "")
    sections: list[Section] = []
    current: Section | None = None
    para: list[str] = []
    para_line = 0

    def flush() -> None:
        nonlocal para, current
        if not para:
            return
        if current is None:
            fallback = title or name
            current = Section(fallback, slugify(fallback), 1, para_line)
            sections.append(current)
        current.blocks.append(Block(" ".join(para), para_line))
        para = []

    for number, raw in enumerate(lines[start:], start=start + 1):
        stripped = raw.strip()
        heading = _HEADING.match(stripped)
        if heading:
            flush()
            level, text = len(heading.group(1)), heading.group(2)
            if level == 1 and not title:
                title = text
            current = Section(text, slugify(text), level, number)
            sections.append(current)
        elif not stripped:
            flush()
        elif _LIST_ITEM.match(raw):
            flush()
            if current is None:
                para, para_line = [stripped], number
                flush()
                current.blocks[-1] = Block(stripped, number, is_item=True)
            else:
                current.blocks.append(Block(stripped, number, is_item=True))
        else:
            if not para:
                para_line = number
            para.append(stripped)
    flush()

    if not any(s.blocks for s in sections):
        raise CorpusError(display, None, "has no text: add a '# Title' and paragraphs, or delete it")
    # The text under the document's title is its introduction; when a section repeats the
    # title (as the clinic's article does), the section keeps the plain anchor.
    deeper = {s.anchor for s in sections if s.level > 1}
    for section in sections:
        if section.level == 1 and section.anchor in deeper:
            section.anchor = "introduction"
    seen: dict[str, int] = {}
    for section in sections:
        if section.anchor in seen and section.blocks:
            raise CorpusError(
                display,
                section.line,
                f"heading '{section.title}' repeats the anchor #{section.anchor} of line "
                f"{seen[section.anchor]}: give the two sections different headings",
            )
        seen.setdefault(section.anchor, section.line)
        if not section.blocks and section.level > 1:
            logger.warning("%s:%d: heading '%s' has no text under it", display, section.line, section.title)
    return Document(name, display, title or name, meta.get("url") or None, sections)


def item_text(block: Block) -> str:
    """The words of a list item without its bullet or number."""
    return _LIST_ITEM.sub("", block.text, count=1) if block.is_item else block.text


def _groups(section: Section, max_words: int) -> list[list[Block]]:
    """Group a section's blocks into passages: a list stays with its lead-in paragraph."""
    groups: list[list[Block]] = []
    for block in section.blocks:
        size = len(block.text.split())
        prev = groups[-1] if groups else None
        if (
            prev is not None
            and block.is_item
            and sum(len(b.text.split()) for b in prev) + size <= max_words
        ):
            prev.append(block)
        else:
            groups.append([block])
    return groups


def _split_long(sentences: list[str], max_words: int) -> list[list[str]]:
    runs: list[list[str]] = [[]]
    for sentence in sentences:
        if runs[-1] and sum(len(s.split()) for s in runs[-1]) + len(sentence.split()) > max_words:
            runs.append([])
        runs[-1].append(sentence)
    return runs


def chunk_document(doc: Document, max_words: int = 160) -> list[Chunk]:
    """Split a document into passages of at most ``max_words`` words (a longer sentence stays whole)."""
    chunks: list[Chunk] = []
    for section in doc.sections:
        for group in _groups(section, max_words):
            sentences = [s for b in group for s in split_sentences(item_text(b))]
            runs = _split_long(sentences, max_words) if len(group) == 1 else [sentences]
            for run in runs:
                if len(runs) == 1:
                    text = "\n".join(b.text for b in group)
                else:
                    text = " ".join(run)
                digest = hashlib.sha256(
                    f"{doc.source}\x1f{section.title}\x1f{text}".encode()
                ).hexdigest()[:16]
                chunks.append(
                    Chunk(
                        id=digest,
                        source=doc.source,
                        doc=doc.name,
                        doc_title=doc.title,
                        section=section.title,
                        anchor=section.anchor,
                        url=f"{doc.base_url()}#{section.anchor}",
                        position=len(chunks),
                        line=group[0].line,
                        text=text,
                        sentences=tuple(run),
                    )
                )
    return chunks


def corpus_files(root: Path) -> list[Path]:
    """Every corpus file under ``root``, in a stable order."""
    if not root.is_dir():
        raise CorpusError(root, None, "corpus folder not found: create it or pass --corpus")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in CORPUS_SUFFIXES)


def load_corpus(root: Path) -> list[Document]:
    """Parse every document under ``root``; raises :class:`CorpusError` naming file and line."""
    docs = [parse_markdown(p, root) for p in corpus_files(root)]
    if not docs:
        raise CorpusError(root, None, "holds no .md files: add the clinic's articles there")
    return docs


def load_chunks(root: Path, max_words: int = 160) -> list[Chunk]:
    return [c for d in load_corpus(root) for c in chunk_document(d, max_words)]


def corpus_hash(root: Path) -> str:
    """sha256 over every corpus file's path and bytes: changes whenever the content does."""
    digest = hashlib.sha256()
    for path in corpus_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
