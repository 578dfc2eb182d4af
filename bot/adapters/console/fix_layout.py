"""The console's tabs for fixing: Unanswered (grouped, with the four actions and the Fixed
list), the fix actions under Feedback, and Changes (with undo)."""

from __future__ import annotations

import gradio as gr

from bot.adapters.console.fixing import CHANGE_COLUMNS, FIXED_COLUMNS, GROUP_COLUMNS, Fixing

INTRO = ("Questions visitors asked that the bot could not answer, grouped by meaning, the largest groups first. "
         "Pick a group, then answer it with a section (preview first), or mark it.")


def unanswered_tab(fixing: Fixing) -> None:
    with gr.Tab("Unanswered") as tab:
        gr.Markdown(INTRO)
        warning = gr.Markdown()
        refresh = gr.Button("Refresh", size="sm")
        groups = gr.Dataframe(headers=GROUP_COLUMNS, wrap=True, interactive=False, label="Unanswered, grouped")
        picker = gr.Dropdown(label="Group to fix", choices=[], value=None)
        status = fix_panel(fixing, picker, with_wrong_sentence=False)
        gr.Markdown("### Fixed\nGroups answered with a section, and what the bot replies to them now.")
        fixed = gr.Dataframe(headers=FIXED_COLUMNS, wrap=True, interactive=False, label="Fixed")
    shown = gr.on([tab.select, refresh.click], fixing.unanswered, None, [groups, picker, warning], api_name="unanswered")
    shown.then(fixing.fixed, None, fixed, api_name="fixed")
    status.change(fixing.unanswered, None, [groups, picker, warning], api_visibility="private").then(
        fixing.fixed, None, fixed, api_visibility="private")


def feedback_fixes(fixing: Fixing, tab: gr.Tab) -> None:
    """Under the Feedback table: the same actions on a rated-down answer."""
    gr.Markdown("### Fix a rated-down answer")
    picker = gr.Dropdown(label="Rated-down answer to fix", choices=[], value=None)
    fix_panel(fixing, picker, with_wrong_sentence=True)
    tab.select(fixing.negative_feedback, None, picker, api_name="negative_feedback")


def fix_panel(fixing: Fixing, picker: gr.Dropdown, *, with_wrong_sentence: bool) -> gr.Markdown:
    """The section picker, the preview and the action buttons for ``picker``'s choice; the
    status line (which changes after every action)."""
    about = gr.Markdown()
    section = gr.Dropdown(label="Section that answers it (✓ = visitors keep picking it, ★ = suggested)", choices=[], value=None)
    preview = gr.Markdown()
    with gr.Row():
        show = gr.Button("Preview the reply", size="sm")
        answer = gr.Button("Answer with this section", variant="primary", size="sm")
        not_for_bot = gr.Button("Not for the bot", size="sm")
        needs_content = gr.Button("Needs new content", size="sm")
        crisis = gr.Button("Crisis-adjacent", size="sm", variant="stop")
        wrong = gr.Button("Section right, sentence wrong", size="sm", visible=with_wrong_sentence)
    status = gr.Markdown()
    prefix = "feedback_" if with_wrong_sentence else ""
    picker.change(fixing.pick, picker, [about, section, preview], api_name=f"{prefix}pick")
    show.click(fixing.preview, [picker, section], preview, api_name=f"{prefix}preview")
    answer.click(fixing.answer, [picker, section], status, api_name=f"{prefix}answer_with_section", concurrency_limit=1)
    for button, action in [(not_for_bot, "not_for_bot"), (needs_content, "needs_content"), (crisis, "crisis"), (wrong, "wrong_sentence")]:
        button.click(_decider(fixing, action), picker, status, api_name=f"{prefix}{action}")
    return status


def _decider(fixing: Fixing, action: str):
    def decide(choice: str | None, request: gr.Request):
        return fixing.decide(choice, action, request)

    return decide


def changes_tab(fixing: Fixing) -> None:
    with gr.Tab("Changes") as tab:
        gr.Markdown("Every fix: who, when, which phrasings, which section. Undoing an answered group removes its phrasings and rebuilds the index.")
        refresh = gr.Button("Refresh", size="sm")
        table = gr.Dataframe(headers=CHANGE_COLUMNS, wrap=True, interactive=False, label="Changes")
        with gr.Row():
            picker = gr.Dropdown(label="Fix to undo", choices=[], value=None, scale=4)
            undo = gr.Button("Undo fix", variant="stop", scale=1)
        status = gr.Markdown()
    gr.on([tab.select, refresh.click], fixing.changes, None, [table, picker], api_name="changes")
    undo.click(fixing.undo, picker, status, api_name="undo", concurrency_limit=1).then(fixing.changes, None, [table, picker],
                                                                                         api_visibility="private")
