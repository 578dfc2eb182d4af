"""What a clinic's corpus says about how its visitors ask: ``corpus/vocabulary.yaml``.

Optional, beside the documents and ``questions.yaml``::

    # A visitor's word: the words these pages use for the same thing.
    synonyms:
      price: [cost]
      throw up: [nausea]
    # Questions a server answers before it says it is ready (one down each main path).
    warm_up:
      - How much does it cost?
    # Questions next to the clinic's topic that its pages do not answer: they abstain
    # unless the closest sections say one of the "covered_by" phrases, or the words the
    # question asked about the topic with (a page added later that names the medicine or
    # the condition asked about covers it). A * ends a stem.
    out_of_scope:
      - topic: pregnancy
        asks: [pregnan*, breastfeed*]
        and: []            # optional: the question must also say one of these
        covered_by: [pregnan*, breastfeed*]

Knowledge about a clinic's subject lives here, with its content, never in code: the bot
works without the file, and another clinic's file says other things. Mistakes are errors
naming the file and line, like every corpus file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from bot.errors import CorpusError
from bot.ingest.corpus import VOCABULARY_FILES, display_path
from bot.ingest.outline import read_text
from bot.ingest.text import words

logger = logging.getLogger(__name__)

_KEYS = ("synonyms", "warm_up", "out_of_scope")
# Read until session 10, when the crisis check became a learned model that knows ordinary
# questions with dark words by itself (bot/safety/): a file that still has it loads, with a warning.
_RETIRED = ("crisis_lookalikes",)
_TOPIC_KEYS = ("topic", "asks", "and", "covered_by")


@dataclass(frozen=True, slots=True)
class ScopeTopic:
    """A topic next to the clinic's own that its pages do not answer (see the module doc)."""

    name: str
    asks: tuple[str, ...]
    also: tuple[str, ...]  # "and:" in the file
    covered_by: tuple[str, ...]

    def asked_in(self, question: str) -> bool:
        return bool(phrases(self.asks).search(question)) and (not self.also or bool(phrases(self.also).search(question)))

    def covered_in(self, text: str, question: str = "") -> bool:
        """Whether ``text`` covers the topic: it says one of the ``covered_by`` phrases, or
        the very words ``question`` asked about the topic with (a page added after the list
        was written may name the medicine or the condition it asks about)."""
        if phrases(self.covered_by).search(text):
            return True
        asked = tuple(sorted({m.group(0).lower() for m in phrases(self.asks).finditer(question)}))
        return bool(asked) and bool(phrases(asked).search(text))

    def to_json(self) -> dict:
        return {"topic": self.name, "asks": list(self.asks), "and": list(self.also), "covered_by": list(self.covered_by)}


