"""Reading the clinic's content: Markdown, plain text and HTML files become documents,
sections and passages, with the curated phrasings and vocabulary that sit beside them."""

from bot.ingest.corpus import Chunk, Document, Section, chunk_document, load_chunks, load_corpus

__all__ = ["Chunk", "Document", "Section", "chunk_document", "load_chunks", "load_corpus"]
