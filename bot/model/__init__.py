"""The retrieval model adapted to clinic questions: its training collection, its training
(``python -m bot.model train``, ``make model``) and how well it finds the passage that
answers (``python -m bot.model measure``). The bot loads the result like the packaged model
(bot.search.embedder); nothing here runs while it serves."""
