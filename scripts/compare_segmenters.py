"""Compare sentence segmenters on the cases of tests/data/sentence_cases.yaml and on every
paragraph of the evaluation corpora (issue 23).

    .venv/bin/python scripts/compare_segmenters.py [--show N]

Candidates: the regular expression the bot used before issue 23, pysbd and syntok. The one
not installed in the virtualenv can be tried from a folder of its own:
``pip install --target /tmp/segcand pysbd==0.3.4 syntok==1.4.4`` then
``PYTHONPATH=/tmp/segcand .venv/bin/python scripts/compare_segmenters.py``.

Every candidate is turned into the same contract as ``bot.ingest.text.split_sentences``: a
list of stripped substrings of the paragraph, in order. On the corpora there is no answer
key: the script counts the boundaries where the candidates disagree and prints them with
``--show``, to be read by a person (docs/EVALUATION.md gives the reading of issue 23).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.ingest.corpus import item_text, load_corpus  # noqa: E402

CASES = ROOT / "tests" / "data" / "sentence_cases.yaml"
CORPORA = ROOT / "tests" / "data" / "corpora"

_OLD = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]?\s+(?=[\"'\u201c\u2018(]?[A-Z0-9$])")  # before issue 23


def regex(paragraph: str) -> list[str]:
    return [p.strip() for p in _OLD.split(paragraph.strip()) if p.strip()]


def _substrings(paragraph: str, spans: list[tuple[int, int]]) -> list[str]:
    return [s for s in (paragraph[a:b].strip() for a, b in spans) if s]


def pysbd_segmenter() -> Callable[[str], list[str]]:
    import pysbd

    seg = pysbd.Segmenter(language="en", clean=False)

    def split(paragraph: str) -> list[str]:
        # clean=False keeps every character; place each piece in the paragraph in order.
        out, cursor = [], 0
        for piece in seg.segment(paragraph):
            piece = piece.strip()
            if not piece:
                continue
            start = paragraph.find(piece, cursor)
            if start < 0:  # pysbd changed the text: keep the rest as one piece
                out.append(paragraph[cursor:].strip())
                return [s for s in out if s]
            out.append(piece)
            cursor = start + len(piece)
        rest = paragraph[cursor:].strip()
        return out + ([rest] if rest else [])

    return split


def syntok_segmenter() -> Callable[[str], list[str]]:
    from syntok import segmenter

    def split(paragraph: str) -> list[str]:
        spans = []
        for para in segmenter.analyze(paragraph):
            for sentence in para:
                first, last = sentence[0], sentence[-1]
                spans.append((first.offset, last.offset + len(last.value)))
        # Glue gaps (spacing, stray characters) to the sentence before them.
        bounds = [a for a, _ in spans][1:] + [len(paragraph)]
        return _substrings(
            paragraph, [(0 if i == 0 else a, b) for i, ((a, _), b) in enumerate(zip(spans, bounds, strict=True))]
        )

    return split


def candidates() -> dict[str, Callable[[str], list[str]]]:
    found: dict[str, Callable[[str], list[str]]] = {"regex (before)": regex}
    for name, make in (("pysbd", pysbd_segmenter), ("syntok", syntok_segmenter)):
        try:
            found[name] = make()
        except ImportError:
            print(f"({name} is not installed: see this script's docstring)")
    try:
        from bot.ingest.text import split_sentences

        found["bot (now)"] = split_sentences
    except ImportError:
        pass
    return found


def corpus_paragraphs() -> list[tuple[str, str]]:
    out = []
    for folder in sorted(CORPORA.iterdir()):
        if not (folder / "corpus").is_dir():
            continue
        for doc in load_corpus(folder / "corpus"):
            for section in doc.sections:
                out.extend((folder.name, item_text(b)) for b in section.blocks)
    return out


def _starts(paragraph: str, sentences: list[str]) -> set[int]:
    """Where the sentences after the first start in the paragraph."""
    out, cursor = [], 0
    for sentence in sentences:
        at = paragraph.find(sentence, cursor)
        out.append(at)
        cursor = at + len(sentence)
    return set(out[1:])


def _lost(paragraph: str, sentences: list[str]) -> bool:
    """True when the sentences leave out a character of the paragraph (spaces aside)."""
    squeeze = lambda t: re.sub(r"\s+", "", t)  # noqa: E731
    return squeeze(paragraph) != squeeze("".join(sentences)) or any(s not in paragraph for s in sentences)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", action="store_true", help="print every disputed boundary of the corpora")
    args = parser.parse_args()
    found = candidates()
    cases = [{"text": " ".join(c), "sentences": c} for c in yaml.safe_load(CASES.read_text(encoding="utf-8"))]
    paragraphs = corpus_paragraphs()
    splits = {name: [split(p) for _, p in paragraphs] for name, split in found.items()}
    # A boundary is disputed when some candidates cut there and others do not.
    disputed = []
    for i, (corpus, p) in enumerate(paragraphs):
        starts = {name: _starts(p, splits[name][i]) for name in found}
        for at in sorted(set().union(*starts.values())):
            cut_by = [name for name in found if at in starts[name]]
            if len(cut_by) < len(found):
                disputed.append((corpus, p, at, cut_by))
    print(f"{len(cases)} cases, {len(paragraphs)} corpus paragraphs, {len(disputed)} disputed boundaries\n")
    print(
        "| segmenter | cases split as a reader would | corpus sentences | disputed boundaries it cuts | paragraphs losing a character (corpora + cases) |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, split in found.items():
        ok = sum(split(c["text"]) == c["sentences"] for c in cases)
        total = sum(len(s) for s in splits[name])
        cuts = sum(name in cut_by for *_, cut_by in disputed)
        lost = sum(_lost(p, s) for (_, p), s in zip(paragraphs, splits[name], strict=True))
        lost += sum(_lost(c["text"], split(c["text"])) for c in cases)
        print(f"| {name} | {ok} / {len(cases)} | {total} | {cuts} | {lost} |")
    print()
    for name, split in found.items():
        failed = [split(c["text"]) for c in cases if split(c["text"]) != c["sentences"]]
        if failed:
            print(f"{name} splits differently:")
            for pieces in failed:
                print(f"  {pieces}")
    if args.show:
        print("\nDisputed boundaries of the corpora (⟂ marks the cut):")
        for n, (corpus, p, at, cut_by) in enumerate(disputed, 1):
            print(
                f"{n:3} {corpus[:14]:14} cut by {' + '.join(cut_by):28} ...{p[max(0, at - 45) : at]}⟂{p[at : at + 25]}..."
            )


if __name__ == "__main__":
    main()
