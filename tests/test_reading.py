"""Every format is read with a real parser: what a maintainer writes in Markdown or saves
from a website becomes the clinic's sentences, without markup or page furniture."""

from __future__ import annotations

import pytest

from bot.errors import CorpusError
from bot.ingest.corpus import chunk_document, load_corpus
from bot.ingest.markdown import outline_markdown
from bot.ingest.outline import Block, Heading
from bot.ingest.webpage import outline_html
from bot.ingest.wording import load_vocabulary

pytestmark = pytest.mark.fast


def _texts(outline) -> list[str]:
    return [i.text for i in outline.items if isinstance(i, Block)]


def _headings(outline) -> list[str]:
    return [i.text for i in outline.items if isinstance(i, Heading)]


def test_markdown_inline_markup_is_stripped_and_link_text_kept():
    outline = outline_markdown("# Fees\n\nA visit is **$125**, see [our fee list](https://x.example/fees) or `call us`.\n", "f.md")
    assert _texts(outline) == ["A visit is $125, see our fee list or call us."]


def test_setext_headings_are_headings_and_code_fences_are_not():
    text = "Aftercare\n=========\n\nRest today.\n\nWhat to bring\n-------------\n\n```\n# not a heading\n```\n\nYour ID.\n"
    outline = outline_markdown(text, "a.md")
    assert _headings(outline) == ["Aftercare", "What to bring"]
    assert _texts(outline) == ["Rest today.", "Your ID."]
    assert [i.level for i in outline.items if isinstance(i, Heading)] == [1, 2]


def test_markdown_lists_and_tables_become_items():
    text = "# Prices\n\nWe charge:\n\n- *Adults*: $90\n- Children: $60\n\n| Service | Price |\n|---|---|\n| Cleaning | $120 |\n"
    outline = outline_markdown(text, "p.md")
    items = [i.text for i in outline.items if isinstance(i, Block) and i.is_item]
    assert items == ["- Adults: $90", "- Children: $60", "- Service: Price", "- Cleaning: $120"]


PAGE = """<!doctype html><html><head><title>Implants | Smile Clinic</title>
<link rel="canonical" href="https://smile.example/implants"><script>var x = "tracking";</script></head>
<body><header><a href="/">Smile Clinic</a><nav><ul><li>Home</li><li>Services</li></ul></nav></header>
<div class="cookie-banner" id="cookie-consent">We use cookies to improve your experience. Accept</div>
<div class="promo-bar">Spring special: 20% off whitening!</div>
<main><h1>Dental implants</h1><p>An implant replaces a missing root.</p>
<h2>How much do implants cost?</h2><table><tr><th>Treatment</th><th>Price</th></tr>
<tr><td>Single implant</td><td>$3,900</td></tr></table>
<aside>Related posts: Whitening tips</aside>
<form><label>Your name</label><input name="n"><button>Book now</button></form></main>
<footer>123 Main St. Copyright 2026</footer><script>track()</script></body></html>"""


def test_html_keeps_main_content_and_drops_the_furniture_around_it():
    outline = outline_html(PAGE, "implants.html")
    text = " ".join(_texts(outline))
    assert _headings(outline) == ["Dental implants", "How much do implants cost?"]
    assert "An implant replaces a missing root." in text
    assert "- Single implant: $3,900" in text  # a table row reads as one line
    for furniture in ("cookies", "Spring special", "Related posts", "Your name", "Book now", "Copyright", "Home", "tracking"):
        assert furniture not in text, furniture
    assert outline.url == "https://smile.example/implants"


def test_html_without_main_still_drops_header_footer_and_consent_blocks():
    page = PAGE.replace("<main>", "<div>").replace("</main>", "</div>")
    text = " ".join(_texts(outline_html(page, "implants.html")))
    assert "An implant replaces a missing root." in text
    assert "cookies" not in text and "Copyright" not in text and "Book now" not in text


def test_a_corpus_of_markdown_quotes_clean_sentences(tmp_path):
    (tmp_path / "faq.md").write_text("# FAQ\n\n## Does it hurt?\n\nMost people feel **very little**; see [aftercare](/a).\n")
    chunks = [c for d in load_corpus(tmp_path) for c in chunk_document(d)]
    assert chunks[0].sentences == ("Most people feel very little; see aftercare.",)


def test_vocabulary_file_is_optional_and_read(tmp_path, caplog):
    assert load_vocabulary(tmp_path).synonyms == {}
    (tmp_path / "vocabulary.yaml").write_text(
        "synonyms:\n  price: [cost]\n  throw up: [nausea]\nwarm_up:\n  - how much is it?\n"
        "crisis_lookalikes:\n  - does the laser kill hair for good\n"
        "out_of_scope:\n  - topic: pregnancy\n    asks: [pregnan*]\n    covered_by: [pregnan*]\n"
    )
    vocabulary = load_vocabulary(tmp_path)
    assert vocabulary.synonyms["price"] == ("cost",) and vocabulary.synonyms["throw"] == ("nausea",)
    assert vocabulary.warm_up == ("how much is it?",)
    assert "'crisis_lookalikes' is no longer read" in caplog.text  # a retired key loads, with a warning
    (topic,) = vocabulary.out_of_scope
    assert vocabulary.out_of_scope_topic("can I do this while pregnant?", "Rest after the visit.") == topic
    assert vocabulary.out_of_scope_topic("can I do this while pregnant?", "Not during pregnancy.") is None
    assert vocabulary.out_of_scope_topic("how much is it?", "") is None


def test_a_scope_topic_is_covered_by_a_page_that_names_what_the_question_asked_about(tmp_path):
    # The list was written for one article; a page added later names the medicine asked about.
    (tmp_path / "vocabulary.yaml").write_text(
        "out_of_scope:\n  - topic: interactions with medications\n    asks: [lamotrigine, lamictal, medication*]\n"
        "    and: [stop, while taking]\n    covered_by: [interact*]\n"
    )
    vocabulary = load_vocabulary(tmp_path)
    question = "do I have to stop my lamotrigine before the infusion?"
    assert vocabulary.out_of_scope_topic(question, "Rest after the visit.") is not None
    assert vocabulary.out_of_scope_topic(question, "We ask you to pause lamotrigine the night before.") is None
    # Only the words the question used count: another listed medicine does not cover it.
    assert vocabulary.out_of_scope_topic(question, "Take your lamictal as usual.") is not None
    # The "and:" words are not what the question asks about: "stop" alone covers nothing.
    assert vocabulary.out_of_scope_topic(question, "Stop by the front desk.") is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("synonyms: [cost]\n", r"vocabulary.yaml:1: 'synonyms:' takes lines"),
        ("synonym:\n  price: [cost]\n", r"vocabulary.yaml:1: unknown key 'synonym'"),
        ("synonyms:\n  price: [cost\n", r"vocabulary.yaml:\d+: is not valid YAML"),
        ("warm_up: how much\n", r"vocabulary.yaml:1: 'warm_up:' takes a list"),
    ],
)
def test_vocabulary_mistakes_name_the_file_and_line(tmp_path, text, message):
    (tmp_path / "vocabulary.yaml").write_text(text)
    with pytest.raises(CorpusError, match=message):
        load_vocabulary(tmp_path)
