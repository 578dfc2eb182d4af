"""Curated phrasings: ways visitors ask, each pointing to the section that answers them.

Maintainers list them in ``corpus/questions.yaml``::

    # Each entry: a section (file under corpus/ # anchor) and the ways visitors ask for it.
    - section: ketamine-infusion-insurance.md#is-ketamine-infusion-covered-by-insurance
      questions:
        - what's your phone number?
        - how do I reach you?

The section is the file's path under ``corpus/`` (or its name without the suffix, as in
``/source/<name>``) and the heading's anchor, as in a citation link. The build embeds every
phrasing with the passages' model; retrieval uses them as extra ways to find the section,
and the answer still quotes and cites the section itself. A phrasing that points to a
section that does not exist, an entry without questions, or one phrasing given for two
sections is an error naming the file and line.
"""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.errors import CorpusError
from bot.ingest.corpus import Document, display_path, questions_file
from bot.ingest.outline import read_text

logger = logging.getLogger(__name__)

_WS = re.compile(r"\s+")
_EXAMPLE = "'- section: file.md#anchor' followed by 'questions:' and a list of phrasings"


@dataclass(frozen=True, slots=True)
class Phrasing:
    """One way visitors ask for a section."""

    source: str  # corpus/ketamine-infusion-insurance.md, as Chunk.source
    anchor: str  # is-ketamine-infusion-covered-by-insurance, as Chunk.anchor
    text: str  # "what's your phone number?"

    def to_json(self) -> dict:
        return {"source": self.source, "anchor": self.anchor, "text": self.text}

    @classmethod
    def from_json(cls, data: dict) -> Phrasing:
        return cls(data["source"], data["anchor"], data["text"])


def load_questions(root: Path, documents: list[Document]) -> list[Phrasing]:
    """The phrasings of ``root``'s questions file, checked against ``documents``; none when
    there is no file. Raises :class:`CorpusError` naming the file and line of a mistake."""
    path = questions_file(root)
    if path is None:
        return []
    display = display_path(path, root)
    return parse_questions(read_text(path, display), display, documents, root.name)


def parse_questions(text: str, display: str, documents: list[Document], folder: str) -> list[Phrasing]:
    """The phrasings ``text`` lists (the questions file ``display``, in the corpus folder
    named ``folder``). An entry that staff added from the console (right under a ``# fix N``
    comment) whose section a later change removed is skipped with a warning: the console
    shows it as needing attention, and the build goes on."""
    tree = _parse(text, display)
    if tree is None:
        return []
    if not isinstance(tree, yaml.SequenceNode):
        raise CorpusError(display, _line(tree), f"must be a list of entries: {_EXAMPLE}")
    sections = _sections(documents, folder)
    lines = text.splitlines()
    phrasings: list[Phrasing] = []
    first_seen: dict[str, tuple[Phrasing, int]] = {}
    for entry in tree.value:
        fields = _entry_fields(entry, display)
        try:
            source, anchor = _resolve(fields["section"], sections, display)
        except CorpusError as exc:
            if fix_number(lines, _line(entry)) is None:
                raise
            logger.warning("%s (added from the console: skipped until it points to a section again)", exc)
            continue
        questions = fields.get("questions")
        if questions is None or not isinstance(questions, yaml.SequenceNode) or not questions.value:
            where = _line(questions) if questions is not None else _line(entry)
            raise CorpusError(display, where, "give the entry a 'questions:' list with at least one phrasing")
        for node in questions.value:
            phrasing = _phrasing(node, source, anchor, display, first_seen)
            if phrasing is not None:
                phrasings.append(phrasing)
    return phrasings


_FIX = re.compile(r"^\s*#\s*fix (\d+)\b")


def fix_number(lines: list[str], line: int) -> int | None:
    """The console fix an entry starting on ``line`` (1-based) was added by: the number of a
    ``# fix N ...`` comment on the line above it, or None."""
    above = lines[line - 2] if line >= 2 else ""
    found = _FIX.match(above)
    return int(found.group(1)) if found else None


def resolve_section(value: str, documents: list[Document], folder: str, display: str = "--section") -> tuple[str, str]:
    """(source, anchor) of a section written as in the questions file (``file.md#anchor``);
    :class:`CorpusError` naming the close matches when there is no such section."""
    return _resolve(yaml.ScalarNode("tag:yaml.org,2002:str", value), _sections(documents, folder), display)


