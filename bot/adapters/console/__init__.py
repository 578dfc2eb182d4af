"""The Gradio console for staff, at ``/``.

- Chat: ask as a visitor would; each answer shows its citations as links, the side panel
  shows the passages behind the last answer (section, scores, which were quoted) and why
  the bot answered, abstained or gave crisis resources. Thumbs up / down on any answer,
  with an optional comment, are stored.
- Unanswered: visitors' questions the bot did not answer (abstained, or offered the
  closest sections), grouped by meaning, most asked first, with the sections visitors
  picked among those offered: what to write new content from.
- Feedback: the rated answers, newest first.
- Log: the latest messages and the kind of reply each got (suggestions offered, the
  section picked).
- Overview: questions per day, the share abstained and the most cited sections.
- Index: what is being served, and whether the corpus on disk is newer.
- Evaluation: run an evaluation file and see the scores and the failing cases.

:class:`Console` holds one handler per action, so tests drive them without a browser;
:func:`build_ui` lays them out. The console records its own chats as channel ``staff``.
"""

from bot.adapters.console.actions import Console, ConsoleSession
from bot.adapters.console.layout import build_ui
from bot.adapters.console.signin import OpenConsoleRefused, staff_auth
from bot.adapters.console.text import format_reply

__all__ = ["Console", "ConsoleSession", "OpenConsoleRefused", "build_ui", "format_reply", "staff_auth"]
