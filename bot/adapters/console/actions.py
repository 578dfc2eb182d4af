"""The console's actions, one method per button or tab, each returning what the page shows:
tests drive them without a browser. The console records its own chats as channel ``staff``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import pandas as pd

from bot import evaluation
from bot.adapters.console.fixing import Fixing
from bot.adapters.console.text import (
    DAYS,
    FAILURE_COLUMNS,
    FEEDBACK_COLUMNS,
    LOG_COLUMNS,
    RATED,
    RECENT,
    SCOPES,
    SCORE_COLUMNS,
    THUMBS,
    clip,
    count_of,
    format_reply,
    kind_text,
    log_unavailable,
    outcome,
    passages_markdown,
    read_log,
    when,
    why_text,
)
from bot.curation.service import Curator
from bot.errors import BotError
from bot.replies import ReplyKind
from bot.serve.inputs import ChatRequest, InvalidRequest
from bot.serve.runtime import BotHolder
from bot.store import ChatLog, StorageError

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ConsoleSession:
    """One staff member's conversation in the console (a Gradio State per browser tab)."""

    turns: list[dict] = field(default_factory=list)  # what the bot sees as history
    answer_ids: list[str | None] = field(default_factory=list)  # parallel to the chat's messages
    feedback: dict[int, int] = field(default_factory=dict)  # chat message index -> feedback id
    last_rated: int | None = None  # message index of the latest rating, for a late comment


