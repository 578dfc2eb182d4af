"""The Gradio console for staff: chat as a visitor would and see why the bot answered."""

from __future__ import annotations

import logging

import gradio as gr

from ..inputs import ChatRequest, InvalidRequest
from ..replies import Reply, Turn
from ..runtime import BotHolder

logger = logging.getLogger(__name__)

PASSAGE_COLUMNS = ["used", "section", "dense", "lexical", "coverage", "passage"]


def format_reply(reply: Reply) -> str:
    """The answer as Markdown with its citations as links."""
    text = reply.answer
    if reply.crisis:
        text = f"**Crisis resources**\n\n{text}"
    if reply.citations:
        links = "\n".join(f"- [{c.section}]({c.url}) (score {c.score:.2f})" for c in reply.citations)
        text = f"{text}\n\n**Sources**\n{links}"
    return text


def passage_rows(reply: Reply) -> list[list]:
    return [[p["used"], p["section"], p["dense"], p["lexical"], p["coverage"], p["text"]] for p in reply.passages]


def build_ui(holder: BotHolder) -> gr.Blocks:
    settings = holder.settings

    def respond(message: str, chat: list[dict], turns: list[dict]):
        chat = list(chat or [])
        turns = list(turns or [])
        try:
            request = ChatRequest.parse({"message": message or "", "history": turns}, settings)
        except InvalidRequest as exc:
            gr.Warning(str(exc))
            return "", chat, turns, gr.update(), gr.update()
        bot = holder.bot
        if bot is None:
            gr.Warning("The bot is still loading; try again in a few seconds.")
            return message, chat, turns, gr.update(), gr.update()
        reply = bot.answer(request.message, request.history)
        chat += [{"role": "user", "content": request.message}, {"role": "assistant", "content": format_reply(reply)}]
        turns += [{"role": "user", "content": request.message}, {"role": "assistant", "content": reply.answer}]
        state = "crisis" if reply.crisis else "abstained" if reply.abstained else "answered"
        why = f"**{state}**: {reply.reason}\n\nsearched for: `{reply.query or request.message}`"
        return "", chat, turns, why, passage_rows(reply)

    with gr.Blocks(title="FAQ bot · staff console", analytics_enabled=False) as demo:
        gr.Markdown("## Clinic FAQ bot: staff console\nAsk as a visitor would; the panel shows the passages behind the last answer.")
        turns = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Conversation", height=480)
                box = gr.Textbox(label="Question", placeholder="How much does it cost?", submit_btn=True)
                clear = gr.Button("New conversation", variant="secondary")
            with gr.Column(scale=2):
                why = gr.Markdown(label="Why")
                passages = gr.Dataframe(headers=PASSAGE_COLUMNS, label="Passages retrieved", wrap=True, interactive=False)
        box.submit(respond, [box, chat, turns], [box, chat, turns, why, passages])
        clear.click(lambda: ([], [], "", []), None, [chat, turns, why, passages])
    return demo


__all__ = ["build_ui", "format_reply", "Turn"]
