"""The Gradio console for staff, at ``/``.

- Chat: ask as a visitor would; each answer shows its citations as links, the side panel
  shows the passages behind the last answer (section, scores, which were quoted) and why
  the bot answered, abstained or gave crisis resources. Thumbs up / down on any answer,
  with an optional comment, are stored.
- Unanswered: visitors' questions the bot abstained on, the same question grouped, most
  asked first: what to write new content from.
- Feedback: the rated answers, newest first.
- Overview: questions per day, the share abstained and the most cited sections.
- Index: what is being served, and whether the corpus on disk is newer.
- Evaluation: run an evaluation file and see the scores and the failing cases.

:class:`Console` holds one handler per action, so tests drive them without a browser;
:func:`build_ui` lays them out. The console records its own chats as channel ``staff``.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import pandas as pd

from bot import evaluation
from bot.errors import BotError
from bot.replies import Reply, Turn
from bot.serve.inputs import ChatRequest, InvalidRequest
from bot.serve.runtime import BotHolder
from bot.settings import Settings
from bot.store import ChatLog, StorageError

logger = logging.getLogger(__name__)

PASSAGE_COLUMNS = ["used", "section", "dense", "lexical", "coverage", "sentence", "passage"]
UNANSWERED_COLUMNS = ["asked", "question", "last seen (UTC)", "channels", "also asked as"]
FEEDBACK_COLUMNS = ["when (UTC)", "rating", "question", "answer", "cited sections", "comment", "channel"]
SCORE_COLUMNS = ["kind", "passed", "total", "rate"]
FAILURE_COLUMNS = ["id", "kind", "question", "the bot", "answer", "reason"]
SCOPES = {"visitors (widget + API)": ("widget", "api"), "all channels (with staff)": ("widget", "api", "staff")}
DAYS = 30
OUTCOME_COLORS = {"answered": "#2e7d32", "abstained": "#ef6c00", "crisis": "#c62828"}
THUMBS = {1: "👍 up", -1: "👎 down"}
RATED = {1: "Thumbs up", -1: "Thumbs down"}


class OpenConsoleRefused(BotError):
    """The console would be open to the network without a sign-in."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def staff_auth(settings: Settings) -> tuple[str, str] | None:
    """The console's sign-in (user, password), or None when it is open.

    Refuses an open console on an address other than loopback unless
    ``FAQBOT_ALLOW_OPEN_STAFF=1`` says something in front of the server signs staff in.
    """
    if settings.staff_password:
        return settings.staff_user, settings.staff_password
    if is_loopback(settings.host):
        return None
    if settings.allow_open_staff:
        logger.warning("the staff console at / is open to anyone who can reach %s (FAQBOT_ALLOW_OPEN_STAFF=1)", settings.host)
        return None
    raise OpenConsoleRefused(
        f"refusing to serve the staff console on {settings.host} without a sign-in: set FAQBOT_STAFF_PASSWORD "
        "(and optionally FAQBOT_STAFF_USER, default 'staff'), or set FAQBOT_ALLOW_OPEN_STAFF=1 if a proxy in "
        "front of this server already signs staff in"
    )


def format_reply(reply: Reply) -> str:
    """The answer as Markdown with its citations as links."""
    text = reply.answer
    if reply.crisis:
        text = f"**Crisis resources**\n\n{text}"
    if reply.citations:
        links = "\n".join(f"- [{c.section}]({c.url}) (score {c.score:.2f})" for c in reply.citations)
        text = f"{text}\n\n**Sources**\n{links}"
    return text


def outcome(reply: Reply) -> str:
    return "crisis" if reply.crisis else "abstained" if reply.abstained else "answered"


def why_text(reply: Reply, message: str) -> str:
    """The side panel's account of the last answer, for staff."""
    state = outcome(reply)
    lines = [f"**{state}**: {reply.reason or 'no reason given'}"]
    if reply.crisis:
        lines.append("A crisis message gets the crisis resources before anything else.")
    elif reply.abstained:
        lines.append("The visitor is told the article does not answer this, and given the clinic's contact details.")
    lines.append(f"searched for: `{reply.query or message}`")
    if reply.citations:
        lines.append("quoted from: " + "; ".join(f"[{c.section}]({c.url})" for c in reply.citations))
    return "\n\n".join(lines)


def passage_rows(reply: Reply) -> list[list]:
    """The passages behind ``reply`` as rows of PASSAGE_COLUMNS."""
    return [
        ["✓" if p.get("used") else "", p["section"], p.get("dense"), p.get("lexical"), p.get("coverage"), p.get("sentence"), p["text"]]
        for p in reply.passages
    ]


