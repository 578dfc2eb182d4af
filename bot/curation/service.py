"""Staff turning what the bot could not answer into fixes, the console's Unanswered, Feedback
and Changes views as one object: :class:`Curator`.

A fix that answers a group points the group's phrasings at a section in
``corpus/questions.yaml`` (:mod:`bot.ingest.question_edits`: serialized, checked, atomic),
under a ``# fix N`` comment naming who and when, records the fix in the question log, and
rebuilds the index incrementally; every server watching the index folder serves it within
seconds. Undoing removes those phrasings and rebuilds again. The other decisions are only
recorded. The bot still quotes and cites only the clinic's own text.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
from collections import Counter
from dataclasses import dataclass

import numpy as np

from bot.answer.service import Bot
from bot.curation.groups import Group, Grouped, counted_since, group_misses
from bot.errors import BotError, CorpusError
from bot.ingest.corpus import load_corpus
from bot.ingest.question_edits import Change, add_phrasings, check_file, read_entries, remove_phrasings
from bot.ingest.questions import Phrasing, resolve_section
from bot.replies import Reply
from bot.serve.runtime import BotHolder
from bot.store import Store
from bot.store.curation import ACTIONS, Fix, add_fix, fixes, get_fix, mark_undone, misses
from bot.store.records import utcnow

logger = logging.getLogger(__name__)

SUGGESTIONS = 3
VECTOR_CACHE = 50_000  # questions whose vectors are remembered (about 75 MB at most)
BUSY_WAIT = 300.0  # seconds a fix waits for another build of the index to finish


class FixRefused(BotError):
    """A fix cannot be made as asked; the message says why and what to do."""


class NotServed(BotError):
    """The fix is saved in questions.yaml, but the index built from it could not be served."""


@dataclass(frozen=True, slots=True)
class Section:
    value: str  # file.md#anchor, as questions.yaml writes it
    label: str  # "How much does ketamine infusion cost? (ketamine-infusion-insurance.md)"


@dataclass(frozen=True, slots=True)
class FixStatus:
    fix: Fix
    needs_attention: str | None  # why the fix no longer works as made, or None


class Curator:
    """The fixes staff make, on one bot holder and question log."""

    def __init__(self, holder: BotHolder, store: Store | None) -> None:
        self.holder = holder
        self.settings = holder.settings
        self.store = store
        self._lock = threading.Lock()  # one fix at a time in this process (the file lock covers others)
        self._vectors: dict[str, np.ndarray] = {}
        self._vectors_model = None

    # --- reading -------------------------------------------------------------------------

    def _bot(self) -> Bot:
        bot = self.holder.bot
        if bot is None:
            raise FixRefused("the bot is still loading; try again in a few seconds")
        return getattr(bot, "bot", bot)  # the served bot wraps the Bot in the answer cache

    def require_store(self) -> Store:
        if self.store is None:
            raise FixRefused("the question log is off, so there is nothing to fix from: set FAQBOT_DB to a writable file")
        return self.store

    def unanswered(self) -> Grouped:
        store = self.require_store()
        return group_misses(misses(store), fixes(store), self.encode)

    def counted_since(self) -> Counter:
        """Fix id -> questions asked after that decision that it covers."""
        store = self.require_store()
        return counted_since(fixes(store), lambda at: misses(store, since=at), self.encode)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` with the bot's model, remembered by text: the list is grouped
        again at every click, and only new questions are run through the model."""
        embedder = self._bot().embedder
        if self._vectors_model is not embedder or len(self._vectors) > VECTOR_CACHE:
            self._vectors, self._vectors_model = {}, embedder
        new = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if new:
            self._vectors.update(zip(new, np.asarray(embedder.encode(new), np.float32), strict=True))
        return np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, embedder.dim), np.float32)

    def group(self, group_id: str) -> Group:
        found = next((g for g in self.unanswered().groups if g.id == group_id), None)
        if found is None:
            raise FixRefused("that group is no longer in the list (someone may have just fixed it): refresh the list")
        return found

    def sections(self) -> list[Section]:
        """Every section of the served index with text, in corpus order."""
        seen: dict[str, Section] = {}
        folder = self.settings.corpus_dir.name
        for chunk in self._bot().index.chunks:
            value = f"{chunk.source.removeprefix(folder + '/')}#{chunk.anchor}"
            seen.setdefault(value, Section(value, f"{chunk.section} ({chunk.source.removeprefix(folder + '/')})"))
        return list(seen.values())

    def section_for(self, key: str) -> Section | None:
        """The served section a reply's suggestion names ("<source>#<anchor>", the source
        under the corpus folder), as questions.yaml writes it; None when the index no longer
        holds it (the page changed since)."""
        value = key.removeprefix(self.settings.corpus_dir.name + "/")
        return next((s for s in self.sections() if s.value == value), None)

    def suggest(self, question: str, n: int = SUGGESTIONS) -> list[Section]:
        """The ``n`` sections whose passages are nearest ``question`` in meaning."""
        bot = self._bot()
        vector = bot.embedder.encode([question]).astype(np.float32)
        _, rows = bot.index.faiss_index.search(vector, min(50, len(bot.index.chunks)))
        by_value = {s.value: s for s in self.sections()}
        folder = self.settings.corpus_dir.name
        found: list[Section] = []
        for row in rows[0]:
            if row < 0:
                continue
            chunk = bot.index.chunks[row]
            section = by_value.get(f"{chunk.source.removeprefix(folder + '/')}#{chunk.anchor}")
            if section is not None and section not in found:
                found.append(section)
            if len(found) == n:
                break
        return found

    def preview(self, phrasings: tuple[str, ...], section: str) -> Reply:
        """The reply the bot would give to the first phrasing once all of them point to
        ``section``: the served index with these phrasings added, nothing written."""
        bot = self._bot()
        source, anchor = resolve_section(section, load_corpus(self.settings.corpus_dir), self.settings.corpus_dir.name)
        added = [Phrasing(source, anchor, p) for p in phrasings]
        vectors = bot.embedder.encode([p.text for p in added]).astype(np.float32)
        index = bot.index
        old = index.question_vectors if len(index.questions) else np.zeros((0, vectors.shape[1]), np.float32)
        trial = dataclasses.replace(index, questions=[*index.questions, *added], question_vectors=np.vstack([old, vectors]))
        retriever = copy.copy(bot.retriever)
        retriever.index = trial
        return Bot(trial, bot.embedder, bot.settings, retriever=retriever).answer(phrasings[0])

    # --- fixing --------------------------------------------------------------------------

    def answer_with(self, phrasings: tuple[str, ...], asked: int, section: str, staff: str, *,
                    crisis: int = 0, origin: str = "unanswered") -> Fix:
        """Point ``phrasings`` at ``section``, record the fix, rebuild the index."""
        if crisis:
            raise FixRefused("this group holds messages that got crisis resources: it cannot be answered with a section; "
                             "mark it crisis-adjacent instead")
        store = self.require_store()
        with self._lock:
            documents = load_corpus(self.settings.corpus_dir)
            check_file(self.settings.corpus_dir, documents)  # a broken file: refused before anything is recorded
            resolve_section(section, documents, self.settings.corpus_dir.name)
            fix_id = add_fix(store, staff, "answer", phrasings, asked, section=section, origin=origin)
            when = utcnow().strftime("%Y-%m-%d %H:%M UTC")
            try:
                change = add_phrasings(self.settings.corpus_dir, documents, section, list(phrasings),
                                       f"fix {fix_id}: added by {staff}, {when}, from the staff console")
            except Exception:
                mark_undone(store, fix_id, "(not saved)")
                raise
            if not change.changed:
                mark_undone(store, fix_id, "(nothing to add)")
                raise FixRefused(f"these phrasings already point to {change.section} in questions.yaml: nothing to add")
            self._rebuild()
        logger.info("fix %d by %s: %d phrasing(s) now point to %s", fix_id, staff, len(change.changed), change.section)
        return get_fix(store, fix_id)

    def decide(self, phrasings: tuple[str, ...], asked: int, action: str, staff: str, *,
               section: str | None = None, origin: str = "unanswered") -> Fix:
        """Record a decision that changes no content: not for the bot, needs new content,
        crisis-adjacent, or "section right, sentence wrong"."""
        if action not in ACTIONS or action == "answer":
            raise FixRefused(f"unknown decision {action!r}")
        fix_id = add_fix(self.require_store(), staff, action, phrasings, asked, section=section, origin=origin)
        logger.info("fix %d by %s: %s (%d phrasing(s))", fix_id, staff, ACTIONS[action], len(phrasings))
        return get_fix(self.require_store(), fix_id)

    def undo(self, fix_id: int, staff: str) -> tuple[Fix, Change | None]:
        """Undo a fix: its phrasings leave ``questions.yaml`` and the index is rebuilt."""
        store = self.require_store()
        with self._lock:
            fix = get_fix(store, fix_id)
            if not fix.active:
                raise FixRefused(f"fix {fix_id} was already undone by {fix.undone_by}")
            change = None
            if fix.action == "answer":
                documents = load_corpus(self.settings.corpus_dir)
                change = remove_phrasings(self.settings.corpus_dir, documents, fix.section or "", list(fix.phrasings), fix=fix.id)
            mark_undone(store, fix_id, staff)
            if change is not None and change.changed:
                self._rebuild()
        logger.info("fix %d undone by %s", fix_id, staff)
        return get_fix(store, fix_id), change

    def changes(self) -> list[FixStatus]:
        """Every fix, newest first, each with why it needs attention (if it does)."""
        store = self.require_store()
        try:
            documents = load_corpus(self.settings.corpus_dir)
            written = {e.fix for e in read_entries(self.settings.corpus_dir) if e.fix is not None}
        except CorpusError as exc:
            return [FixStatus(f, f"cannot check: {exc}") for f in fixes(store)]
        out = []
        for fix in fixes(store):
            why = None
            if fix.active and fix.action == "answer":
                try:
                    resolve_section(fix.section or "", documents, self.settings.corpus_dir.name)
                except CorpusError:
                    why = f"section {fix.section} is no longer in the corpus: its phrasings are skipped; undo it, or answer the group again"
                else:
                    if fix.id not in written:
                        why = f"its entry (under '# fix {fix.id}') is no longer in questions.yaml: edited by hand?"
            out.append(FixStatus(fix, why))
        return out

    def questions_file_error(self) -> str | None:
        """The file:line error of a questions file broken by hand, or None when it loads."""
        try:
            check_file(self.settings.corpus_dir, load_corpus(self.settings.corpus_dir))
        except CorpusError as exc:
            return str(exc)
        return None

    def _rebuild(self) -> None:
        summary, result = self.holder.reindex(wait=BUSY_WAIT)
        if not result.ok:
            raise NotServed(f"the new index was refused, so the old one is still served: {result.error}")
        logger.info("index rebuilt after a fix: %s", summary.build_id)
