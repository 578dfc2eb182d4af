"""Read the documents under ``corpus/`` into sections and passages.

A document is a Markdown, plain-text or HTML file (see :mod:`bot.ingest.formats`); sub-folders are
allowed. Every format becomes the same :class:`Document`: sections with GitHub-style
anchors, each holding paragraphs and list items. A passage (:class:`Chunk`) is a paragraph,
or a list together with the paragraph that introduces it, or a run of sentences of a long
paragraph. It keeps its source file, the section it belongs to, its position, and an id
derived from its content, so the same text gets the same id on every build.

Content that cannot be served well is refused with the file, the line and what to fix:
an empty document, undecodable bytes, two sections with one anchor, the same document
twice. A heading with no text under it is a warning.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import CorpusError
from bot.ingest.formats import OUTLINERS, SUFFIXES
from bot.ingest.outline import LIST_ITEM, Block, Heading, Outline, read_text
from bot.ingest.text import slugify, split_sentences

logger = logging.getLogger(__name__)

QUESTIONS_FILES = ("questions.yaml", "questions.yml")  # curated phrasings, see bot.ingest.questions
VOCABULARY_FILES = ("vocabulary.yaml", "vocabulary.yml")  # synonyms and warm-up questions, see bot.ingest.wording
_EMPTY_HINT = {
    ".md": "add a '# Title' and paragraphs, or delete it",
    ".txt": "add paragraphs of text, or delete it",
    ".html": "add headings and paragraphs (<h1>, <p>) to its body, or delete it",
    ".htm": "add headings and paragraphs (<h1>, <p>) to its body, or delete it",
}


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


@dataclass(slots=True)
class Section:
    title: str
    anchor: str
    level: int
    line: int
    blocks: list[Block] = field(default_factory=list)


@dataclass(slots=True)
class Document:
    name: str  # path under the corpus folder without its suffix: /source/<name>
    source: str  # corpus/ketamine-infusion-insurance.md
    title: str
    url: str | None
    sections: list[Section]

    def base_url(self) -> str:
        return self.url or f"/source/{self.name}"


def display_path(path: Path, root: Path) -> str:
    """How files are named in passages and messages: ``corpus/sub/file.md``."""
    return (Path(root.name) / path.relative_to(root)).as_posix()


def parse_document(path: Path, root: Path) -> Document:
    """Read one corpus file, of any format, into a :class:`Document`.

    Raises :class:`CorpusError` naming the file and line for content that cannot be served.
    """
    display = display_path(path, root)
    suffix = path.suffix.lower()
    outliner = OUTLINERS.get(suffix)
    if outliner is None:
        raise CorpusError(display, None, f"is not a format the bot reads ({', '.join(SUFFIXES)})")
    outline = outliner(read_text(path, display), display)
    return _document(outline, document_name(path, root), display, suffix)


def parse_markdown(path: Path, root: Path) -> Document:
    """Read one corpus file (kept for callers from when the corpus was Markdown only:
    it reads every format, by the file's suffix, like :func:`parse_document`)."""
    return parse_document(path, root)


def _document(outline: Outline, name: str, display: str, suffix: str) -> Document:
    title = outline.title
    sections: list[Section] = []
    current: Section | None = None
    for item in outline.items:
        if isinstance(item, Heading):
            if item.level == 1 and not title:
                title = item.text
            current = Section(item.text, item.anchor or slugify(item.text), item.level, item.line)
            sections.append(current)
            continue
        if current is None:  # text before the first heading
            fallback = outline.title or name
            current = Section(fallback, slugify(fallback), 1, item.line)
            sections.append(current)
        current.blocks.append(item)

    if not any(s.blocks for s in sections):
        raise CorpusError(display, None, f"has no text: {_EMPTY_HINT.get(suffix, 'add text or delete it')}")
    # The text under the document's title is its introduction; when a section repeats the
    # title (as the clinic's article does), the section keeps the plain anchor.
    deeper = {s.anchor for s in sections if s.level > 1}
    for section in sections:
        if section.level == 1 and section.anchor in deeper:
            section.anchor = "introduction"
    seen: dict[str, int] = {}
    for i, section in enumerate(sections):
        if section.anchor in seen and section.blocks:
            raise CorpusError(
                display,
                section.line,
                f"heading '{section.title}' repeats the anchor #{section.anchor} of line "
                f"{seen[section.anchor]}: give the two sections different headings",
            )
        seen.setdefault(section.anchor, section.line)
        # A heading over subheadings ("Fees" above "Do you bill insurers?") needs no text of its own.
        parent = i + 1 < len(sections) and sections[i + 1].level > section.level
        if not section.blocks and section.level > 1 and not parent:
            logger.warning(
                "%s:%d: heading '%s' has no text under it: add its text or remove the heading",
                display,
                section.line,
                section.title,
            )
    return Document(name, display, title or name, outline.url or None, sections)


def item_text(block: Block) -> str:
    """The words of a list item without its bullet or number."""
    return LIST_ITEM.sub("", block.text, count=1) if block.is_item else block.text


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


def _visible(path: Path, root: Path) -> bool:
    return path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)