def _parse(text: str, display: str) -> yaml.Node | None:
    try:
        return yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise CorpusError(
            display,
            mark.line + 1 if mark else None,
            f"is not valid YAML ({problem}): write one phrasing per line after '- ', indented under "
            "'questions:', and put quotes around a phrasing that holds ': ' or ' #'",
        ) from None


def _entry_fields(entry: yaml.Node, display: str) -> dict[str, yaml.Node]:
    """An entry's ``section`` and ``questions`` nodes; any other key is a mistake."""
    if not isinstance(entry, yaml.MappingNode):
        raise CorpusError(display, _line(entry), f"each entry must read {_EXAMPLE}")
    fields = {}
    for key, value in entry.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if name not in {"section", "questions"}:
            raise CorpusError(display, _line(key), f"unknown key {name!r}: an entry has only 'section' and 'questions'")
        fields[name] = value
    if "section" not in fields:
        raise CorpusError(display, _line(entry), "this entry has no 'section: file.md#anchor'")
    return fields


def _phrasing(node: yaml.Node, source: str, anchor: str, display: str,
              first_seen: dict[str, tuple[Phrasing, int]]) -> Phrasing | None:
    """The phrasing ``node`` holds, or None when it repeats one for the same section."""
    is_text = isinstance(node, yaml.ScalarNode) and not node.tag.endswith(":null")
    text = _WS.sub(" ", node.value).strip() if is_text else ""
    if not text:
        raise CorpusError(display, _line(node), "a phrasing must be a line of text")
    phrasing = Phrasing(source, anchor, text)
    key = text.lower().rstrip("?!. ")
    if key in first_seen:
        earlier, line = first_seen[key]
        if (earlier.source, earlier.anchor) != (source, anchor):
            raise CorpusError(
                display,
                _line(node),
                f"'{text}' already points to {earlier.source}#{earlier.anchor} on line {line}: "
                "a phrasing can lead to one section only",
            )
        logger.warning("%s:%d: '%s' is listed twice for the same section", display, _line(node), text)
        return None
    first_seen[key] = (phrasing, _line(node))
    return phrasing


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1 if node.start_mark is not None else 0


def _sections(documents: list[Document], folder: str) -> dict[str, tuple[Document, dict[str, bool]]]:
    """Each document under every name a phrasing may use, with its anchors (True: has text)."""
    names: dict[str, tuple[Document, dict[str, bool]]] = {}
    for doc in documents:
        anchors: dict[str, bool] = {}
        for section in doc.sections:
            anchors[section.anchor] = anchors.get(section.anchor, False) or bool(section.blocks)
        rel = doc.source.removeprefix(f"{folder}/")
        for name in (doc.source, rel, doc.name):
            names[name] = (doc, anchors)
    return names


def _resolve(node: yaml.Node, sections: dict, display: str) -> tuple[str, str]:
    line = _line(node)
    value = node.value.strip() if isinstance(node, yaml.ScalarNode) and isinstance(node.value, str) else ""
    name, sep, anchor = value.partition("#")
    if not sep or not name or not anchor:
        raise CorpusError(display, line, f"section {value!r} must read 'file.md#anchor', as in a citation link")
    if name not in sections:
        close = difflib.get_close_matches(name, list(sections), n=1)
        files = sorted({doc.source.removeprefix(f"{doc.source.split('/')[0]}/") for doc, _ in sections.values()})
        hint = f" (did you mean {close[0]}?)" if close else f" (its documents are {', '.join(files[:12])})"
        raise CorpusError(display, line, f"section {value!r}: there is no document {name!r} in the corpus{hint}")
    doc, anchors = sections[name]
    if anchor not in anchors:
        close = difflib.get_close_matches(anchor, list(anchors), n=1)
        hint = f"did you mean #{close[0]}?" if close else f"its sections are #{', #'.join(anchors)}"
        raise CorpusError(display, line, f"section {value!r}: {doc.source} has no heading #{anchor}: {hint}")
    if not anchors[anchor]:
        raise CorpusError(display, line, f"section {value!r} has no text to quote: point to a section with text")
    return doc.source, anchor
