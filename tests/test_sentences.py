"""Where sentences end (issue 23): what a future change to segmentation must still do.

The cases are in tests/data/sentence_cases.yaml; scripts/compare_segmenters.py measures
segmenters on them and on every paragraph of the evaluation corpora.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.ingest.text import split_sentences

CASES = yaml.safe_load((Path(__file__).parent / "data" / "sentence_cases.yaml").read_text(encoding="utf-8"))
# Two cases no segmenter tried reads as a reader does: after "p.m." or "U.S." a capital may
# start the next sentence ("at 9 a.m. Please arrive") or not ("5 p.m. Monday to Friday").
AMBIGUOUS = {
    "We are open from 8 a.m. to 5 p.m. Monday to Friday.",
    "Most of our patients live in the U.S.",
}


@pytest.mark.parametrize(
    "sentences",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason="ambiguous")) if AMBIGUOUS & set(c) else c
        for c in CASES
    ],
    ids=[c[0][:40] for c in CASES],
)
def test_a_paragraph_splits_where_a_reader_would(sentences):
    assert split_sentences(" ".join(sentences)) == sentences


def test_the_cases_of_the_issue_stay_whole():
    text = (
        "Dr. Patel sees every new patient first. The first visit takes approx. 45 minutes, "
        "including paperwork. Our fee is $350 vs. $500 at most hospitals. Mrs. Lopez, our "
        "coordinator, answers billing questions."
    )
    assert split_sentences(text) == [
        "Dr. Patel sees every new patient first.",
        "The first visit takes approx. 45 minutes, including paperwork.",
        "Our fee is $350 vs. $500 at most hospitals.",
        "Mrs. Lopez, our coordinator, answers billing questions.",
    ]


@pytest.mark.parametrize(
    "paragraph",
    [
        '  One patient said: "It helped."  (Results vary.)\n Ask us!  ',
        "Call (555) 014-2271 or email hello@clinic.example. We reply within a day.",
        "Donor area shaved?: Yes, clipped short",
        "Costs: $1,250.50 total... or less!? Really.",
        "no full stop at the end",
    ],
)
def test_every_character_is_kept_in_order(paragraph):
    sentences = split_sentences(paragraph)
    cursor = 0
    for sentence in sentences:  # stripped substrings of the paragraph, in order
        assert sentence == sentence.strip() and paragraph.find(sentence, cursor) >= cursor
        cursor = paragraph.find(sentence, cursor) + len(sentence)
    assert " ".join(sentences).split() == paragraph.split()  # nothing left out


def test_an_empty_paragraph_has_no_sentences():
    assert split_sentences("   \n ") == []