def document_name(path: Path, root: Path) -> str:
    """A document's name: its path in the corpus without the extension (what /source/ serves)."""
    return path.relative_to(root).with_suffix("").as_posix()


def corpus_files(root: Path) -> list[Path]:
    """Every document under ``root`` (.md, .txt, .html), in a stable order; hidden files
    and folders (``.git``, ``.DS_Store``) are left out."""
    if not root.is_dir():
        raise CorpusError(root, None, "corpus folder not found: create it or pass --corpus")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and _visible(p, root))


def questions_file(root: Path) -> Path | None:
    """The curated phrasings file of the corpus (``questions.yaml``), if there is one."""
    for name in QUESTIONS_FILES:
        if (root / name).is_file():
            return root / name
    return None


def source_files(root: Path) -> list[Path]:
    """Everything a build reads: the documents, the phrasings and the vocabulary file."""
    extra = [root / n for n in (*QUESTIONS_FILES, *VOCABULARY_FILES) if (root / n).is_file()]
    return corpus_files(root) + extra


def load_corpus(root: Path) -> list[Document]:
    """Parse every document under ``root``; raises :class:`CorpusError` naming file and line.

    The same document twice is an error: two formats of one name (``aftercare.md`` and
    ``aftercare.html``) or two files with identical bytes (a re-upload under a new name).
    """
    files = corpus_files(root)
    ignored = [
        p
        for p in root.rglob("*")
        if _visible(p, root) and p.suffix.lower() not in SUFFIXES and p.name not in (*QUESTIONS_FILES, *VOCABULARY_FILES)
    ]
    for path in sorted(ignored):
        logger.warning(
            "%s: not a format the bot reads (%s); it is left out of the index",
            display_path(path, root),
            ", ".join(SUFFIXES),
        )
    if not files:
        raise CorpusError(root, None, f"holds no documents ({', '.join(SUFFIXES)}): add the clinic's pages there")
    names: dict[str, Path] = {}
    digests: dict[bytes, Path] = {}
    for path in files:
        display = display_path(path, root)
        name = document_name(path, root)
        if name in names:
            raise CorpusError(
                display, None, f"is the same document as {display_path(names[name], root)} in another format: keep one of them"
            )
        names[name] = path
        digest = hashlib.sha256(path.read_bytes()).digest()
        if digest in digests:
            raise CorpusError(
                display, None, f"has the same content as {display_path(digests[digest], root)}: delete the copy"
            )
        digests[digest] = path
    return [parse_document(p, root) for p in files]


def load_chunks(root: Path, max_words: int = 160) -> list[Chunk]:
    return [c for d in load_corpus(root) for c in chunk_document(d, max_words)]


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file a build reads, by its path under ``root``."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in source_files(root)}


def corpus_hash(root: Path) -> str:
    """sha256 over every document's and the phrasings file's path and bytes: changes
    whenever the content does."""
    return hash_of_files(file_hashes(root))


def hash_of_files(hashes: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for rel, file_digest in sorted(hashes.items()):
        digest.update(rel.encode() + b"\0")
        digest.update(bytes.fromhex(file_digest))
    return digest.hexdigest()
