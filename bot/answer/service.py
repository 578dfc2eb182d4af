"""The bot: load the model and index once, answer ``answer(message, history)``."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bot.answer import suggest
from bot.answer.answerability import AnswerabilityModel, model_file
from bot.answer.compose import SAME_QUESTION, Decision, compose, merge, render
from bot.answer.compose import quote as quoted_sentences
from bot.answer.contacts import (
    Contacts,
    asks_for_contact,
    asks_for_summary,
    contacts_by_page,
    find_contacts,
    summary_chunks,
)
from bot.answer.evidence import SectionEvidence
from bot.answer.followups import readings
from bot.answer.parts import split_parts
from bot.answer.query import Query, prepare
from bot.answer.retrieval import Retriever
from bot.answer.topic import TopicModel, topic_file
from bot.errors import BotError, CorpusError
from bot.ingest.corpus import corpus_hash
from bot.replies import Citation, Reply, ReplyKind, Turn
from bot.safety.check import CrisisCheck
from bot.search.embedder import Embedder
from bot.search.engines import embedder_for, model_of
from bot.search.load import LoadedIndex, load_index
from bot.settings import Settings

logger = logging.getLogger(__name__)

ABSTAIN_TEXT = (
    "I'm sorry, I can't find an answer to that in the clinic's pages, and I don't want to "
    "guess on a health question. {contact} The clinic's team can answer questions about your "
    "own situation."
)
PART_MISSING = "I can't find an answer to \u201c{part}\u201d in the clinic's pages."


class UnknownSection(BotError):
    """A visitor picked a section the index does not hold (the corpus changed, or a bad request)."""


@dataclass(frozen=True, slots=True)
class IndexStatus:
    stale: bool
    corpus_hash: str | None


class Bot:
    """Answers questions from one loaded index. Thread-safe; build one per process."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: Settings, retriever: Retriever | None = None,
                 crisis: CrisisCheck | None = None) -> None:
        """``crisis``: the crisis check a server loaded once (otherwise loaded from
        ``settings.crisis_model``); every index it serves shares it."""
        self.settings = settings
        self.embedder = embedder
        self.index = index
        self.retriever = retriever or Retriever(index, embedder, AnswerabilityModel.load(model_file(settings.embedding_model)))
        self.threshold = self.retriever.model.threshold
        fit_with = self.retriever.model.meta.get("embedding_model")
        if fit_with and fit_with != model_of(embedder.name):
            logger.warning("the answerability model was fit with %s but the bot runs %s: refit it with "
                           "'python -m bot.evaluation.fit --model %s'", fit_with, embedder.name, settings.embedding_model)
        self.contacts: Contacts = find_contacts(index.chunks)
        self._page_contacts = contacts_by_page(index.chunks)
        self.crisis = crisis or CrisisCheck.for_settings(settings)
        self.topic = TopicModel.load(topic_file(settings.embedding_model))
        if self.topic is not None and self.topic.weights.shape[0] != embedder.dim:
            logger.warning("%s does not fit %s: every message counts as a clinic question; refit it with "
                           "'python -m bot.evaluation.fit --replies'", topic_file(settings.embedding_model), embedder.name)
            self.topic = None
        self._summary = summary_chunks(index.chunks)
        sections = {(c.source, c.anchor) for c in index.chunks}
        counts: dict[str, int] = {}
        for chunk in index.chunks:
            for w in set(chunk.doc_title.lower().split()) | set(chunk.section.lower().split()):
                counts[w] = counts.get(w, 0) + 1
        # Words nearly every section shares name the subject, not what is asked about it:
        # a follow-up made only of them has no topic of its own.
        self._generic = frozenset(w.strip("?") for w, n in counts.items() if n >= max(2, len(sections) // 2))

    @classmethod
    def load(cls, settings: Settings, embedder: Embedder | None = None, crisis: CrisisCheck | None = None) -> Bot:
        """Load the models (unless given) and the index named by ``settings``."""
        embedder = embedder or embedder_for(settings, threads=settings.torch_threads or None, traced=settings.traced_model)
        index = load_index(settings.index_dir, embedder)
        bot = cls(index, embedder, settings, crisis=crisis)
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
    # pay for what runs once per process. Worded for no clinic in particular.
    WARM_UP = (("How much does it cost?", ()), ("is it covered by insurence", ()),
               ("what is the weather today", ()),
               ("and how long does it take?", (Turn("user", "what is the treatment"),)))

    def warm_up(self) -> None:
        """Answer ``WARM_UP`` (and the corpus's own warm-up questions, from
        ``corpus/vocabulary.yaml``) end to end so the first visitor is not slower than the rest."""
        for message, history in (*self.WARM_UP, *((q, ()) for q in self.index.vocabulary.warm_up)):
            self.answer(message, history)

    def contacts_near(self, evidence: tuple[SectionEvidence, ...] = ()) -> Contacts:
        """The contact details of the page the question came closest to, else the corpus's first."""
        if evidence:
            return self._page_contacts.get(evidence[0].chunk.source, self.contacts)
        return self.contacts

    def abstention(self, reason: str, query: str = "", passages: tuple[dict, ...] = (),
                   evidence: tuple[SectionEvidence, ...] = ()) -> Reply:
        text = ABSTAIN_TEXT.format(contact=self.contacts_near(evidence).sentence())
        return Reply(text, ReplyKind.ABSTENTION, reason=reason, query=query, passages=passages)

    def suggestions(self, reason: str, query: str, passages: tuple[dict, ...], evidence: tuple[SectionEvidence, ...]) -> Reply:
        """The closest sections offered, each with its heading, link and closest sentence."""
        offered = tuple(suggest.suggestion(e) for e in suggest.offered(evidence))
        text = suggest.render(offered, self.contacts_near(evidence).sentence())
        return Reply(text, ReplyKind.SUGGESTIONS, reason=f"unsure, so the closest sections are offered: {reason}",
                     query=query, passages=passages, suggestions=offered)

    def answer(self, message: str, history: Sequence[Turn] = ()) -> Reply:
        """Answer one visitor message, given the conversation before it.

        The message is routed once, in this order: crisis, a request for the clinic's
        contact details, a request for the gist, and otherwise a question (in one or more
        parts, each read with the conversation only where it leans on it)."""
        started = time.perf_counter()
        message = " ".join(message.split())  # "do  i  need" must read as "do i need"
        # The crisis check first, on the message as written: it runs on another core while the
        # question is read, and nothing is decided before its verdict.
        crisis_soon = self.crisis.is_crisis_soon(message)
        parts = split_parts(message)
        plans = [(part, readings(part, history if i == 0 else (*history, Turn("user", parts[i - 1])), self._generic)) for i, part in enumerate(parts)]
        if len(parts) > 1:
            plans.append((message, readings(message, history, self._generic)))
        queries = prepare([message, *(r for _, (rs, _) in plans for r in rs)], self.retriever, self.embedder)
        written = queries[message]
        if crisis_soon.result():
            reply = self._crisis(message, plans, queries)
        elif asks_for_contact(written.searched) and (contact := self._contact_reply(written.searched)) is not None:
            reply = contact
        elif asks_for_summary(written.searched) and self._summary:
            reply = self._summary_reply(written.searched)
        else:
            reply = self._question(plans, queries)
        logger.debug("answered in %.1f ms (abstained=%s)", (time.perf_counter() - started) * 1000, reply.abstained)
        return reply

    def _crisis(self, message: str, plans: list, queries: dict[str, Query]) -> Reply:
        text = self.settings.crisis_text
        citations: tuple[Citation, ...] = ()
        if "?" in message:
            extra = self._question(plans, queries)
            if not extra.abstained:
                text = f"{text}\n\n{extra.answer}"
                citations = extra.citations
        return Reply(text, ReplyKind.CRISIS, citations=citations, reason="the message speaks of suicide or self-harm")

    def _contact_reply(self, query: str) -> Reply | None:
        """The corpus's sentence with the clinic's email and phone, cited."""
        quote = self.contacts.quote()
        chunk = self.contacts.chunk
        if quote is None or chunk is None:
            return None
        citation = Citation(chunk.section, chunk.anchor, chunk.source, chunk.url, quote, 1.0)
        return Reply(quote, ReplyKind.ANSWER, (citation,), "the visitor asks how to reach the clinic", query)

    def _summary_reply(self, query: str) -> Reply:
        chunk = self._summary[0]
        text = " ".join(s for c in self._summary for s in c.sentences[:3])
        citation = Citation(chunk.section, chunk.anchor, chunk.source, chunk.url, text, 1.0)
        return Reply(text, ReplyKind.ANSWER, (citation,), "the visitor asks for the gist: the conclusion", query)

    def decide(self, query: Query) -> Decision:
        """Compose the answer to one reading from its ranked evidence, unless it asks about a
        topic the corpus lists as out of scope and the closest sections do not cover it."""
        evidence = self.retriever.evidence(query.vector, query.terms, query.word_vectors, query.forms)
        topic = None
        if self.index.vocabulary.out_of_scope:  # most corpora list no topics
            nearest = " ".join(f"{e.chunk.section} {' '.join(s.text for s in e.sentences)}" for e in evidence[:2])
            topic = self.index.vocabulary.out_of_scope_topic(query.searched, nearest)
        if topic is not None and not any(e.features.get("phrasing", 0.0) >= SAME_QUESTION for e in evidence):
            return Decision(False, f"it asks about {topic.name}, which the closest sections do not cover", tuple(evidence), offer=False)
        return compose(evidence, self.threshold)

    def _best_reading(self, plan: tuple[list[str], bool], queries: dict[str, Query]) -> tuple[Query, Decision]:
        """The first reading that answers when the order says so (``first``), else the
        answering reading the model trusts most; an abstention when none answers."""
        texts, first = plan
        decided = []
        for text in texts:  # in order, so a passing first reading spares the others
            query = queries[" ".join(text.split())]
            decided.append((query, self.decide(query)))
            if first and decided[-1][1].answerable:
                return decided[-1]
        answering = [d for d in decided if d[1].answerable]
        return max(answering or decided, key=lambda d: d[1].probability)

    def _question(self, plans: list, queries: dict[str, Query]) -> Reply:
        """Answer a question in one or more parts; each part is cited, or said to be missing."""
        if len(plans) == 1:
            query, decision = self._best_reading(plans[0][1], queries)
            return self._reply(query, decision)
        *part_plans, (_, whole_readings) = plans
        answered = [(part, *self._best_reading(texts, queries)) for part, texts in part_plans]
        found = [(part, q, d) for part, q, d in answered if d.answerable]
        if not found:
            query, decision = self._best_reading(whole_readings, queries)
            return self._reply(query, decision)
        text, citations = render(merge([q for _, _, d in found for q in d.quotes]))
        missing = [PART_MISSING.format(part=part) for part, _, d in answered if not d.answerable]
        if missing:
            text = "\n\n".join([text, " ".join(missing)])
        reason = "; ".join(f"part '{part}': {d.reason}" for part, _, d in answered)
        passages = self._passages(found[0][2])
        return Reply(text, ReplyKind.ANSWER, citations, reason, " | ".join(q.searched for _, q, _ in answered), passages)

    def _reply(self, query: Query, decision: Decision) -> Reply:
        passages = self._passages(decision)
        offer = decision.offer and (self.topic is None or self.topic.on_topic(query.vector))
        kind = suggest.choose(decision.evidence, decision.answerable, self.retriever.model, offer)
        if kind is ReplyKind.SUGGESTIONS:
            reason = decision.reason if not decision.answerable else f"another page's section is nearly as likely: {decision.reason}"
            return self.suggestions(reason, query.searched, passages, decision.evidence)
        if kind is ReplyKind.ABSTENTION:
            return self.abstention(decision.reason, query.searched, passages, decision.evidence)
        text, citations = render(decision.quotes)
        return Reply(text, ReplyKind.ANSWER, citations, decision.reason, query.searched, passages)

    def answer_section(self, message: str, section: str, history: Sequence[Turn] = ()) -> Reply:
        """The answer of ``section`` ("<source>#<anchor>", a suggestion the visitor picked) to
        ``message``: its sentences closest to the question, cited, read with the conversation
        as the question was. A crisis message gets the crisis reply, as always.

        Raises :class:`UnknownSection` when the index holds no such section."""
        message = " ".join(message.split())
        source, _, anchor = section.rpartition("#")
        key = (source, anchor)
        if key not in self.retriever.section_rows:
            raise UnknownSection(f"no section {section!r} in the clinic's pages: pick one of the suggestions the last reply offered")
        if self.crisis.is_crisis(message):
            return self.answer(message, history)
        texts, _ = readings(message, history, self._generic)
        queries = prepare(texts, self.retriever, self.embedder)
        found = []
        for query in queries.values():
            evidence = self.retriever.evidence(query.vector, query.terms, query.word_vectors, query.forms, only=key)
            found.append((evidence[0].probability, query, evidence[0]))
        _, query, evidence = max(found, key=lambda f: f[0])
        text, citations = render([(evidence, tuple(quoted_sentences(evidence)))])
        reason = f"the visitor picked '{evidence.chunk.section}' among the suggestions (probability {evidence.probability:.2f})"
        return Reply(text, ReplyKind.ANSWER, citations, reason, query.searched, picked=section)

    @staticmethod
    def _passages(decision: Decision) -> tuple[dict, ...]:
        """The evidence behind a decision, for the staff console."""
        used = {section.key for section, _ in decision.quotes}
        return tuple(
            {
                "section": e.chunk.section,
                "anchor": e.chunk.anchor,
                "text": h.chunk.text,
                "dense": round(h.dense, 4),
                "lexical": round(h.lexical, 4),
                "coverage": round(e.features["coverage"], 3),
                "sentence": round(e.features["sentence"], 4),
                "probability": round(e.probability, 4),
                "used": decision.answerable and (e.chunk.source, e.chunk.anchor) in used,
            }
            for e in decision.evidence
            for h in e.hits
        )
