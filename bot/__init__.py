"""A retrieval FAQ bot that answers from a clinic's own pages, with citations.

A question passes down the stages, each a sub-package (imports only go down this list):

- ``bot.adapters``: the HTTP API, the widget, the Gradio staff console and the command line;
- ``bot.evaluation``: evaluation files and corpora scored through the bot (and the model fit);
- ``bot.serve``: one process's serving machinery (the bot it holds, caches, batching,
  request checks, rate limits);
- ``bot.store``: the question log, ratings and redaction (SQLite);
- ``bot.answer``: one message to one reply (crisis check, follow-ups, retrieval, composing);
- ``bot.search``: the embedding model and the FAISS index, built and re-built;
- ``bot.ingest``: the clinic's files (Markdown, text, HTML) read into sections and passages.

Beneath them all: ``bot.settings`` (the one settings object), ``bot.errors`` and
``bot.replies`` (the values every stage passes on). See docs/ARCHITECTURE.md.
"""

__version__ = "0.1.0"
