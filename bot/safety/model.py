"""The learned half of the crisis check: a small sentence classifier shipped in the repo.

It is the packaged all-MiniLM-L6-v2 cut to its first layers and fine-tuned, with a logistic
head on its mean-pooled token states, to tell a message that shows risk of suicide or
self-harm (the visitor's own or someone else's) from an ordinary one, dark words or not
(``python -m bot.safety train``; ``models/crisis/README.md`` is its model card). Fewer layers
keep its pass within a few milliseconds of a message; it reads the message as written, on
its own, before anything else is done with it.

The folder holds the transformer (``model.safetensors``, fp16, with ``config.json`` and the
tokenizer's files) and ``head.json``: the head's weights, the threshold chosen on the
tuning split and how the model was made. Nothing is fetched: transformers loads it from the
folder with ``local_files_only``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.errors import EngineError, ModelMissing
from bot.search.embedder import offline_transformers, weights_sha256
from bot.search.engines import SAME_SPACE_COSINE, PooledGraph, cosines
from bot.search.export import export_folder, export_lock, export_pooled, move_in, weights_file

logger = logging.getLogger(__name__)

HEAD_FILE = "head.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = 1


@dataclass(frozen=True, slots=True)
class Head:
    """The logistic head and what the classifier needs to read a message as it was trained."""

    weights: np.ndarray  # (hidden,)
    bias: float
    threshold: float  # a probability at or above it is a crisis
    max_length: int  # tokens read of a message

    def to_json(self, **about: object) -> dict:
        return {"format": FORMAT, "weights": [round(float(w), 7) for w in self.weights], "bias": float(self.bias),
                "threshold": float(self.threshold), "max_length": self.max_length, **about}

    @classmethod
    def from_json(cls, data: dict) -> Head:
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        return cls(np.asarray(data["weights"], np.float32), float(data["bias"]), float(data["threshold"]), int(data["max_length"]))


class CrisisModel:
    """Probability that a message shows a risk of suicide or self-harm. Thread-safe.

    ``onnx_dir``: run the transformer through ONNX Runtime, in fp32, from its export cached
    there (made once from the weights, checked against PyTorch; bot.search.engines), so a
    server on an ONNX engine never loads torch. None: PyTorch (a traced graph)."""

    def __init__(self, folder: Path | str, onnx_dir: Path | None = None) -> None:
        folder = Path(folder)
        fix = (f"restore it from the repository (git checkout -- {folder}) or retrain it with "
               f"'python -m bot.safety train --out {folder}'")
        try:
            self.head = Head.from_json(json.loads((folder / HEAD_FILE).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise ModelMissing(f"the crisis model is missing: {folder / HEAD_FILE} does not exist; {fix}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelMissing(f"the crisis model's {folder / HEAD_FILE} cannot be read ({exc}); {fix}") from None
        if not (folder / WEIGHTS_FILE).is_file():
            raise ModelMissing(f"the crisis model is missing: {folder / WEIGHTS_FILE} does not exist; {fix}")
        self.threshold = self.head.threshold
        self._graph = None
        if onnx_dir is not None:
            started = time.perf_counter()
            self._graph = PooledGraph(exported_crisis(folder, self.head, Path(onnx_dir)), folder / "tokenizer.json",
                                      self.head.max_length, threads=1)
            logger.info("crisis model loaded from %s through ONNX Runtime in %.1fs", folder, time.perf_counter() - started)
            return
        offline_transformers()
        import torch
        from transformers import AutoModel, AutoTokenizer

        started = time.perf_counter()
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            self._body = AutoModel.from_pretrained(str(folder), local_files_only=True, dtype=torch.float32).eval()
        except (OSError, ValueError) as exc:
            raise ModelMissing(f"the crisis model in {folder} cannot be loaded ({exc}); {fix}") from None
        if self._body.config.hidden_size != self.head.weights.shape[0]:
            raise ModelMissing(f"the crisis model's head does not fit its transformer in {folder}; {fix}")
        self._torch = torch
        self._lock = threading.Lock()
        self._traced = self._trace()
        logger.info("crisis model loaded from %s in %.1fs (%d layers)", folder, time.perf_counter() - started,
                    self._body.config.num_hidden_layers)

    def probability(self, texts: list[str]) -> np.ndarray:
        """One probability per text, in order."""
        if not texts:
            return np.zeros(0, np.float32)
        pooled = self._graph.run(list(texts)) if self._graph is not None else self._pooled_numpy(texts)
        logits = pooled.astype(np.float64) @ self.head.weights.astype(np.float64) + self.head.bias
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def _pooled_numpy(self, texts: list[str]) -> np.ndarray:
        """The pooled token states of ``texts`` through PyTorch."""
        torch = self._torch
        with self._lock, torch.inference_mode():
            batch = self._tokenizer(list(texts), padding=True, truncation=True, max_length=self.head.max_length, return_tensors="pt")
            return self._pooled(batch).numpy()

    def _pooled(self, batch):
        """The mean of the token states over the attention mask: one pass through the body."""
        if self._traced is not None:
            return self._traced(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        return _mean_pooled_class()(self._body)(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])

    # Texts the traced graph must score as the eager model does before it is used: one alone,
    # several of different lengths (padding), and one longer than the example traced.
    TRACE_CHECK = ("how much is it?", "i dont want to wake up tomorrow",
                   "My mom is getting her first infusion on Tuesday and I am picking her up afterwards; can I wait in the room with her?")

    def _trace(self):
        """The body and its pooling as a frozen TorchScript graph, as the served model runs
        (bot/search/embedder.py): a pass over one message without the Python of its module
        calls. None (eager) when tracing fails or the graph's values differ from eager."""
        import warnings

        torch = self._torch
        try:
            pooled = _mean_pooled_class()(self._body).eval()
            example = self._tokenizer(["a short one", "a somewhat longer example text to pad the first"], padding=True, return_tensors="pt")
            inputs = (example["input_ids"], example["attention_mask"], example["token_type_ids"])
            with warnings.catch_warnings(), torch.inference_mode():
                warnings.simplefilter("ignore")
                traced = torch.jit.freeze(torch.jit.trace(pooled, inputs, check_trace=False))
                difference = 0.0
                for texts in ([self.TRACE_CHECK[0]], list(self.TRACE_CHECK)):
                    batch = self._tokenizer(texts, padding=True, truncation=True, max_length=self.head.max_length, return_tensors="pt")
                    args = (batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
                    difference = max(difference, float((traced(*args) - pooled(*args)).abs().max()))
        except Exception as exc:  # an unusual torch build: eager is always right
            logger.warning("the crisis model cannot be traced (%s); running it eagerly", exc)
            return None
        if difference > 1e-4:
            logger.warning("the traced crisis model differs from the eager one by %.2g; running it eagerly", difference)
            return None
        return traced


@lru_cache(maxsize=1)
def _mean_pooled_class():
    import torch  # here: reading head.json needs no torch

    class MeanPooled(torch.nn.Module):
        """The crisis model's body and the mean of its token states over the attention mask."""

        def __init__(self, body: torch.nn.Module) -> None:
            super().__init__()
            self.body = body

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.body(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            states = out[0] if isinstance(out, tuple) else out.last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            return (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    return MeanPooled


def exported_crisis(folder: Path, head: Head, onnx_dir: Path) -> Path:
    """The crisis model's transformer as an fp32 ONNX graph (its mean-pooled token states),
    cached in ``onnx_dir`` under the hash of its weights: exported once from ``folder``, and
    refused unless it scores the check messages as PyTorch does."""
    out = export_folder(onnx_dir, f"crisis@{weights_sha256(folder)[:16]}")
    graph = out / "fp32.onnx"
    if graph.is_file() and weights_file(graph).is_file():
        return graph
    try:
        out.mkdir(parents=True, exist_ok=True)
        with export_lock(out):  # a second process waits, then finds it made
            if not (graph.is_file() and weights_file(graph).is_file()):
                _export_crisis(folder, head, out / f".fp32.{os.getpid()}.onnx", graph)
    except OSError as exc:
        raise EngineError(f"cannot write the crisis model's ONNX export in {out} ({exc}): make it writable, point "
                          "FAQBOT_ONNX_DIR elsewhere, or set FAQBOT_ENGINE=torch") from None
    return graph


def _export_crisis(folder: Path, head: Head, tmp: Path, graph: Path) -> None:
    try:
        model = CrisisModel(folder)  # PyTorch, to export from and to check against
        example = model._tokenizer(["a short one", "a somewhat longer example text to pad the first"], padding=True,
                                   return_tensors="pt")
        export_pooled(_mean_pooled_class()(model._body).eval(), example, tmp)
        runner = PooledGraph(tmp, folder / "tokenizer.json", head.max_length, threads=1)
        texts = list(CrisisModel.TRACE_CHECK)
        got, want = runner.run(texts), model._pooled_numpy(texts)
        cosine = cosines(got, want)
        if float(cosine.min()) < SAME_SPACE_COSINE:
            raise EngineError(f"the ONNX export of the crisis model in {folder} differs from PyTorch (cosine "
                              f"{cosine.min():.6f}): set FAQBOT_ENGINE=torch")
        move_in(tmp, graph)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info("exported the crisis model to %s", graph)
