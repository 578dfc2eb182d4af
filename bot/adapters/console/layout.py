"""The console's page: one tab per view, each laid out and wired to its :class:`Console` action."""

from __future__ import annotations

import gradio as gr

from bot.adapters.console.actions import Console, ConsoleSession
from bot.adapters.console.fix_layout import changes_tab, feedback_fixes, unanswered_tab
from bot.adapters.console.text import (
    DAYS,
    FAILURE_COLUMNS,
    FEEDBACK_COLUMNS,
    LOG_COLUMNS,
    OUTCOME_COLORS,
    RECENT,
    SCOPES,
    SCORE_COLUMNS,
)
from bot.serve.runtime import BotHolder
from bot.store import ChatLog


def build_ui(holder: BotHolder, log: ChatLog | None = None) -> gr.Blocks:
    """The console's page for ``holder``'s bot, reading and writing ``log``."""
    console = Console(holder, log)
    with gr.Blocks(title="FAQ bot · staff console", analytics_enabled=False) as demo:
        gr.Markdown("## Clinic FAQ bot: staff console")
        gr.Markdown(console.storage_note())
        with gr.Tabs():
            _chat_tab(console)
            unanswered_tab(console.fixing)
            _feedback_tab(console)
            _log_tab(console)
            changes_tab(console.fixing)
            _overview_tab(console)
            _index_tab(console)
            _evaluation_tab(console)
    return demo


def _chat_tab(console: Console) -> None:
    with gr.Tab("Chat"):
        session = gr.State(ConsoleSession())
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
    box.submit(console.ask, [box, chat, session], [box, chat, session, why, passages], api_name="ask")
    chat.like(console.rate, [session, comment], [session, comment, rated], api_name="rate", api_visibility="undocumented")
    save_comment.click(console.comment, [session, comment], [comment, rated], api_name="comment")
    clear.click(lambda: ([], ConsoleSession(), "", "", ""), None, [chat, session, why, passages, rated], api_visibility="private")


def _feedback_tab(console: Console) -> None:
    with gr.Tab("Feedback") as tab:
        gr.Markdown("Answers rated in this console, newest first.")
        with gr.Row():
            only_negative = gr.Checkbox(label="only thumbs down", value=False)
            refresh = gr.Button("Refresh", size="sm")
        feedback = gr.Dataframe(headers=FEEDBACK_COLUMNS, wrap=True, interactive=False)
        feedback_fixes(console.fixing, tab)
    gr.on([tab.select, refresh.click, only_negative.change], console.feedback, only_negative, feedback, api_name="feedback")


def _log_tab(console: Console) -> None:
    with gr.Tab("Log") as tab:
        gr.Markdown(f"The latest {RECENT} messages from every channel, newest first, and the reply each got: an answer (and the "
                    "suggested section the visitor picked to get it), the closest sections offered, an abstention or crisis resources.")
        refresh = gr.Button("Refresh", size="sm")
        table = gr.Dataframe(headers=LOG_COLUMNS, wrap=True, interactive=False, label="Log")
    gr.on([tab.select, refresh.click], console.recent, None, table, api_name="log")


def _overview_tab(console: Console) -> None:
    with gr.Tab("Overview") as tab:
        with gr.Row():
            scope = gr.Radio(list(SCOPES), value=next(iter(SCOPES)), label="Questions from", scale=4)
            refresh = gr.Button("Refresh", size="sm", scale=1)
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
    gr.on([tab.select, refresh.click, scope.change], console.overview, scope, [summary, per_day, share, top], api_name="overview")


def _index_tab(console: Console) -> None:
    with gr.Tab("Index") as tab:
        with gr.Row():
            refresh = gr.Button("Refresh", size="sm")
            reindex = gr.Button("Re-index now", size="sm", variant="primary")
        result = gr.Markdown()
        info = gr.Markdown()
    gr.on([tab.select, refresh.click], console.index_info, None, info, api_name="index")
    reindex.click(console.reindex, None, [result, info], api_name="reindex", concurrency_limit=1)


def _evaluation_tab(console: Console) -> None:
    with gr.Tab("Evaluation"):
        gr.Markdown(
            f"Runs every case of an evaluation file (JSON Lines: id, kind, q, facts) through the bot. "
            f"Leave the upload empty to run `{console.settings.eval_file}`."
        )
        upload = gr.File(label="Evaluation file (.jsonl)", file_types=[".jsonl"], type="filepath")
        run = gr.Button("Run evaluation", variant="primary")
        summary = gr.Markdown()
        scores = gr.Dataframe(headers=SCORE_COLUMNS, label="Scores", interactive=False)
        failures = gr.Dataframe(headers=FAILURE_COLUMNS, label="Failing cases", wrap=True, interactive=False)
    run.click(console.evaluate, upload, [summary, scores, failures], api_name="evaluate")
