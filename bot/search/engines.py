"""The engine that runs the embedding model: PyTorch, or ONNX Runtime in fp32 or int8.

``torch`` runs the model as sentence-transformers loads it (a traced TorchScript graph in a
server). ``onnx`` and ``onnx-int8`` run the same model exported to ONNX, the second with its
weights quantized to int8 (dynamic quantization: weights per output channel, activations
quantized on the fly), through ONNX Runtime, with the tokenizer of the ``tokenizers``
library: a process serving with them never imports torch or sentence-transformers, which
is most of a server's memory and start-up time (docs/BENCHMARKS.md has the figures).

**Export.** An ONNX engine needs its graph: exported once from the model's own weights at
the first index build or start that asks for it (torch is loaded for that only), checked
against PyTorch, and cached in ``settings.onnx_dir`` under the model's name (which holds its
weights' hash), so a retrained model gets its own export. Nothing is fetched.

**One vector space.** An index is served only by vectors that agree with the ones it was
built with. ``torch`` and ``onnx`` compute the same vectors (every check text's cosine
between the two at least :data:`SAME_SPACE_COSINE`, measured at export: an export that
misses it is refused) and share a space, so either serves the other's index. int8 weights
move a vector by about a hundredth (cosine ~0.99): ``onnx-int8`` is its own space, its name
carries ``+int8``, and an index built with another engine is rebuilt before it serves.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.errors import EngineError
from bot.search.embedder import (
    DEFAULT_EMBEDDING_MODEL,
    Embedder,
    MiniLMEmbedder,
    model_folder,
    model_name,
)
from bot.settings import ENGINES, Settings

logger = logging.getLogger(__name__)

TORCH = "torch"
ONNX = "onnx"
ONNX_INT8 = "onnx-int8"
# ENGINES (bot.settings) lists the three, so a setting is checked where it is read.

# Two engines share a vector space when, for every check text, the cosine between their
# vectors is at least this (fp32 ONNX against PyTorch measures 0.9999998 or closer).
SAME_SPACE_COSINE = 0.99999
INT8_SPACE = "+int8"  # what an int8 engine's name adds to the model's

META_FORMAT = 2  # of the JSON an export writes beside its graph (<engine>.json); 2: weights apart

# Texts an export is checked on: short and long, a typo, a paragraph of a clinic's page.
CHECK_TEXTS = (
    "How much does it cost?",
    "cost",
    "do i need a referral from my doctor",
    "wat are the side efects",
    "Hi there! I have been reading about ketamine infusions for treatment-resistant depression and wanted "
    "to ask whether insurance covers any part of a series of six infusions, and what I pay if it does not.",
    "Most patients feel relaxed or slightly detached during the infusion. These effects fade within an hour "
    "or two after it ends, and a staff member monitors your blood pressure and breathing the whole time.",
    "Can I drive home afterwards?",
    "We are open Monday to Friday from 8 am to 6 pm, and on Saturdays by appointment.",
)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The cosine between each row of ``a`` and the same row of ``b``: how an export is
    compared with PyTorch."""
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def check_engine(engine: str) -> str:
    """``engine`` if it names an engine; otherwise :class:`EngineError` saying which do."""
    if engine not in ENGINES:
        raise EngineError(f"FAQBOT_ENGINE={engine!r} is not an engine: use one of {', '.join(ENGINES)}")
    return engine


def space_name(model: str | Path, engine: str) -> str:
    """The name an index built by ``engine`` running ``model`` records: the model's name,
    plus ``+int8`` for the int8 engine (its vectors are another space)."""
    return model_name(model) + (INT8_SPACE if check_engine(engine) == ONNX_INT8 else "")


def model_of(name: str) -> str:
    """The model's own name in a space's name (what an answerability fit records: thresholds
    fit on a model's fp32 vectors serve its int8 ones, as docs/EVALUATION.md measures)."""
    return name.removesuffix(INT8_SPACE)


def open_embedder(model: str | Path = DEFAULT_EMBEDDING_MODEL, engine: str = TORCH, *, onnx_dir: Path,
                  threads: int | None = None, passes: int = 1, traced: bool = False) -> Embedder:
    """The model ``model`` run by ``engine``; an ONNX engine exports the model first when
    ``onnx_dir`` does not hold its export yet. ``threads``: per pass (None: the library's
    default); ``passes``: how many encodes may run at once."""
    if check_engine(engine) == TORCH:
        return MiniLMEmbedder(threads=threads, traced=traced, passes=passes, model=model)
    from bot.search.export import exported  # torch is imported only to export

    return OnnxEmbedder(exported(model, engine, onnx_dir), model, engine, threads=threads, passes=passes)


