"""The corpus reader: sections, anchors, stable ids, and every sentence of the article kept."""

from __future__ import annotations

import re

import pytest
from conftest import CORPUS, ROOT

from bot.errors import CorpusError
from bot.ingest.corpus import chunk_document, corpus_hash, load_chunks, load_corpus, parse_markdown
from bot.ingest.text import normalize, slugify, split_sentences

ARTICLE = ROOT / "tests" / "data" / "article-as-handed-over.txt"  # the clinic's original text
HEADINGS = [
    "What is ketamine infusion?",
    "How does ketamine infusion work?",
    "What are the benefits of ketamine infusion?",
    "Are there any risks associated with ketamine infusion?",
    "How much does ketamine infusion cost?",
    "Is ketamine infusion covered by insurance?",
    "Conclusion",
]


def test_sections_and_anchors_follow_the_headings():
    (doc,) = load_corpus(CORPUS)
    assert doc.title == "Is Ketamine Infusion Covered by Insurance?"
    titles = [s.title for s in doc.sections]
    assert titles[1:] == HEADINGS
    anchors = {s.title: s.anchor for s in doc.sections}
    assert anchors["How much does ketamine infusion cost?"] == "how-much-does-ketamine-infusion-cost"
    assert anchors["Is ketamine infusion covered by insurance?"] == "is-ketamine-infusion-covered-by-insurance"
    # The introduction repeats the last section's title; the section keeps the plain anchor.
    assert doc.sections[0].anchor == "introduction"


def test_ids_are_stable_and_derived_from_content():
    first = load_chunks(CORPUS)
    second = load_chunks(CORPUS)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)


def test_every_sentence_of_the_article_is_in_a_passage():
    chunks = load_chunks(CORPUS)
    kept = {normalize(s) for c in chunks for s in c.sentences}
    article = ARTICLE.read_text(encoding="utf-8").splitlines()
    sentences = [
        s
        for line in article
        if line.strip() and line.strip() not in HEADINGS
        for s in split_sentences(re.sub(r"^\d+\.\s+", "", line))  # list numbers are Markdown's
    ]
    assert len(sentences) > 40
    missing = [s for s in sentences if normalize(s) not in kept]
    assert missing == []


def test_list_items_stay_with_their_section():
    chunks = load_chunks(CORPUS)
    risks = [c for c in chunks if c.anchor == "are-there-any-risks-associated-with-ketamine-infusion"]
    text = " ".join(c.text for c in risks)
    for item in ("Discomfort:", "Dizziness:", "Nausea:", "Bladder problems:"):
        assert item in text
    assert any("These include:" in c.text and "Discomfort:" in c.text for c in risks)


def test_long_paragraphs_split_at_sentence_boundaries(tmp_path):
    long = " ".join(f"Sentence number {i} talks about infusions." for i in range(60))
    (tmp_path / "long.md").write_text(f"# Long\n\n## Part\n\n{long}\n")
    chunks = chunk_document(parse_markdown(tmp_path / "long.md", tmp_path), max_words=50)
    assert len(chunks) > 1
    assert all(len(c.text.split()) <= 50 for c in chunks)
    assert all(c.text.endswith(".") for c in chunks)
    assert " ".join(c.text for c in chunks) == long


def test_front_matter_url_makes_the_citation_url(tmp_path):
    (tmp_path / "a.md").write_text("---\ntitle: Aftercare\nurl: https://clinic.example/aftercare\n---\n\n## After your infusion\n\nRest today.\n")
    (chunk,) = load_chunks(tmp_path)
    assert chunk.url == "https://clinic.example/aftercare#after-your-infusion"
    assert chunk.doc_title == "Aftercare"


def test_citation_url_defaults_to_the_source_page(tmp_path):
    (tmp_path / "prep.md").write_text("# Preparing\n\n## What to bring\n\nA driver.\n")
    (chunk,) = load_chunks(tmp_path)
    assert chunk.url == "/source/prep#what-to-bring"
    assert chunk.source.endswith("prep.md")


def test_undecodable_bytes_name_the_file_and_line(tmp_path):
    (tmp_path / "bad.md").write_bytes(b"# Title\n\nfine\n\nbroken \xff here\n")
    with pytest.raises(CorpusError) as err:
        load_corpus(tmp_path)
    assert "bad.md:5" in str(err.value) and "UTF-8" in str(err.value)


def test_duplicate_anchors_are_an_error(tmp_path):
    (tmp_path / "dup.md").write_text("# T\n\n## Cost\n\na\n\n## Cost\n\nb\n")
    with pytest.raises(CorpusError, match=r"dup.md:7: .*#cost"):
        load_corpus(tmp_path)


def test_empty_document_is_an_error(tmp_path):
    (tmp_path / "empty.md").write_text("\n\n")
    with pytest.raises(CorpusError, match="empty.md: has no text"):
        load_corpus(tmp_path)


def test_corpus_hash_changes_with_content(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\ntext\n")
    before = corpus_hash(tmp_path)
    (tmp_path / "a.md").write_text("# A\n\nother text\n")
    assert corpus_hash(tmp_path) != before


def test_slugify_is_github_style():
    assert slugify("How much does ketamine infusion cost?") == "how-much-does-ketamine-infusion-cost"
    assert slugify("Pre-care & After-care") == "pre-care--after-care"