@lru_cache(maxsize=256)
def phrases(listed: tuple[str, ...]) -> re.Pattern:
    """One pattern for a list of phrases: whole words, any spacing, a trailing * for a stem."""
    parts = []
    for phrase in listed:
        stem_ = phrase.endswith("*")
        body = r"\s+".join(re.escape(w) for w in phrase.rstrip("*").split())
        end = r"\w*" if stem_ else r"(?!\w)"
        parts.append(r"(?<!\w)" + body + end)
    return re.compile("|".join(parts) or r"(?!)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)  # a visitor's word -> the pages' words
    warm_up: tuple[str, ...] = ()
    out_of_scope: tuple[ScopeTopic, ...] = ()

    def to_json(self) -> dict:
        return {
            "synonyms": {k: list(v) for k, v in self.synonyms.items()},
            "warm_up": list(self.warm_up),
            "out_of_scope": [t.to_json() for t in self.out_of_scope],
        }

    @classmethod
    def from_json(cls, data: dict) -> Vocabulary:
        topics = tuple(
            ScopeTopic(t["topic"], tuple(t["asks"]), tuple(t.get("and") or ()), tuple(t["covered_by"]))
            for t in data.get("out_of_scope") or ()
        )
        synonyms = {k: tuple(v) for k, v in (data.get("synonyms") or {}).items()}
        return cls(synonyms, tuple(data.get("warm_up") or ()), topics)

    def out_of_scope_topic(self, question: str, section_text: str) -> ScopeTopic | None:
        """The first listed topic ``question`` asks about that ``section_text`` does not cover."""
        for topic in self.out_of_scope:
            if topic.asked_in(question) and not topic.covered_in(section_text, question):
                return topic
        return None


def vocabulary_file(root: Path) -> Path | None:
    for name in VOCABULARY_FILES:
        if (root / name).is_file():
            return root / name
    return None


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def load_vocabulary(root: Path) -> Vocabulary:
    """Read ``root/vocabulary.yaml`` (an empty vocabulary when there is none)."""
    path = vocabulary_file(root)
    if path is None:
        return Vocabulary()
    display = display_path(path, root)
    try:
        tree = yaml.compose(read_text(path, display))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CorpusError(display, mark.line + 1 if mark else None, f"is not valid YAML ({getattr(exc, 'problem', None) or exc}): see the example at the top of bot/ingest/wording.py") from None
    if tree is None:
        return Vocabulary()
    if not isinstance(tree, yaml.MappingNode):
        raise CorpusError(display, _line(tree), "must have 'synonyms:' and/or 'warm_up:' at the top level")
    synonyms: dict[str, tuple[str, ...]] = {}
    warm_up: list[str] = []
    topics: list[ScopeTopic] = []
    for key, value in tree.value:
        if key.value in _RETIRED:
            logger.warning("%s:%d: '%s' is no longer read (the crisis check is a learned model, models/crisis/): "
                           "remove it", display, _line(key), key.value)
            continue
        if key.value not in _KEYS:
            raise CorpusError(display, _line(key), f"unknown key {key.value!r}: the file has only {' and '.join(_KEYS)}")
        if key.value == "synonyms":
            if not isinstance(value, yaml.MappingNode):
                raise CorpusError(display, _line(value), "'synonyms:' takes lines of 'visitor word: [page word, ...]'")
            for word, targets in value.value:
                listed = targets.value if isinstance(targets, yaml.SequenceNode) else [targets]
                if not all(isinstance(t, yaml.ScalarNode) and str(t.value).strip() for t in listed):
                    raise CorpusError(display, _line(targets), f"'{word.value}': give the pages' words as a list, e.g. [cost]")
                for visitor_word in words(str(word.value)) or [str(word.value).lower()]:
                    synonyms[visitor_word] = tuple(dict.fromkeys(w for t in listed for w in words(str(t.value))))
        elif key.value == "warm_up":
            warm_up.extend(_text_list(value, display, "'warm_up:' takes a list of questions, one per '- ' line"))
        else:
            topics.extend(_topics(value, display))
    return Vocabulary(synonyms, tuple(warm_up), tuple(topics))


def _text_list(node: yaml.Node, display: str, message: str) -> tuple[str, ...]:
    """A YAML list of non-empty texts, whitespace collapsed; else ``message`` at its line."""
    if not isinstance(node, yaml.SequenceNode) or not all(isinstance(p, yaml.ScalarNode) and str(p.value).strip() for p in node.value):
        raise CorpusError(display, _line(node), message)
    return tuple(" ".join(str(p.value).split()) for p in node.value)


def _phrase_list(node: yaml.Node, display: str, what: str) -> tuple[str, ...]:
    return _text_list(node, display, f"'{what}:' takes a list of phrases, e.g. [pregnan*, breastfeeding]")


def _topics(node: yaml.Node, display: str) -> list[ScopeTopic]:
    example = "'- topic: name' with 'asks: [...]' and 'covered_by: [...]'"
    if not isinstance(node, yaml.SequenceNode):
        raise CorpusError(display, _line(node), f"'out_of_scope:' takes a list of topics, each {example}")
    out = []
    for entry in node.value:
        if not isinstance(entry, yaml.MappingNode):
            raise CorpusError(display, _line(entry), f"each topic reads {example}")
        fields = {}
        for key, value in entry.value:
            if key.value not in _TOPIC_KEYS:
                raise CorpusError(display, _line(key), f"unknown key {key.value!r}: a topic has {', '.join(_TOPIC_KEYS)}")
            fields[key.value] = value
        missing = [k for k in ("topic", "asks", "covered_by") if k not in fields]
        if missing:
            raise CorpusError(display, _line(entry), f"this topic has no {' or '.join(missing)}: each topic reads {example}")
        also = _phrase_list(fields["and"], display, "and") if "and" in fields else ()
        out.append(ScopeTopic(str(fields["topic"].value), _phrase_list(fields["asks"], display, "asks"), also, _phrase_list(fields["covered_by"], display, "covered_by")))
    return out
