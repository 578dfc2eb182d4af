"""The console's fixes: the Unanswered view grouped by meaning, the four actions on a group
(and on a rated-down answer), the Fixed list and the Changes view with undo.

Each method returns what the page shows, so tests drive them without a browser; the staff
user is the signed-in one (``gr.Request.username``). The work is :class:`Curator`'s."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import gradio as gr
import pandas as pd

from bot.adapters.console.text import clip, format_reply, read_log, when
from bot.curation.service import Curator, FixRefused, NotServed
from bot.errors import BotError
from bot.store.curation import ACTIONS, Pick, fixes

logger = logging.getLogger(__name__)

GROUP_COLUMNS = ["asked", "question", "last seen (UTC)", "channels", "also asked as", "crisis replies", "got suggestions",
                 "visitors picked"]
FIXED_COLUMNS = ["fix", "when (UTC)", "by", "phrasings", "section", "the bot now replies"]
CHANGE_COLUMNS = ["fix", "when (UTC)", "by", "action", "phrasings", "section", "asked", "similar since", "status"]
NO_SIGN_IN = "console (no sign-in)"


@dataclass(frozen=True, slots=True)
class Target:
    """What a fix is about: the visitors' phrasings, how often they were asked, whether any
    got crisis resources, the section they were answered from (for feedback)."""

    phrasings: tuple[str, ...]
    asked: int
    crisis: int
    origin: str
    cited: str | None = None
    picks: tuple[Pick, ...] = ()  # the suggested sections visitors picked (a group), most picked first
    favourite: Pick | None = None  # the one they keep picking (bot.curation.groups.KEEP_PICKING)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~&])")


def escape(text: str) -> str:
    """Visitors' text shown as typed in Markdown: no link, image, HTML or emphasis of theirs."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def picks_text(picks: tuple[Pick, ...]) -> str:
    """The sections visitors picked among the suggestions: "Cost ×3 · Insurance ×1"."""
    return " · ".join(f"{p.section} ×{p.count}" for p in picks)


def staff_of(request: gr.Request | None) -> str:
    return (getattr(request, "username", None) or NO_SIGN_IN) if request is not None else NO_SIGN_IN


