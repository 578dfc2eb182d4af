"""What the thread settings and micro-batching buy, measured side by side.

    python -m bench.threads [--seconds 5] [--json]

In this process, alternating question by question:

- the encode of one question with torch on 1 thread (what a server uses,
  ``bot.search.embedder.SERVING_TORCH_THREADS``) and on 2 threads (torch's default here);
- the encode of 16 questions in one pass (a busy server's micro-batch) on 1 and on 2;
- an exact FAISS search of 50,000 vectors with OpenMP on 1 thread (a server's,
  ``bot.serve.runtime.SERVING_FAISS_THREADS``) and on 2;

each twice: with the other core free, and with the other core busy (a process spinning
on it, as a server's own Python work or another tenant keeps it under load; the spinning
process stops by itself after a minute at most and is ended when the measurement is done).

Then servers under 1 and 16 concurrent clients (bench.throughput): as configured, with
``FAQBOT_TORCH_THREADS=2``, without micro-batching (``FAQBOT_ENCODE_BATCH=0``), with one
pass through the model at a time instead of two (``FAQBOT_ENCODE_WORKERS=1``) and with the
model run eagerly instead of traced (``FAQBOT_TRACED_MODEL=0``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

from .common import bench_index, machine, questions, summary_ms
from .throughput import run_config

BURN = "import time\nend = time.monotonic() + 60\nwhile time.monotonic() < end:\n    pass\n"


def in_process(progress=print) -> dict:
    """Both conditions: the other core free, then busy."""
    from bot.search.embedder import SERVING_TORCH_THREADS, MiniLMEmbedder

    model = MiniLMEmbedder(threads=SERVING_TORCH_THREADS, traced=True)  # as a server runs it
    result = {"free": _in_process(model, "other core free", progress)}
    burner = subprocess.Popen([sys.executable, "-c", BURN])
    try:
        result["busy"] = _in_process(model, "other core busy", progress)
    finally:
        burner.kill()
        burner.wait(timeout=10)
    return result


def _in_process(model, condition: str, progress) -> dict:
    import faiss
    import torch

    from bot.search.embedder import SERVING_TORCH_THREADS

    qs = (questions("eval") + questions("holdout"))[:150]
    times: dict[str, list[float]] = {k: [] for k in ("encode_1", "encode_2", "batch16_1", "batch16_2", "faiss_1", "faiss_2")}
    for q in qs[:5]:
        model.encode([q])
    for i, q in enumerate(qs):
        for threads in ((1, 2) if i % 2 else (2, 1)):
            torch.set_num_threads(threads)
            t = time.perf_counter()
            model.encode([q])
            times[f"encode_{threads}"].append(time.perf_counter() - t)
    for i in range(0, 16 * 8, 16):
        batch = (qs * 2)[i : i + 16]
        for threads in ((1, 2) if i % 32 else (2, 1)):
            torch.set_num_threads(threads)
            t = time.perf_counter()
            model.encode(batch)
            times[f"batch16_{threads}"].append(time.perf_counter() - t)
    torch.set_num_threads(SERVING_TORCH_THREADS)
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((50_000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(384)
    index.add(vectors)
    query_vectors = model.encode(qs[:100])
    before = faiss.omp_get_max_threads()
    for i, v in enumerate(query_vectors):
        for threads in ((1, 2) if i % 2 else (2, 1)):
            faiss.omp_set_num_threads(threads)
            t = time.perf_counter()
            index.search(v.reshape(1, -1), 8)
            times[f"faiss_{threads}"].append(time.perf_counter() - t)
    faiss.omp_set_num_threads(before)
    result = {k: summary_ms(v) for k, v in times.items()}
    for what in ("encode", "batch16", "faiss"):
        one, two = result[f"{what}_1"]["p50"], result[f"{what}_2"]["p50"]
        progress(f"  {condition}, {what}: p50 {one:.2f} ms on 1 thread, {two:.2f} ms on 2 ({two / one:.2f}x)")
    return result


def servers(seconds: float, progress=print) -> list[dict]:
    index_dir = bench_index()
    variants = [
        ("as configured", {}),
        ("torch on 2 threads", {"FAQBOT_TORCH_THREADS": "2"}),
        ("no micro-batching", {"FAQBOT_ENCODE_BATCH": "0"}),
        ("one pass at a time", {"FAQBOT_ENCODE_WORKERS": "1"}),
        ("eager model (not traced)", {"FAQBOT_TRACED_MODEL": "0"}),
    ]
    return [run_config(index_dir, name, [1, 16], seconds, env=env, progress=progress) for name, env in variants]


def run(seconds: float = 5.0, progress=print) -> dict:
    return {"machine": machine(), "in_process": in_process(progress), "servers": servers(seconds, progress)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.seconds)
    if args.json:
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
