"""A deterministic embedder for fast tests: no model, the same vector for the same words."""

from __future__ import annotations

import hashlib

import numpy as np

from bot.ingest.text import content_terms


class HashEmbedder:
    """Deterministic bag-of-words embedder for fast unit tests (not for serving).

    Each word maps to a pseudo-random direction seeded by its SHA-256, so texts that share
    words get similar vectors and the same text always gets the same vector.
    """

    name = "hash-embedder"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

    def known_words(self) -> frozenset[str]:
        return frozenset()

    def frequent_words(self, n: int) -> list[str]:
        return []

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for term in content_terms(text) or ["<empty>"]:
                out[i] += self._word(term)
            out[i] /= np.linalg.norm(out[i]) or 1.0
        return out