class Fixing:
    """The fix actions of the console, on one :class:`Curator`."""

    def __init__(self, curator: Curator) -> None:
        self.curator = curator

    # --- what a fix is about ------------------------------------------------------------

    def _target(self, choice: str | None) -> Target:
        """``choice``: "group:<id>" from Unanswered or "feedback:<id>" from Feedback."""
        kind, _, ident = (choice or "").partition(":")
        if kind == "group":
            group = self.curator.group(ident)
            return Target(group.phrasings, group.count, group.crisis, "unanswered", picks=group.picks, favourite=group.favourite)
        if kind == "feedback":
            store = self.curator.require_store()
            item = next((f for f in store.feedback(only_negative=True) if str(f.id) == ident), None)
            if item is None or not item.question:
                raise FixRefused("that rated answer is no longer stored (or its question was not logged): refresh the list")
            return Target((item.question,), 1, int(item.crisis), "feedback", "; ".join(item.sections) or None)
        raise FixRefused("pick a group (or a rated-down answer) first")

    # --- Unanswered -----------------------------------------------------------------------

    def unanswered(self):
        """(groups table, group picker, questions-file warning)."""
        try:
            grouped = self.curator.unanswered()
        except BotError as exc:
            return pd.DataFrame(columns=GROUP_COLUMNS), gr.update(choices=[], value=None), f"⚠ {exc}"
        rows = [[g.count, g.typical, when(g.last), ", ".join(g.channels), " | ".join(g.phrasings[1:6]),
                 f"⚠ {g.crisis}" if g.crisis else "", g.suggested, picks_text(g.picks)] for g in grouped.groups]
        choices = [(f"{g.typical} (asked {g.count}×{', crisis replies' if g.crisis else ''}"
                    f"{f', visitors keep picking {g.favourite.section}' if g.favourite and not g.crisis else ''})", f"group:{g.id}")
                   for g in grouped.groups]
        return pd.DataFrame(rows, columns=GROUP_COLUMNS), gr.update(choices=choices, value=None), self._file_warning()

    def negative_feedback(self):
        """The rated-down answers as picker choices."""
        items = read_log(self.curator.store, lambda store: store.feedback(only_negative=True))
        choices = [(f"{clip(f.question or '(not logged)', 80)} · {when(f.at)}", f"feedback:{f.id}") for f in items if f.question]
        return gr.update(choices=choices, value=None)

    def pick(self, choice: str | None):
        """(what the fix is about, section picker with the three likeliest first, preview)."""
        if not choice:
            return "", gr.update(choices=[], value=None), ""
        try:
            target = self._target(choice)
            favourite = self.curator.section_for(target.favourite.key) if target.favourite and not target.crisis else None
            suggested = [s for s in self.curator.suggest(target.phrasings[0]) if s != favourite]
            rest = [s for s in self.curator.sections() if s not in suggested and s != favourite]
        except BotError as exc:
            return f"⚠ {exc}", gr.update(choices=[], value=None), ""
        choices = [(f"✓ picked by visitors {target.favourite.count}×: {favourite.label}", favourite.value)] if favourite else []
        choices += [(f"★ {s.label}", s.value) for s in suggested] + [(s.label, s.value) for s in rest]
        lines = [f"**{escape(target.phrasings[0])}**: asked {target.asked}×"]
        lines += [f"- {escape(p)}" for p in target.phrasings[1:8]]
        if target.cited:
            lines.append(f"The bot answered from: {escape(target.cited)}")
        if target.picks:
            lines.append(f"Offered the closest sections instead of an answer, visitors picked: {escape(picks_text(target.picks))}")
        if favourite:
            lines.append(f"Visitors keep picking **{escape(target.favourite.section)}**: it is first below. "
                         "Preview the reply, then answer the group with it if it is right.")
        if target.crisis:
            lines.append("⚠ **Crisis-adjacent**: some of these messages got crisis resources, so this group cannot be answered with a section.")
        first = choices[0][1] if favourite or suggested else None
        return "\n".join(lines), gr.update(choices=choices, value=first), ""

    def preview(self, choice: str | None, section: str | None) -> str:
        """The exact reply the bot would give once the fix is saved, with its citation."""
        if not section:
            return "Pick a section first."
        try:
            target = self._target(choice)
            reply = self.curator.preview(target.phrasings, section)
        except BotError as exc:
            return f"⚠ {exc}"
        head = "**Preview**: once saved, the bot replies to" if not reply.abstained else "⚠ **Preview**: even then, the bot abstains on"
        return f"{head} _{escape(target.phrasings[0])}_:\n\n{format_reply(reply)}"

    def answer(self, choice: str | None, section: str | None, request: gr.Request = None) -> str:
        """Save "Answer with a section": the group's phrasings point to ``section``."""
        if not section:
            return "⚠ Pick a section first."
        try:
            target = self._target(choice)
            fix = self.curator.answer_with(target.phrasings, target.asked, section, staff_of(request),
                                           crisis=target.crisis, origin=target.origin)
        except NotServed as exc:
            return f"⚠ Saved in questions.yaml, but not served yet: {exc}. See the Index tab."
        except BotError as exc:
            return f"⚠ Not saved: {exc}"
        return (f"✓ Fix {fix.id} saved: {len(fix.phrasings)} phrasing(s) now point to {section}, and the index was rebuilt. "
                "It is listed under Fixed below and in Changes.")

    def decide(self, choice: str | None, action: str, request: gr.Request = None) -> str:
        try:
            target = self._target(choice)
            section = target.cited if action == "wrong_sentence" else None
            fix = self.curator.decide(target.phrasings, target.asked, action, staff_of(request), section=section, origin=target.origin)
        except BotError as exc:
            return f"⚠ Not saved: {exc}"
        later = " Similar questions asked later are counted under it." if action in ("not_for_bot", "needs_content", "crisis") else ""
        todo = " It is on the maintainers' to-do list (python -m bot gaps export)." if action in ("needs_content", "wrong_sentence") else ""
        return f"✓ Fix {fix.id}: marked **{ACTIONS[action]}**.{later}{todo}"

    def fixed(self) -> pd.DataFrame:
        """Groups answered with a section, with the bot's reply now."""
        rows = []
        bot = self.curator.holder.bot
        for fix in read_log(self.curator.store, lambda store: fixes(store, active_only=True)):
            if fix.action != "answer":
                continue
            now = bot.answer(fix.phrasings[0]) if bot is not None else None
            reply = "(loading)" if now is None else ("[abstained] " if now.abstained else "") + clip(now.answer, 240)
            if now is not None and now.citations:
                reply += f" [{now.citations[0].section}]"
            rows.append([fix.id, when(fix.at), fix.staff, " | ".join(fix.phrasings), fix.section, reply])
        return pd.DataFrame(rows, columns=FIXED_COLUMNS)

    # --- Changes -------------------------------------------------------------------------

    def changes(self):
        """(every fix, newest first, with its status; the undo picker)."""
        try:
            statuses = self.curator.changes()
            since = self.curator.counted_since()
        except BotError as exc:
            return pd.DataFrame([[None, "", "", "", "", "", None, None, f"⚠ {exc}"]], columns=CHANGE_COLUMNS), gr.update(choices=[])
        rows, choices = [], []
        for s in statuses:
            f = s.fix
            status = f"undone by {f.undone_by}, {when(f.undone_at)}" if not f.active else f"⚠ needs attention: {s.needs_attention}" \
                if s.needs_attention else "active"
            rows.append([f.id, when(f.at), f.staff, ACTIONS[f.action], " | ".join(f.phrasings), f.section or "", f.asked,
                         since.get(f.id, 0), status])
            if f.active:
                choices.append((f"fix {f.id}: {ACTIONS[f.action]}: {clip(f.phrasings[0], 60)}", f.id))
        return pd.DataFrame(rows, columns=CHANGE_COLUMNS), gr.update(choices=choices, value=None)

    def undo(self, fix_id: int | None, request: gr.Request = None) -> str:
        if fix_id is None:
            return "⚠ Pick a fix to undo."
        try:
            fix, change = self.curator.undo(int(fix_id), staff_of(request))
        except NotServed as exc:
            return f"⚠ Undone in questions.yaml, but not served yet: {exc}. See the Index tab."
        except BotError as exc:
            return f"⚠ Not undone: {exc}"
        removed = f" {len(change.changed)} phrasing(s) removed from questions.yaml and the index rebuilt." if change and change.changed else ""
        return f"✓ Fix {fix.id} undone.{removed}"

    def _file_warning(self) -> str:
        error = self.curator.questions_file_error()
        if error is None:
            return ""
        return f"⚠ **questions.yaml is broken**: {error}. Fixes are refused until a maintainer repairs it."
