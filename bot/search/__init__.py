"""Embedding and the index: the model that turns text into vectors, and the FAISS index of
the corpus's passages, built beside the served one and swapped in atomically."""

from bot.search.embedder import Embedder, MiniLMEmbedder
from bot.search.index import build
from bot.search.load import LoadedIndex, load_index
from bot.search.reindex import reindex

__all__ = ["Embedder", "LoadedIndex", "MiniLMEmbedder", "build", "load_index", "reindex"]
