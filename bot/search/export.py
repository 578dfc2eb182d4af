"""Exporting the models to ONNX, once, for the ONNX engines (bot/search/engines.py).

The graph is the model's transformer with its mean pooling (and, for the retrieval model,
normalisation), written by torch's ONNX exporter from the weights on disk; ``onnx-int8``
then quantizes it with ONNX Runtime's dynamic quantization. Each export is checked against
PyTorch on :data:`~bot.search.engines.CHECK_TEXTS` before it is moved in, and records what
it measured beside the graph (``<engine>.json``). This is the only place an ONNX engine
needs torch.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from bot.errors import EngineError
from bot.search.embedder import MiniLMEmbedder, _mean_pooled_class, model_folder, model_name
from bot.search.engines import (
    CHECK_TEXTS,
    ONNX,
    ONNX_INT8,
    SAME_SPACE_COSINE,
    ExportMeta,
    PooledGraph,
    check_engine,
    cosines,
    read_meta,
)

logger = logging.getLogger(__name__)


def export_folder(onnx_dir: Path, name: str) -> Path:
    """Where the exports of the model called ``name`` are cached."""
    return Path(onnx_dir) / re.sub(r"[^A-Za-z0-9._@+-]", "_", name)


def exported(model: str | Path, engine: str, onnx_dir: Path) -> Path:
    """The ONNX graph of ``model`` for ``engine``: the cached export, or a new one (once; a
    second process waits for the first). Raises :class:`EngineError` when it cannot be made."""
    check_engine(engine)
    name = model_name(model)
    folder = export_folder(onnx_dir, name)
    graph = folder / f"{engine}.onnx"
    if _usable(graph, name):
        return graph
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with export_lock(folder):
            if _usable(graph, name):
                return graph
            _export(model, name, engine, graph)
    except OSError as exc:
        raise EngineError(f"cannot write the ONNX export of {name} in {folder} ({exc}): make the folder writable, "
                          f"point FAQBOT_ONNX_DIR at one that is, or set FAQBOT_ENGINE=torch") from None
    return graph


def _usable(graph: Path, name: str) -> bool:
    try:
        meta = read_meta(graph)
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return graph.is_file() and weights_file(graph).is_file() and meta.model == name


@contextmanager
def export_lock(folder: Path):
    with open(folder / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def _export(model: str | Path, name: str, engine: str, graph: Path) -> None:
    """Export ``model`` (transformer, mean pooling, normalisation) with torch's ONNX
    exporter, quantize it for ``onnx-int8``, check it against PyTorch, then move it in."""
    started = time.perf_counter()
    logger.info("exporting %s to ONNX for the %s engine (once; cached in %s)", name, engine, graph.parent)
    torch_model = MiniLMEmbedder(model=model)
    st = torch_model._model
    tmp = f".{graph.stem}.{uuid.uuid4().hex[:8]}"  # the files being written start with it
    fp32 = graph.with_name(f"{tmp}.fp32.onnx")
    try:
        example = st.preprocess(["a short one", "a somewhat longer example text to pad the first"])
        export_pooled(_mean_pooled_class()(st[0].auto_model).eval(), example, fp32)
        path = fp32
        if engine == ONNX_INT8:
            path = graph.with_name(f"{tmp}.int8.onnx")
            quantize_int8(fp32, path)
        max_length = int(st.max_seq_length)
        runner = PooledGraph(path, model_folder(model) / "tokenizer.json", max_length)
        texts = list(CHECK_TEXTS)
        cosine = cosines(runner.run(texts), torch_model.encode(texts))
        if engine == ONNX and float(cosine.min()) < SAME_SPACE_COSINE:
            raise EngineError(f"the ONNX export of {name} computes other vectors than PyTorch (cosine {cosine.min():.6f} "
                              f"< {SAME_SPACE_COSINE}): serve it with FAQBOT_ENGINE=torch, and report the versions of "
                              "torch and onnxruntime")
        meta = ExportMeta(engine, name, int(st.get_embedding_dimension()), max_length, float(cosine.min()),
                          float(cosine.mean()), time.perf_counter() - started)
        move_in(path, graph)
        graph.with_suffix(".json").write_text(json.dumps(meta.to_json(), indent=1) + "\n", encoding="utf-8")
    finally:
        for leftover in graph.parent.glob(f"{tmp}.*"):
            leftover.unlink(missing_ok=True)
    logger.info("exported %s for %s in %.1fs (cosine with PyTorch: min %.6f, mean %.6f)",
                name, engine, meta.seconds, meta.cosine_min, meta.cosine_mean)


def weights_file(graph: Path) -> Path:
    """The file beside ``graph`` that holds its weights (see :func:`move_in`)."""
    return graph.with_name(graph.name + ".data")


def move_in(source: Path, graph: Path) -> None:
    """Write the ONNX graph ``source`` as ``graph``, its weights in :func:`weights_file`, then
    delete ``source``. ONNX Runtime maps weights kept apart from the graph instead of reading
    the whole file in and copying the weights out of it: a server's peak memory is the size
    of the weights once, not twice (84 MiB less for the retrieval model). Both files are
    written under temporary names and renamed into place, the graph last."""
    import onnx

    model = onnx.load(str(source))
    staging = graph.parent / f".{graph.name}.{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        onnx.save_model(model, str(staging / graph.name), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=weights_file(graph).name, size_threshold=1024)
        os.chmod(staging / weights_file(graph).name, 0o644)  # as readable as the graph
        os.replace(staging / weights_file(graph).name, weights_file(graph))
        os.replace(staging / graph.name, graph)
    finally:
        for leftover in staging.iterdir():
            leftover.unlink()
        staging.rmdir()
    source.unlink(missing_ok=True)


def export_pooled(module, example: dict, path: Path) -> None:
    """Write ``module(input_ids, attention_mask, token_type_ids)`` as an ONNX graph whose
    batch size and length are dynamic (torch's TorchScript-based exporter, opset 17)."""
    import warnings

    import torch

    names = ["input_ids", "attention_mask", "token_type_ids"]
    dynamic = {n: {0: "batch", 1: "tokens"} for n in names}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the exporter's notes on tracing transformers' Python branches
        torch.onnx.export(module, tuple(example[n] for n in names), str(path), input_names=names,
                          output_names=["pooled"], dynamic_axes={**dynamic, "pooled": {0: "batch"}},
                          opset_version=17, dynamo=False)


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantization, as optimum's ``AutoQuantizationConfig.avx512_vnni(is_static=
    False)`` sets ONNX Runtime up: signed int8 weights, one scale per output channel,
    activations quantized per pass."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    quiet = _Quiet()  # its advice to pre-process the graph first, which changes nothing here
    root.addFilter(quiet)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.removeFilter(quiet)


class _Quiet(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR
