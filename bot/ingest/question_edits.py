"""Changing ``corpus/questions.yaml`` from code: phrasings added to a section or removed,
the rest of the file kept as written (comments, order, quoting).

The file is edited as text, never re-dumped: an addition is a new entry at the end under a
comment saying who added it and when; a removal deletes the phrasing's line, and an entry
left without phrasings goes with the comment lines right above it. Every change is:

- **serialized**: one writer at a time across processes (``flock`` on
  ``corpus/.questions.yaml.lock``), so two staff members fixing at once both land;
- **checked before it is written**: the new text must load (:func:`parse_questions`), so a
  change never leaves a file the build refuses;
- **atomic**: written to a temporary file beside it, flushed, then renamed over it, so a
  reader sees the old file or the new one, never half of one;
- **refused on a broken file**: a file that does not load now (a maintainer's typo) is never
  overwritten; the error names its file and line.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.errors import CorpusError
from bot.ingest.corpus import Document, display_path, questions_file
from bot.ingest.outline import read_text
from bot.ingest.questions import fix_number, parse_questions, resolve_section

logger = logging.getLogger(__name__)

DEFAULT_NAME = "questions.yaml"
LOCK_NAME = ".questions.yaml.lock"
HEADER = (
    "# Curated phrasings: ways visitors ask, each pointing to the section that answers them.\n"
    "# See \"Updating the content\" in README.md.\n"
)


class QuestionsFileBroken(CorpusError):
    """The questions file does not load, so it is not changed until it is repaired."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of the questions file as written."""

    section: str  # as written: "file.md#anchor"
    questions: tuple[str, ...]
    line: int  # of its "- section:" line (1-based)
    end: int  # the line after its last phrasing (0-based, exclusive)
    fix: int | None  # the console fix that added it, from its "# fix N" comment


@dataclass(frozen=True, slots=True)
class Change:
    """What an edit did: the section (``file.md#anchor``), and the phrasings it added or
    removed; ``unchanged``: those it left as they were (already there, or not found)."""

    section: str
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]

    def to_json(self) -> dict:
        return {"section": self.section, "changed": list(self.changed), "unchanged": list(self.unchanged)}


def questions_path(root: Path) -> Path:
    return questions_file(root) or root / DEFAULT_NAME