class Console:
    """The console's actions. Each returns what the page shows."""

    def __init__(self, holder: BotHolder, log: ChatLog | None = None) -> None:
        self.holder = holder
        self.settings = holder.settings
        self.log = log
        self.fixing = Fixing(Curator(holder, self._store()))

    # --- chat --------------------------------------------------------------------------

    def ask(self, message: str, chat: list[dict] | None, session: ConsoleSession | None):
        """Answer ``message`` as the bot would answer a visitor, and record it as ``staff``.

        Returns (question box, chat, session, why panel, passages)."""
        chat = list(chat or [])
        session = session or ConsoleSession()
        try:
            request = ChatRequest.parse({"message": message or "", "history": session.turns}, self.settings)
        except InvalidRequest as exc:
            gr.Warning(str(exc))
            return message, chat, session, gr.update(), gr.update()
        bot = self.holder.bot
        if bot is None:
            gr.Warning("The bot is still loading; try again in a few seconds.")
            return message, chat, session, gr.update(), gr.update()
        started = time.perf_counter()
        reply = bot.answer(request.message, request.history)
        answer_id = self.log.record("staff", request.message, reply, time.perf_counter() - started) if self.log else None
        chat += [{"role": "user", "content": request.message}, {"role": "assistant", "content": format_reply(reply)}]
        session = ConsoleSession(
            turns=[*session.turns, {"role": "user", "content": request.message}, {"role": "assistant", "content": reply.answer}],
            answer_ids=[*session.answer_ids, None, answer_id],
            feedback=dict(session.feedback),
            last_rated=session.last_rated,
        )
        return "", chat, session, why_text(reply, request.message), passages_markdown(reply)

    def rate(self, session: ConsoleSession | None, comment: str, like: gr.LikeData):
        """A thumbs up / down (or its undoing) on one answer, with the comment box's text.

        Returns (session, comment box, status)."""
        session = session or ConsoleSession()
        index = like.index[0] if isinstance(like.index, list | tuple) else like.index
        answer_id = session.answer_ids[index] if 0 <= index < len(session.answer_ids) else None
        if self.log is None or answer_id is None:
            why = self.log.error if self.log and self.log.error else "this answer was not logged"
            return session, comment, f"Feedback is not stored: {why}."
        session = ConsoleSession(session.turns, session.answer_ids, dict(session.feedback), session.last_rated)
        existing = session.feedback.get(index)
        try:
            if like.liked is True or like.liked is False:
                rating = 1 if like.liked else -1
                if existing is None:
                    session.feedback[index] = self.log.add_feedback(answer_id, rating, comment)
                else:
                    self.log.update_feedback(existing, rating, comment if (comment or "").strip() else None)
                session.last_rated = index
                note = " with your comment" if (comment or "").strip() else "; add a comment below if you like"
                return session, "", f"{RATED[rating]} stored for answer {index // 2 + 1}{note}."
            if existing is not None:  # the same thumb clicked again: undone
                self.log.delete_feedback(existing)
                del session.feedback[index]
                if session.last_rated == index:
                    session.last_rated = None
            return session, comment, f"Rating of answer {index // 2 + 1} removed."
        except (StorageError, ValueError) as exc:
            logger.warning("feedback not stored: %s", exc)
            return session, comment, f"Feedback is not stored: {exc}"

    def comment(self, session: ConsoleSession | None, comment: str):
        """Attach the comment box's text to the answer rated last. Returns (comment box, status)."""
        session = session or ConsoleSession()
        text = (comment or "").strip()
        if not text:
            return comment, "Type a comment first."
        if session.last_rated is None or session.last_rated not in session.feedback or self.log is None:
            return comment, "Rate an answer with the thumbs under it first; the comment is stored with that rating."
        try:
            self.log.update_feedback(session.feedback[session.last_rated], comment=text)
        except StorageError as exc:
            return comment, f"The comment is not stored: {exc}"
        return "", f"Comment stored with your rating of answer {session.last_rated // 2 + 1}."

    # --- the log -----------------------------------------------------------------------

    def storage_note(self) -> str:
        if self.log is None or not self.log.enabled:
            reason = self.log.error if self.log and self.log.error else "no question log is configured"
            return f"⚠ Nothing is being logged: {reason}."
        if not self.log.log_questions:
            return f"Question logging is off (FAQBOT_LOG_QUESTIONS=0): outcomes are kept {self.log.retention_days} days, question text is not stored."
        return f"Questions are logged with emails and phone numbers redacted, and deleted after {self.log.retention_days} days."

    def _store(self):
        return self.log.store if self.log is not None and self.log.store is not None else None

    def unanswered(self) -> pd.DataFrame:
        """Visitors' questions the bot could not answer, grouped by meaning, most asked first."""
        return self.fixing.unanswered()[0]

    def feedback(self, only_negative: bool = False) -> pd.DataFrame:
        """The rated answers, newest first."""
        rows = []
        for f in read_log(self._store(), lambda store: store.feedback(only_negative=only_negative)):
            question = f.question if f.question is not None else "(not logged)"
            kind = kind_text(f.kind, len(f.suggestions), f.picked_section)
            answer = "" if kind == "answered" else f"[{kind}] "
            rows.append([when(f.at), THUMBS[f.rating], question, answer + clip(f.answer), "; ".join(f.sections), f.comment or "", f.channel])
        return pd.DataFrame(rows, columns=FEEDBACK_COLUMNS)

    def recent(self, limit: int = RECENT) -> pd.DataFrame:
        """The latest answered messages, newest first, with the kind of reply each got: the
        sections a suggestions reply offered, the section a visitor picked among them."""
        rows = []
        for e in read_log(self._store(), lambda store: store.exchanges(limit)):
            sections = [o.section for o in e.suggestions] if e.kind is ReplyKind.SUGGESTIONS else list(e.sections)
            rows.append([when(e.at), e.channel, e.question if e.question is not None else "(not logged)",
                         kind_text(e.kind, len(e.suggestions), e.picked_section), "; ".join(sections), clip(e.answer, 200), e.latency_ms])
        return pd.DataFrame(rows, columns=LOG_COLUMNS)

    def overview(self, scope: str = next(iter(SCOPES))):
        """(summary, questions per day, share abstained per day, most cited sections)."""
        channels = SCOPES.get(scope, SCOPES[next(iter(SCOPES))])
        store = self._store()
        try:
            days = store.daily(DAYS, channels) if store is not None else []
            sections = store.top_sections(DAYS, 10, channels) if store is not None else []
            unavailable = None
        except StorageError as exc:
            days, sections, unavailable = [], [], log_unavailable(exc)
        # Days as ISO text: a bar per day (one day's data is still visible, quiet days are
        # empty), in date order.
        per_day = pd.DataFrame(
            [
                [d.day.isoformat(), kind, count]
                for d in days
                for kind, count in (("answered", d.questions - d.abstained - d.crisis), ("abstained", d.abstained), ("crisis", d.crisis))
            ],
            columns=["day", "outcome", "questions"],
        ).astype({"day": object, "outcome": object, "questions": "int64"})
        share = pd.DataFrame(
            {
                "day": pd.Series([d.day.isoformat() for d in days], dtype=object),
                "abstained_pct": pd.Series([None if d.abstained_share is None else round(100 * d.abstained_share, 1) for d in days], dtype="float64"),
            }
        )
        top = pd.DataFrame(
            {"section": pd.Series([clip(s.section, 45) for s in sections], dtype=object),
             "citations": pd.Series([s.citations for s in sections], dtype="int64")}
        )
        total = sum(d.questions for d in days)
        abstained = sum(d.abstained for d in days)
        crisis = sum(d.crisis for d in days)
        if store is None:
            summary = self.storage_note()
        elif unavailable:
            summary = unavailable
        elif total == 0:
            summary = f"No questions in the last {DAYS} days from {scope}."
        else:
            summary = (
                f"**Last {DAYS} days, {scope}:** {count_of(total, 'question')}, {abstained} abstained "
                f"({abstained / total:.0%}), {count_of(crisis, 'crisis reply', 'crisis replies')}; today: {days[-1].questions}."
            )
        return summary, per_day, share, top

    # --- the index and the evaluation ------------------------------------------------------

    def index_info(self) -> str:
        bot = self.holder.bot
        if bot is None:
            return f"The bot failed to load: {self.holder.error}" if self.holder.error else "The bot is still loading."
        m = bot.index.manifest
        status = bot.index_status()
        if status.corpus_hash is None:
            fresh = f"⚠ The corpus in `{self.settings.corpus_dir}` cannot be read, so freshness is unknown."
        elif status.stale:
            fresh = (
                f"⚠ **The corpus on disk is newer than this index** (on disk: `{status.corpus_hash[:12]}`). "
                "Press **Re-index now**, or run `python -m bot index`: the server serves the new index within seconds."
            )
        else:
            fresh = "✓ The index matches the corpus on disk."
        rows = [
            ("documents", m.documents), ("sections", m.sections), ("passages", m.passages), ("sentences", m.sentences),
            ("model", f"{m.model} ({m.dim} dimensions)"), ("built", m.built_at), ("build", m.build_id),
            ("corpus hash", f"`{m.corpus_hash}`"), ("index folder", f"`{self.settings.index_dir}`"),
        ]
        reload = self.holder.reload_status
        if reload.status == "failed":
            fresh += f"\n\n⚠ The last new index ({reload.build_id}) was refused, the one below is still served: {reload.error}"
        table = "\n".join(f"| {k} | {v} |" for k, v in rows)
        return f"{fresh}\n\n| | |\n| --- | --- |\n{table}"

    def reindex(self, progress: gr.Progress = gr.Progress()):  # noqa: B008 (how Gradio injects a progress bar)
        """Re-index the corpus and serve the new index ("Re-index now"). Returns (result, index info)."""
        try:
            summary, result = self.holder.reindex(progress=lambda done, total: progress((done, total), desc="embedding changed text"))
        except BotError as exc:  # a mistake in a corpus file: nothing was built
            return f"⚠ Nothing was re-indexed: {exc}", self.index_info()
        built = summary.line(self.settings.index_dir) if summary.build_id else "the index was already current"
        if not result.ok:
            return f"⚠ {built}, but the new index was refused (the old one is still served): {result.error}", self.index_info()
        return f"✓ {built}; serving {result.served}.", self.index_info()

    def evaluate(self, upload: str | None = None):
        """Run the uploaded evaluation file, or the default one. Returns (summary, scores, failures)."""
        empty_scores, empty_failures = pd.DataFrame(columns=SCORE_COLUMNS), pd.DataFrame(columns=FAILURE_COLUMNS)
        bot = self.holder.bot
        if bot is None:
            return "The bot is still loading; try again in a few seconds.", empty_scores, empty_failures
        path = Path(upload) if upload else self.settings.eval_file
        name = Path(upload).name if upload else str(self.settings.eval_file)
        try:
            cases = evaluation.load_cases(path)
        except evaluation.EvalFileError as exc:
            return f"⚠ {exc}", empty_scores, empty_failures
        if not cases:
            return f"⚠ {name} has no cases: each line is one JSON case with id, kind and q.", empty_scores, empty_failures
        started = time.perf_counter()
        report = evaluation.run(cases, bot.answer, self.settings.crisis_contacts)
        seconds = time.perf_counter() - started
        scores = pd.DataFrame(
            [[k, p, t, f"{p / t:.0%}"] for k in evaluation.KINDS for p, t in [report.score(k)] if t], columns=SCORE_COLUMNS
        )
        failures = pd.DataFrame(
            [[o.case.id, o.case.kind, o.case.q, outcome(o.reply), clip(o.reply.answer, 200), o.reply.reason] for o in report.failures],
            columns=FAILURE_COLUMNS,
        )
        passed = len(report.outcomes) - len(report.failures)
        summary = (
            f"**{name}**: {passed} of {len(report.outcomes)} cases pass, {len(report.failures)} fail, "
            f"{report.false_crisis()} false crisis replies ({seconds:.1f}s)."
        )
        return summary, scores, failures
