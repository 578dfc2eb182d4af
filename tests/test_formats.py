"""Corpus formats (Markdown, plain text, HTML), curated phrasings, and the messages a
maintainer gets for content the bot cannot serve."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from conftest import CORPUS, ROOT

from bot.errors import CorpusError
from bot.ingest.corpus import chunk_document, corpus_hash, load_chunks, load_corpus
from bot.ingest.questions import Phrasing, load_questions
from bot.ingest.text import normalize

ARTICLE = ROOT / "tests" / "data" / "article-as-handed-over.txt"
HEADINGS = [
    "What is ketamine infusion?",
    "How does ketamine infusion work?",
    "What are the benefits of ketamine infusion?",
    "Are there any risks associated with ketamine infusion?",
    "How much does ketamine infusion cost?",
    "Is ketamine infusion covered by insurance?",
    "Conclusion",
]

AFTERCARE_HTML = """<!doctype html>
<html><head><title>Aftercare | Clinic</title>
<link rel="canonical" href="https://clinic.example/aftercare">
<style>h1 { color: red }</style>
<script>var tracking = "<p>not text</p>";</script>
</head>
<body>
<nav><a href="/">Home</a> <a href="/pricing">Pricing</a></nav>
<header><h1>After your infusion</h1></header>
<main>
<p>Plan to rest for the rest of the day.
Most people feel back to normal by the next morning.</p>
<h2 id="driving">Can I drive home?</h2>
<p>No. Please arrange for someone to drive you home, because dizziness can last a few hours.</p>
<h3>What should I watch for?</h3>
<ol><li>Nausea that lasts more than a day.</li><li>Any <b>new</b> symptoms: call the clinic.</li></ol>
<div role="navigation">Skip to content</div>
</main>
<footer>&copy; 2026 Clinic &amp; Co.</footer>
</body></html>
"""


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


# -- plain text ---------------------------------------------------------------------------
def test_article_as_handed_over_reads_like_the_markdown_version(tmp_path):
    shutil.copy(ARTICLE, tmp_path / "article.txt")
    (doc,) = load_corpus(tmp_path)
    assert [s.title for s in doc.sections][1:] == HEADINGS
    assert doc.sections[-1].anchor == "conclusion"
    # Every sentence the Markdown corpus has is in the plain-text document too.
    md = {normalize(s) for c in load_chunks(CORPUS) for s in c.sentences}
    txt = {normalize(s) for c in chunk_document(doc) for s in c.sentences}
    assert md == txt
    risks = [c for c in chunk_document(doc) if c.anchor == "are-there-any-risks-associated-with-ketamine-infusion"]
    assert any("These include:" in c.text and "2. Dizziness:" in c.text for c in risks)


def test_text_with_blank_lines_joins_wrapped_lines(tmp_path):
    write(
        tmp_path,
        "prep.txt",
        "Preparing for your visit\n\nPlease eat a light meal\nat least four hours before.\n\n"
        "What should I bring?\n\nA driver, and a list of\nyour medications.\n",
    )
    (doc,) = load_corpus(tmp_path)
    assert doc.title == "Preparing for your visit"
    sections = {s.title: [b.text for b in s.blocks] for s in doc.sections}
    assert sections["Preparing for your visit"] == ["Please eat a light meal at least four hours before."]
    assert sections["What should I bring?"] == ["A driver, and a list of your medications."]


# -- HTML ---------------------------------------------------------------------------------
def test_html_headings_lists_and_no_scripts_or_navigation(tmp_path):
    write(tmp_path, "care/aftercare.html", AFTERCARE_HTML)
    (doc,) = load_corpus(tmp_path)
    assert doc.name == "care/aftercare" and doc.title == "After your infusion"
    assert [(s.title, s.anchor, s.level) for s in doc.sections] == [
        ("After your infusion", "after-your-infusion", 1),
        ("Can I drive home?", "driving", 2),  # the page's own id
        ("What should I watch for?", "what-should-i-watch-for", 3),
    ]
    chunks = chunk_document(doc)
    text = " ".join(c.text for c in chunks)
    for dropped in ("not text", "Home", "Skip to content", "2026", "color"):
        assert dropped not in text
    assert chunks[0].text == "Plan to rest for the rest of the day. Most people feel back to normal by the next morning."
    assert chunks[0].line == 11
    assert chunks[-1].text == "1. Nausea that lasts more than a day.\n2. Any new symptoms: call the clinic."
    assert chunks[1].url == "https://clinic.example/aftercare#driving"
    assert chunks[1].source == f"{tmp_path.name}/care/aftercare.html"


def test_html_without_h1_takes_its_title_element(tmp_path):
    write(tmp_path, "fees.html", "<title>Fees</title><h2>Cash price</h2><p>$450 per session.</p>")
    (doc,) = load_corpus(tmp_path)
    assert doc.title == "Fees" and doc.base_url() == "/source/fees"


# -- mistakes -----------------------------------------------------------------------------
def test_empty_html_page_is_an_error_naming_the_file(tmp_path):
    write(tmp_path, "blank.html", "<html><head><script>x()</script></head><body><nav>Home</nav></body></html>")
    with pytest.raises(CorpusError, match=r"blank\.html: has no text: add headings and paragraphs"):
        load_corpus(tmp_path)


def test_undecodable_text_names_the_file_and_line(tmp_path):
    write(tmp_path, "notes.txt", b"What is it?\nA treatment.\nCaf\xe9 au lait\n")
    with pytest.raises(CorpusError, match=r"notes\.txt:3: byte 0xe9 is not UTF-8: re-save the file as UTF-8"):
        load_corpus(tmp_path)


def test_duplicate_anchors_in_html_name_the_line(tmp_path):
    write(tmp_path, "dup.html", "<h1>T</h1>\n<h2>Cost</h2>\n<p>a</p>\n<h2>Cost</h2>\n<p>b</p>\n")
    with pytest.raises(CorpusError, match=r"dup\.html:4: heading 'Cost' repeats the anchor #cost of line 2"):
        load_corpus(tmp_path)


def test_heading_without_text_is_a_warning_with_file_and_line(tmp_path, caplog):
    write(tmp_path, "a.md", "# A\n\n## Cost\n\n## Insurance\n\nSome plans cover it.\n")
    with caplog.at_level(logging.WARNING, logger="bot.ingest.corpus"):
        load_corpus(tmp_path)
    assert f"{tmp_path.name}/a.md:3: heading 'Cost' has no text under it" in caplog.text


GROUPED = """# Spravato FAQ