@contextmanager
def edit_lock(root: Path) -> Iterator[None]:
    """Hold the questions file of ``root`` for one writer (blocks until it is free)."""
    with open(root / LOCK_NAME, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_entries(root: Path) -> list[Entry]:
    """The entries as written, in file order (sections not checked); [] without a file."""
    path = questions_file(root)
    if path is None:
        return []
    text = read_text(path, display_path(path, root))
    return _entries(text, display_path(path, root))


def check_file(root: Path, documents: list[Document]) -> None:
    """Raise :class:`QuestionsFileBroken` (file and line) when the file does not load."""
    path = questions_file(root)
    if path is None:
        return
    display = display_path(path, root)
    try:
        parse_questions(read_text(path, display), display, documents, root.name)
    except CorpusError as exc:
        raise QuestionsFileBroken(exc.path, exc.line, f"{exc.problem}; repair it by hand first: nothing was changed") from None


def add_phrasings(root: Path, documents: list[Document], section: str, questions: list[str], comment: str) -> Change:
    """Point ``questions`` at ``section`` in a new entry at the end of the file, under
    ``# comment``. A phrasing already pointing at that section is left as is."""
    source, anchor = resolve_section(section, documents, root.name)
    written = f"{source.removeprefix(f'{root.name}/')}#{anchor}"
    with edit_lock(root):
        check_file(root, documents)
        path = questions_path(root)
        text = path.read_bytes().decode("utf-8") if path.is_file() else HEADER
        existing = {_key(q) for entry in _entries(text, path.name) if _same(entry.section, written, documents, root.name)
                    for q in entry.questions}
        new, seen = [], set()
        for question in (" ".join(q.split()) for q in questions):
            if question and _key(question) not in existing | seen:
                new.append(question)
                seen.add(_key(question))
        unchanged = tuple(q for q in questions if " ".join(q.split()) not in new)
        if new:
            lines = [f"# {' '.join(comment.split())}", f"- section: {_scalar(written)}", "  questions:",
                     *(f"    - {_scalar(q)}" for q in new)]
            nl = "\r\n" if "\r\n" in text else "\n"
            _write(root, path, text.rstrip("\r\n") + nl + nl + nl.join(lines) + nl, documents)
            logger.info("%s: %d phrasing(s) now point to %s", path, len(new), written)
        return Change(written, tuple(new), unchanged)


def remove_phrasings(root: Path, documents: list[Document], section: str, questions: list[str], *,
                     fix: int | None = None) -> Change:
    """Remove ``questions`` from the entries for ``section`` (which may no longer exist); with
    ``fix``, only from the entry that console fix added. Only a phrasing written on a line of
    its own (``    - text``) is removed: one over several lines or in a ``[flow, list]`` is a
    :class:`CorpusError` asking to remove it by hand. An entry left without phrasings goes,
    with the comment line this module wrote above it and one blank line."""
    wanted = {_key(q) for q in questions}
    with edit_lock(root):
        check_file(root, documents)
        path = questions_file(root)
        if path is None:
            return Change(section, (), tuple(questions))
        text = path.read_bytes().decode("utf-8")
        lines = text.splitlines(keepends=True)
        drop: set[int] = set()  # 0-based line numbers
        removed: list[str] = []
        for entry, nodes, flow in _entry_nodes(text, path.name):
            if not _same(entry.section, section, documents, root.name) or (fix is not None and entry.fix != fix):
                continue
            gone = [n for n in nodes if _key(n.value) in wanted]
            if not gone:
                continue
            removed += [n.value for n in gone if n.value not in removed]
            if len(gone) == len(nodes):
                drop.update(_entry_lines(lines, entry))
                continue
            for node in gone:
                if flow or not _own_line(lines, node):
                    raise CorpusError(path.name, node.start_mark.line + 1,
                                      f"'{node.value}' is not written on a line of its own: remove it by hand")
                drop.add(node.start_mark.line)
        if removed:
            _write(root, path, "".join(line for i, line in enumerate(lines) if i not in drop), documents)
            logger.info("%s: %d phrasing(s) no longer point to %s", path, len(removed), section)
        unchanged = tuple(q for q in questions if _key(q) not in {_key(r) for r in removed})
        return Change(section, tuple(removed), unchanged)


def _entries(text: str, display: str) -> list[Entry]:
    return [entry for entry, _, _ in _entry_nodes(text, display)]


def _entry_nodes(text: str, display: str) -> list[tuple[Entry, list[yaml.ScalarNode], bool]]:
    """Each entry with its phrasing nodes, and whether any of it is in flow style."""
    try:
        tree = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise QuestionsFileBroken(display, mark.line + 1 if mark else None, "is not valid YAML: repair it by hand first") from None
    if not isinstance(tree, yaml.SequenceNode):
        return []
    lines, found = text.splitlines(), []
    for node in tree.value:
        if not isinstance(node, yaml.MappingNode):
            continue
        fields = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        section = fields.get("section")
        questions = fields.get("questions")
        items = [q for q in questions.value if isinstance(q, yaml.ScalarNode)] if isinstance(questions, yaml.SequenceNode) else []
        line = node.start_mark.line + 1
        # A block collection ends where the next token starts (maybe past comments): measure
        # the end by the scalars in it, or by the closing bracket of a flow collection.
        ends = [node] if node.flow_style else [section, questions if getattr(questions, "flow_style", False) else None, *items]
        end = max((_last_line(n) for n in ends if n is not None), default=line - 1) + 1
        entry = Entry(str(section.value) if isinstance(section, yaml.ScalarNode) else "", tuple(q.value for q in items), line,
                      end, fix_number(lines, line))
        flow = bool(node.flow_style or (isinstance(questions, yaml.SequenceNode) and questions.flow_style))
        found.append((entry, items, flow))
    return found


def _last_line(node: yaml.Node) -> int:
    """The 0-based line a node's text ends on (a block ends at the start of the next line)."""
    end = node.end_mark
    return end.line if end.column > 0 else end.line - 1


def _own_line(lines: list[str], node: yaml.ScalarNode) -> bool:
    return node.start_mark.line == _last_line(node) and lines[node.start_mark.line].lstrip().startswith("- ")


_OURS = re.compile(r"^\s*#\s*(?:fix \d+: )?added by ")


def _entry_lines(lines: list[str], entry: Entry) -> set[int]:
    """0-based lines of ``entry``, the comment line above it when this module wrote it, and
    one blank line next to it."""
    start = entry.line - 1
    if start > 0 and _OURS.match(lines[start - 1]):
        start -= 1
    out = set(range(start, entry.end))
    if entry.end < len(lines) and not lines[entry.end].strip():
        out.add(entry.end)
    elif start > 0 and not lines[start - 1].strip():
        out.add(start - 1)
    return out


def _write(root: Path, path: Path, text: str, documents: list[Document]) -> None:
    """Check ``text`` loads, then replace ``path`` with it atomically."""
    parse_questions(text, display_path(path, root) if path.is_relative_to(root) else str(path), documents, root.name)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", dir=path.parent, prefix=f".{path.name}.", delete=False) as tmp:
        tmp.write(text)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.chmod(tmp.name, mode)
    os.replace(tmp.name, path)


def _same(written: str, section: str, documents: list[Document], folder: str) -> bool:
    """Whether two ways of writing a section name the same one (also when it is gone)."""
    if written.strip() == section.strip():
        return True
    try:
        return resolve_section(written, documents, folder) == resolve_section(section, documents, folder)
    except CorpusError:
        return False


def _key(question: str) -> str:
    return " ".join(question.lower().split()).rstrip("?!. ")


def _scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when that reads back the same, else double-quoted."""
    try:
        plain = yaml.safe_load(f"- {text}") == [text]
    except yaml.YAMLError:
        plain = False
    return text if plain else json.dumps(text)
