"""The bot: load the model and index once, answer ``answer(message, history)``."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .answering import Thresholds, decide
from .contacts import Contacts, asks_for_contact, asks_for_summary, find_contacts, summary_chunks
from .corpus import corpus_hash
from .embedder import Embedder, MiniLMEmbedder
from .errors import CorpusError
from .followups import candidates
from .index import LoadedIndex, load_index
from .replies import Citation, Reply, Turn
from .retrieval import Retriever
from .safety import CrisisDetector
from .settings import Settings

logger = logging.getLogger(__name__)

ABSTAIN_TEXT = (
    "I'm sorry, I can't find an answer to that in the clinic's article, and I don't want to "
    "guess on a health question. {contact} The clinic's team can answer questions about your "
    "own situation."
)


@dataclass(frozen=True, slots=True)
class IndexStatus:
    stale: bool
    corpus_hash: str | None


class Bot:
    """Answers questions from one loaded index. Thread-safe; build one per process."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: Settings, thresholds: Thresholds | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.index = index
        self.thresholds = thresholds or Thresholds()
        self.retriever = Retriever(index, embedder)
        self.contacts: Contacts = find_contacts(index.chunks)
        self.crisis = CrisisDetector(embedder)
        self._summary = summary_chunks(index.chunks)
        sections = {(c.source, c.anchor) for c in index.chunks}
        counts: dict[str, int] = {}
        for chunk in index.chunks:
            for w in set(chunk.doc_title.lower().split()) | set(chunk.section.lower().split()):
                counts[w] = counts.get(w, 0) + 1
        # Words nearly every section shares ("ketamine", "infusion") name the subject, not
        # what is asked about it: follow-up resolution ignores them.
        self._generic = frozenset(w.strip("?") for w, n in counts.items() if n >= max(2, len(sections) // 2))

    @classmethod
    def load(cls, settings: Settings, embedder: Embedder | None = None) -> Bot:
        """Load the model (unless given) and the index named by ``settings``."""
        embedder = embedder or MiniLMEmbedder(threads=settings.torch_threads or None, traced=settings.traced_model)
        index = load_index(settings.index_dir, embedder)
        bot = cls(index, embedder, settings)
        status = bot.index_status()
        if status.stale:
            logger.warning("the index in %s is stale: the corpus changed since it was built; run 'python -m bot index'", settings.index_dir)
        return bot

    def index_status(self) -> IndexStatus:
        try:
            current = corpus_hash(self.settings.corpus_dir)
        except CorpusError:
            return IndexStatus(False, None)
        return IndexStatus(current != self.index.manifest.corpus_hash, current)

    # Questions a server answers before it says it is ready, down the main paths (an
    # answer, a typo corrected, an abstention, a follow-up), so the first visitor does not
    # pay for what runs once per process.
    WARM_UP = (("How much does it cost?", ()), ("is it covered by insurence", ()),
               ("what is the weather today", ()),
               ("and how long does it take?", (Turn("user", "what is ketamine infusion therapy"),)))

    def warm_up(self) -> None:
        """Answer ``WARM_UP`` end to end so the first visitor is not slower than the rest."""
        for message, history in self.WARM_UP:
            self.answer(message, history)

    def abstention(self, reason: str, query: str = "") -> Reply:
        text = ABSTAIN_TEXT.format(contact=self.contacts.sentence())
        return Reply(text, abstained=True, crisis=False, reason=reason, query=query)

    def answer(self, message: str, history: Sequence[Turn] = ()) -> Reply:
        """Answer one visitor message, given the conversation before it."""
        started = time.perf_counter()
        message = " ".join(message.split())  # "do  i  need" must read as "do i need"
        # The message as written (for the crisis check) and, when a typo is corrected, as
        # searched: one pass through the model for both costs about what one text does.
        spelled = {message: self.retriever.correct_spelling(message)}
        texts = list(dict.fromkeys([message, spelled[message]]))
        known = dict(zip(texts, self.embedder.encode(texts), strict=True))
        if self.crisis.is_crisis(message, known[message]):
            return self._crisis(message, history, known, spelled)
        reply = self._answer(message, history, known, spelled)
        logger.debug("answered in %.1f ms (abstained=%s)", (time.perf_counter() - started) * 1000, reply.abstained)
        return reply

    def _crisis(self, message: str, history: Sequence[Turn], known: dict, spelled: dict) -> Reply:
        text = self.settings.crisis_text
        citations = ()
        if "?" in message:
            extra = self._answer(message, history, known, spelled)
            if not extra.abstained:
                text = f"{text}\n\n{extra.answer}"
                citations = extra.citations
        return Reply(text, abstained=False, crisis=True, citations=citations, reason="the message speaks of suicide or self-harm")

    def _contact_reply(self, query: str, passages: tuple[dict, ...]) -> Reply | None:
        """The article's sentence with the clinic's email and phone, cited."""
        quote = self.contacts.quote()
        chunk = self.contacts.chunk
        if quote is None or chunk is None:
            return None
        citation = Citation(chunk.section, chunk.anchor, chunk.source, chunk.url, quote, 1.0)
        return Reply(quote, False, False, (citation,), "the visitor asks how to reach the clinic", query, passages)

    def _answer(self, message: str, history: Sequence[Turn], known: dict, spelled: dict) -> Reply:
        """``known``: texts already encoded, to their vectors; ``spelled``: texts already
        spelling-corrected, to their corrections."""
        first: Reply | None = None
        for query in candidates(message, history, self._generic):
            reply = self._answer_query(query, known, spelled)
            if not reply.abstained:
                return reply
            first = first or reply
        assert first is not None
        return first

    def _answer_query(self, text: str, known: dict, spelled: dict) -> Reply:
        """Answer one search text (``known`` and ``spelled`` as in :meth:`_answer`)."""
        query = spelled[text] if text in spelled else self.retriever.correct_spelling(text)
        qv = known[query] if query in known else self.embedder.encode([query])[0]
        terms = self.retriever.query_terms(query)
        hits = self.retriever.search(qv, terms)
        decision = decide(query, hits, qv, terms, self.retriever, self.thresholds)
        passages = tuple(
            {
                "section": s.chunk.section,
                "anchor": s.chunk.anchor,
                "text": h.chunk.text,
                "dense": round(h.dense, 4),
                "lexical": round(h.lexical, 4),
                "coverage": round(s.coverage, 3),
                "sentence": round(s.sentence, 4),
                "used": decision.answerable and any(c.anchor == s.chunk.anchor for c in decision.citations),
            }
            for s in decision.sections
            for h in s.hits
        )
        if decision.topic is None and asks_for_contact(query):
            contact = self._contact_reply(query, passages)
            if contact is not None:
                return contact
        if decision.topic is None and asks_for_summary(query) and self._summary:
            chunk = self._summary[0]
            text = " ".join(s for c in self._summary for s in c.sentences[:3])
            citation = Citation(chunk.section, chunk.anchor, chunk.source, chunk.url, text, 1.0)
            return Reply(text, False, False, (citation,), "the visitor asks for the gist: the article's conclusion", query, passages)
        if not decision.answerable:
            reply = self.abstention(decision.reason, query)
            return Reply(reply.answer, True, False, (), reply.reason, query, passages)
        return Reply(decision.text, False, False, decision.citations, decision.reason, query, passages)