def passages_markdown(reply: Reply) -> str:
    """The passages behind ``reply`` for the side panel: section, scores, whether quoted."""
    if not reply.passages:
        return "_No passages were retrieved for this message._"
    blocks = ["**Passages retrieved**, best first (✓ = the answer quotes this section)"]
    for row in passage_rows(reply):
        used, section, *scores, text = row
        numbers = " · ".join(f"{name} {value:.2f}" for name, value in zip(PASSAGE_COLUMNS[2:6], scores, strict=True) if value is not None)
        mark = "✓ " if used else ""
        blocks.append(f"{mark}**{section}**  \n{numbers}\n> {_clip(text, 240)}")
    return "\n\n".join(blocks)


def _when(at) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def _n(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def _clip(text: str | None, limit: int = 300) -> str:
    text = text or ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        """Visitors' abstained questions, grouped, most asked first."""
        store = self._store()
        rows = []
        if store is not None:
            rows = [
                [q.count, q.question, _when(q.last_seen), ", ".join(q.channels), " | ".join(q.wordings[:5])]
                for q in store.unanswered()
            ]
        return pd.DataFrame(rows, columns=UNANSWERED_COLUMNS)

    def feedback(self, only_negative: bool = False) -> pd.DataFrame:
        """The rated answers, newest first."""
        store = self._store()
        rows = []
        if store is not None:
            for f in store.feedback(only_negative=only_negative):
                question = f.question if f.question is not None else "(not logged)"
                answer = "[abstained] " if f.abstained else "[crisis] " if f.crisis else ""
                rows.append([_when(f.at), THUMBS[f.rating], question, answer + _clip(f.answer), "; ".join(f.sections), f.comment or "", f.channel])
        return pd.DataFrame(rows, columns=FEEDBACK_COLUMNS)

    def overview(self, scope: str = next(iter(SCOPES))):
        """(summary, questions per day, share abstained per day, most cited sections)."""
        channels = SCOPES.get(scope, SCOPES[next(iter(SCOPES))])
        store = self._store()
        days = store.daily(DAYS, channels) if store is not None else []
        sections = store.top_sections(DAYS, 10, channels) if store is not None else []
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
            {"section": pd.Series([_clip(s.section, 45) for s in sections], dtype=object),
             "citations": pd.Series([s.citations for s in sections], dtype="int64")}
        )
        total = sum(d.questions for d in days)
        abstained = sum(d.abstained for d in days)
        crisis = sum(d.crisis for d in days)
        if store is None:
            summary = self.storage_note()
        elif total == 0:
            summary = f"No questions in the last {DAYS} days from {scope}."
        else:
            summary = (
                f"**Last {DAYS} days, {scope}:** {_n(total, 'question')}, {abstained} abstained "
                f"({abstained / total:.0%}), {_n(crisis, 'crisis reply', 'crisis replies')}; today: {days[-1].questions}."
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
            [[o.case.id, o.case.kind, o.case.q, outcome(o.reply), _clip(o.reply.answer, 200), o.reply.reason] for o in report.failures],
            columns=FAILURE_COLUMNS,
        )
        passed = len(report.outcomes) - len(report.failures)
        summary = (
            f"**{name}**: {passed} of {len(report.outcomes)} cases pass, {len(report.failures)} fail, "
            f"{report.false_crisis()} false crisis replies ({seconds:.1f}s)."
        )
        return summary, scores, failures