def embedder_for(settings: Settings, *, threads: int | None = None, passes: int = 1, traced: bool = False) -> Embedder:
    """The model ``settings`` name on the engine they name (see :func:`open_embedder`)."""
    return open_embedder(settings.embedding_model, settings.engine, onnx_dir=settings.onnx_dir, threads=threads,
                         passes=passes, traced=traced)


# -- running an exported graph ---------------------------------------------------------------

class PooledGraph:
    """An exported graph of a transformer and its mean pooling, run by ONNX Runtime on the
    model's own tokenizer (``tokenizer.json``): texts in, one float32 row per text out.
    Thread-safe; up to ``passes`` runs at once, each on ``threads`` threads."""

    def __init__(self, graph: Path, tokenizer_file: Path, max_length: int, threads: int | None = None,
                 passes: int = 1) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.enable_truncation(max_length=max_length)
        pad = self.tokenizer.padding or {}
        self.tokenizer.enable_padding(pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0: ONNX Runtime's default, one per core
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        self.session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._lock = threading.BoundedSemaphore(max(1, passes))

    def run(self, texts: list[str]) -> np.ndarray:
        # sentence-transformers strips each text before tokenizing it; so do we.
        encodings = self.tokenizer.encode_batch([t.strip() for t in texts])
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        with self._lock:
            (out,) = self.session.run(None, {k: v for k, v in feed.items() if k in self._inputs})
        return out


class OnnxEmbedder:
    """The embedding model through ONNX Runtime (``onnx`` or ``onnx-int8``): the
    :class:`~bot.search.embedder.Embedder` a server runs without torch."""

    dim = 384
    BATCH = 32  # texts per pass in a bulk encode (an index build), sorted by length

    def __init__(self, graph: Path, model: str | Path, engine: str, threads: int | None = None, passes: int = 1) -> None:
        meta = read_meta(graph)
        self.engine = engine
        self.name = space_name(model, engine)
        started = time.perf_counter()
        self._graph = PooledGraph(graph, model_folder(model) / "tokenizer.json", meta.max_length, threads, passes)
        self.dim = meta.dim
        logger.info("loaded %s through ONNX Runtime (%s) in %.1fs", self.name, graph.name, time.perf_counter() - started)

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        if len(texts) <= self.BATCH:
            return np.ascontiguousarray(self._graph.run(texts), dtype=np.float32)
        # Longest first, in batches of similar length: little padding, as sentence-transformers does.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors = np.empty((len(texts), self.dim), np.float32)
        for start in range(0, len(order), self.BATCH):
            rows = order[start:start + self.BATCH]
            vectors[rows] = self._graph.run([texts[i] for i in rows])
        return vectors

    def known_words(self) -> frozenset[str]:
        vocab = self._graph.tokenizer.get_vocab()
        return frozenset(w for w in vocab if w.isalpha() and w.islower())

    def frequent_words(self, n: int) -> list[str]:
        """The tokenizer's ``n`` most frequent whole words (its vocabulary is numbered by
        frequency), as :meth:`MiniLMEmbedder.frequent_words`."""
        ordered = sorted(self._graph.tokenizer.get_vocab().items(), key=lambda item: item[1])
        return [w for w, _ in ordered if w.isascii() and w.isalpha() and w.islower()][:n]


# -- what an export records ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ExportMeta:
    """What an export records beside its graph (``<engine>.json``)."""

    engine: str
    model: str  # the model's name (its weights' hash)
    dim: int
    max_length: int  # tokens read of a text, as the model was configured
    cosine_min: float  # against PyTorch, over CHECK_TEXTS
    cosine_mean: float
    seconds: float  # export time

    def to_json(self) -> dict:
        import onnxruntime

        return {"format": META_FORMAT, "engine": self.engine, "model": self.model, "dim": self.dim,
                "max_length": self.max_length, "cosine_min": self.cosine_min, "cosine_mean": self.cosine_mean,
                "seconds": round(self.seconds, 2), "onnxruntime": onnxruntime.__version__}


def read_meta(graph: Path) -> ExportMeta:
    data = json.loads(graph.with_suffix(".json").read_text(encoding="utf-8"))
    if data.get("format") != META_FORMAT:
        raise ValueError(f"format {data.get('format')!r}, expected {META_FORMAT}")
    return ExportMeta(data["engine"], data["model"], int(data["dim"]), int(data["max_length"]),
                      float(data["cosine_min"]), float(data["cosine_mean"]), float(data["seconds"]))
