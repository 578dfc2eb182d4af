"""A retrieval FAQ bot that answers from a clinic's own articles, with citations.

The package is the library core: corpus reading, chunking, embedding, the index,
retrieval, answer composition and safety. The HTTP API, the Gradio staff console and
the command line are thin adapters around :class:`bot.service.Bot`.
"""

__version__ = "0.1.0"