def build_ui(holder: BotHolder, log: ChatLog | None = None) -> gr.Blocks:
    """The console's page for ``holder``'s bot, reading and writing ``log``."""
    console = Console(holder, log)
    with gr.Blocks(title="FAQ bot · staff console", analytics_enabled=False) as demo:
        gr.Markdown("## Clinic FAQ bot: staff console")
        gr.Markdown(console.storage_note())
        session = gr.State(ConsoleSession())
        with gr.Tabs():
            with gr.Tab("Chat"):
                gr.Markdown("Ask as a visitor would. Rate any answer with the thumbs under it; the panel shows why the bot answered and the passages behind the last answer.")
                with gr.Row():
                    with gr.Column(scale=3):
                        chat = gr.Chatbot(label="Conversation", height=520, feedback_options=("Like", "Dislike"))
                        box = gr.Textbox(label="Question", placeholder="How much does it cost?", submit_btn=True)
                        with gr.Row():
                            comment = gr.Textbox(label="Comment on a rating (optional)", placeholder="What was wrong or missing?", scale=4)
                            save_comment = gr.Button("Save comment", scale=1)
                        rated = gr.Markdown()
                        clear = gr.Button("New conversation", variant="secondary")
                    with gr.Column(scale=2):
                        why = gr.Markdown(label="Why")
                        passages = gr.Markdown()
            with gr.Tab("Unanswered") as unanswered_tab:
                gr.Markdown("Questions visitors asked that the bot could not answer, the same question grouped, most asked first: write new content from these.")
                unanswered_refresh = gr.Button("Refresh", size="sm")
                unanswered = gr.Dataframe(headers=UNANSWERED_COLUMNS, wrap=True, interactive=False)
            with gr.Tab("Feedback") as feedback_tab:
                gr.Markdown("Answers rated in this console, newest first.")
                with gr.Row():
                    only_negative = gr.Checkbox(label="only thumbs down", value=False)
                    feedback_refresh = gr.Button("Refresh", size="sm")
                feedback = gr.Dataframe(headers=FEEDBACK_COLUMNS, wrap=True, interactive=False)
            with gr.Tab("Overview") as overview_tab:
                with gr.Row():
                    scope = gr.Radio(list(SCOPES), value=next(iter(SCOPES)), label="Questions from", scale=4)
                    overview_refresh = gr.Button("Refresh", size="sm", scale=1)
                summary = gr.Markdown()
                with gr.Row():
                    per_day = gr.BarPlot(
                        x="day", y="questions", color="outcome", color_map=OUTCOME_COLORS, title=f"Questions per day (UTC, last {DAYS} days)",
                        x_title="", x_label_angle=-60, y_lim=[0, None], height=300,
                    )
                    share = gr.BarPlot(
                        x="day", y="abstained_pct", title="Share abstained (%), days with questions", x_title="", y_title="abstained (%)",
                        x_label_angle=-60, y_lim=[0, 100], height=300,
                    )
                top = gr.BarPlot(
                    x="section", y="citations", title=f"Most cited sections (last {DAYS} days)", sort="-y", x_title="",
                    x_label_angle=-20, y_lim=[0, None], height=340,
                )
            with gr.Tab("Index") as index_tab:
                with gr.Row():
                    index_refresh = gr.Button("Refresh", size="sm")
                    reindex = gr.Button("Re-index now", size="sm", variant="primary")
                reindex_result = gr.Markdown()
                index_info = gr.Markdown()
            with gr.Tab("Evaluation"):
                gr.Markdown(
                    f"Runs every case of an evaluation file (JSON Lines: id, kind, q, facts) through the bot. "
                    f"Leave the upload empty to run `{holder.settings.eval_file}`."
                )
                upload = gr.File(label="Evaluation file (.jsonl)", file_types=[".jsonl"], type="filepath")
                run = gr.Button("Run evaluation", variant="primary")
                eval_summary = gr.Markdown()
                scores = gr.Dataframe(headers=SCORE_COLUMNS, label="Scores", interactive=False)
                failures = gr.Dataframe(headers=FAILURE_COLUMNS, label="Failing cases", wrap=True, interactive=False)

        box.submit(console.ask, [box, chat, session], [box, chat, session, why, passages], api_name="ask")
        chat.like(console.rate, [session, comment], [session, comment, rated], api_name="rate", api_visibility="undocumented")
        save_comment.click(console.comment, [session, comment], [comment, rated], api_name="comment")
        clear.click(lambda: ([], ConsoleSession(), "", "", ""), None, [chat, session, why, passages, rated], api_visibility="private")
        gr.on([unanswered_tab.select, unanswered_refresh.click], console.unanswered, None, unanswered, api_name="unanswered")
        gr.on([feedback_tab.select, feedback_refresh.click, only_negative.change], console.feedback, only_negative, feedback, api_name="feedback")
        gr.on([overview_tab.select, overview_refresh.click, scope.change], console.overview, scope, [summary, per_day, share, top], api_name="overview")
        gr.on([index_tab.select, index_refresh.click], console.index_info, None, index_info, api_name="index")
        reindex.click(console.reindex, None, [reindex_result, index_info], api_name="reindex", concurrency_limit=1)
        run.click(console.evaluate, upload, [eval_summary, scores, failures], api_name="evaluate")
    return demo


__all__ = ["Console", "ConsoleSession", "OpenConsoleRefused", "build_ui", "format_reply", "staff_auth", "Turn"]