Answers to common questions.

Safety and Monitoring
---------------------

## What is the SPRAVATO REMS program?

A federal safety program.

## Why do I have to stay for 2 hours?

The label requires it.

Schedule and Cost
-----------------

## How often will I come in?

Twice a week at first.

Parking
-------

## Where do I park?

## Is parking free?

Yes.
"""


def test_a_setext_group_heading_over_atx_questions_is_their_parent(tmp_path, caplog):
    write(tmp_path, "spravato.md", GROUPED)
    with caplog.at_level(logging.WARNING, logger="bot.ingest.corpus"):
        (doc,) = load_corpus(tmp_path)
    levels = {s.title: s.level for s in doc.sections}
    assert levels["Safety and Monitoring"] == 2 and levels["What is the SPRAVATO REMS program?"] == 3
    assert levels["Schedule and Cost"] == 2 and levels["How often will I come in?"] == 3
    assert "Safety and Monitoring" not in caplog.text and "Schedule and Cost" not in caplog.text
    # A question with no answer under a group still stands alone: it is warned about.
    assert f"{tmp_path.name}/spravato.md:26: heading 'Where do I park?' has no text under it" in caplog.text


def test_a_setext_heading_that_stands_alone_is_still_a_warning(tmp_path, caplog):
    write(tmp_path, "a.md", "# A\n\nIntro.\n\nCost\n----\n\nInsurance\n---------\n\nSome plans cover it.\n")
    with caplog.at_level(logging.WARNING, logger="bot.ingest.corpus"):
        load_corpus(tmp_path)
    assert f"{tmp_path.name}/a.md:5: heading 'Cost' has no text under it" in caplog.text


def test_same_document_in_two_formats_is_an_error(tmp_path):
    write(tmp_path, "aftercare.md", "# Aftercare\n\nRest today.\n")
    write(tmp_path, "aftercare.html", AFTERCARE_HTML)
    with pytest.raises(CorpusError, match=r"aftercare\.md: is the same document as .*aftercare\.html in another format"):
        load_corpus(tmp_path)


def test_a_re_uploaded_copy_is_an_error(tmp_path):
    write(tmp_path, "aftercare.md", "# Aftercare\n\nRest today.\n")
    write(tmp_path, "aftercare (1).md", "# Aftercare\n\nRest today.\n")
    with pytest.raises(CorpusError, match=r"has the same content as .*: delete the copy"):
        load_corpus(tmp_path)


def test_hidden_and_unknown_files_are_left_out(tmp_path, caplog):
    write(tmp_path, "a.md", "# A\n\nText.\n")
    write(tmp_path, ".git/notes.md", "# Not content\n\nNo.\n")
    write(tmp_path, "brochure.pdf", b"%PDF-1.4")
    with caplog.at_level(logging.WARNING, logger="bot.ingest.corpus"):
        docs = load_corpus(tmp_path)
    assert [d.name for d in docs] == ["a"]
    assert "brochure.pdf: not a format the bot reads" in caplog.text


def test_corpus_hash_covers_every_format_and_the_phrasings(tmp_path):
    write(tmp_path, "a.md", "# A\n\n## Cost\n\nText.\n")
    write(tmp_path, "b.html", "<h1>B</h1><p>Text.</p>")
    write(tmp_path, "c.txt", "C\n\nText.\n")
    hashes = {corpus_hash(tmp_path)}
    write(tmp_path, "b.html", "<h1>B</h1><p>Other text.</p>")
    hashes.add(corpus_hash(tmp_path))
    write(tmp_path, "c.txt", "C\n\nOther text.\n")
    hashes.add(corpus_hash(tmp_path))
    write(tmp_path, "questions.yaml", "- section: a.md#cost\n  questions: [what does it cost]\n")
    hashes.add(corpus_hash(tmp_path))
    assert len(hashes) == 4


# -- curated phrasings --------------------------------------------------------------------
CLINIC = "# Clinic\n\n## Cost\n\nIt costs $450.\n\n## Contact\n\nCall 555-0100.\n"


def phrasings(tmp_path: Path, yaml_text: str) -> list[Phrasing]:
    write(tmp_path, "clinic.md", CLINIC)
    write(tmp_path, "questions.yaml", yaml_text)
    return load_questions(tmp_path, load_corpus(tmp_path))


def test_phrasings_point_to_sections(tmp_path):
    found = phrasings(
        tmp_path,
        "# ways visitors ask\n- section: clinic.md#contact\n  questions:\n    - what's your phone number?\n"
        "    - how do I reach   you\n- section: clinic#cost\n  questions: [how much is it]\n",
    )
    source = f"{tmp_path.name}/clinic.md"
    assert found == [
        Phrasing(source, "contact", "what's your phone number?"),
        Phrasing(source, "contact", "how do I reach you"),
        Phrasing(source, "cost", "how much is it"),
    ]


def test_the_shipped_phrasings_point_to_real_sections_and_contacts_to_the_contact_sentence():
    found = load_questions(CORPUS, load_corpus(CORPUS))
    anchors = {c.anchor for c in load_chunks(CORPUS)}
    assert found and {p.anchor for p in found} <= anchors
    contact = [p for p in found if "phone" in p.text.lower()]
    assert contact and {p.anchor for p in contact} == {"is-ketamine-infusion-covered-by-insurance"}
    chunks = [c for c in load_chunks(CORPUS) if c.anchor == "is-ketamine-infusion-covered-by-insurance"]
    assert any("888-526-8638" in c.text for c in chunks)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("- section: clinic.md#contacts\n  questions:\n    - phone?\n", r"questions\.yaml:1: .*clinic\.md has no heading #contacts: did you mean #contact\?"),
        ("- section: clinik.md#contact\n  questions:\n    - phone?\n", r"questions\.yaml:1: .*no document 'clinik\.md'.*did you mean clinic\.md"),
        ("- section: clinic.md\n  questions:\n    - phone?\n", r"questions\.yaml:1: section 'clinic\.md' must read 'file\.md#anchor'"),
        ("- section: clinic.md#contact\n", r"questions\.yaml:1: give the entry a 'questions:' list"),
        ("- section: clinic.md#contact\n  question:\n    - phone?\n", r"questions\.yaml:2: unknown key 'question'"),
        (
            "- section: clinic.md#contact\n  questions: [what does it cost]\n- section: clinic.md#cost\n  questions:\n    - What does it cost?\n",
            r"questions\.yaml:5: 'What does it cost\?' already points to .*#contact on line 2",
        ),
        ("- section: clinic.md#contact\n  questions: [phone?]\n", r"questions\.yaml:2: is not valid YAML .*one phrasing per line"),
        ("section: clinic.md#contact\n", r"questions\.yaml:1: must be a list of entries"),
    ],
)
def test_phrasing_mistakes_name_the_file_and_line(tmp_path, yaml_text, message):
    with pytest.raises(CorpusError, match=message):
        phrasings(tmp_path, yaml_text)
