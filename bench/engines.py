"""The engines side by side: PyTorch eager, PyTorch traced, ONNX fp32 and ONNX int8.

    python -m bench.engines [--json]

For the same texts in the same run, on one thread as a server runs the model:

- **encode, batch 1**: each evaluation question alone (p50 and p95);
- **encode, batch 32**: the article's passages, 32 at a time, as the index embeds them;
- **agreement**: the cosine between each engine's vector of a question and PyTorch's;
- **index build**: a fresh build (no cached vectors) of the article (``corpus/``) and of the
  largest evaluation corpus, with the threads an index build uses (all cores);
- **server**: ``python app.py`` with ``FAQBOT_ENGINE`` set to each engine (the traced graph is
  the ``torch`` engine's): seconds to a 200 on ``/healthz``, then the first answer, and the
  server's peak resident memory. Each engine serves an index of its own vector space.

The engines take turns by blocks of questions in a rotating order, so a shared machine's
drift reaches all alike. The ONNX graphs are exported before anything is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
from pathlib import Path

from .common import DATA, ROOT, WORK, ChatClient, bench_index, questions, start_server, summary_ms

ENGINES = ("eager", "traced", "onnx", "onnx-int8")
BLOCK = 10


def largest_corpus() -> Path:
    """The evaluation corpus with the most text."""
    folders = [f for f in (DATA / "corpora").iterdir() if (f / "corpus").is_dir()]
    return max(folders, key=lambda f: sum(p.stat().st_size for p in (f / "corpus").rglob("*") if p.is_file())) / "corpus"


def embedders(threads: int | None) -> dict:
    from bot.search.engines import open_embedder
    from bot.settings import Settings

    s = Settings()
    return {
        "eager": open_embedder(s.embedding_model, "torch", onnx_dir=s.onnx_dir, threads=threads, traced=False),
        "traced": open_embedder(s.embedding_model, "torch", onnx_dir=s.onnx_dir, threads=threads, traced=True),
        "onnx": open_embedder(s.embedding_model, "onnx", onnx_dir=s.onnx_dir, threads=threads),
        "onnx-int8": open_embedder(s.embedding_model, "onnx-int8", onnx_dir=s.onnx_dir, threads=threads),
    }


def passage_texts() -> list[str]:
    """The article's passages as the index embeds them."""
    from bot.search.index import passage_text
    from bot.search.reindex import read_corpus
    from bot.settings import Settings

    return [passage_text(c) for c in read_corpus(Settings(corpus_dir=ROOT / "corpus")).chunks]


def encode_times(models: dict, progress) -> dict:
    asked = questions("eval")
    texts = passage_texts()
    while len(texts) < 64:  # at least two full batches
        texts = texts + texts
    batches = [texts[i : i + 32] for i in range(0, len(texts) - 31, 32)]
    one: dict[str, list[float]] = {k: [] for k in models}
    many: dict[str, list[float]] = {k: [] for k in models}
    for m in models.values():  # warm each once
        m.encode(asked[:3])
        m.encode(batches[0])
    names = list(models)
    for b, start in enumerate(range(0, len(asked), BLOCK)):
        for name in names[b % len(names):] + names[: b % len(names)]:
            for q in asked[start : start + BLOCK]:
                t = time.perf_counter()
                models[name].encode([q])
                one[name].append(time.perf_counter() - t)
    for _ in range(3):
        for b, batch in enumerate(batches):
            for name in names[b % len(names):] + names[: b % len(names)]:
                t = time.perf_counter()
                models[name].encode(batch)
                many[name].append(time.perf_counter() - t)
    reference = models["eager"].encode(asked)
    out = {}
    for name in names:
        cosine = (models[name].encode(asked) * reference).sum(axis=1)
        out[name] = {"batch1": summary_ms(one[name]), "batch32": summary_ms(many[name]),
                     "cosine_min": round(float(cosine.min()), 6), "cosine_mean": round(float(cosine.mean()), 6)}
        progress(f"  {name}: batch 1 p50 {out[name]['batch1']['p50']:.2f} ms, batch 32 p50 "
                 f"{out[name]['batch32']['p50']:.1f} ms, cosine with eager >= {out[name]['cosine_min']:.4f}")
    return out


def build_times(progress) -> dict:
    from bot.search.reindex import reindex
    from bot.settings import Settings

    models = embedders(threads=os.cpu_count())  # an index build's threads: every core, for each engine
    corpora = {"article": ROOT / "corpus", "largest": largest_corpus()}
    out: dict[str, dict] = {}
    for name, model in models.items():
        out[name] = {}
        for label, corpus in corpora.items():
            folder = WORK / f"engine-build-{name}"
            shutil.rmtree(folder, ignore_errors=True)
            settings = Settings(corpus_dir=corpus, index_dir=folder, engine="torch" if name in ("eager", "traced") else name)
            t = time.perf_counter()
            summary = reindex(settings, model)
            out[name][label] = {"seconds": round(time.perf_counter() - t, 2), "passages": summary.chunks}
            shutil.rmtree(folder, ignore_errors=True)
        progress(f"  {name}: index build {out[name]['article']['seconds']:.1f} s (article), "
                 f"{out[name]['largest']['seconds']:.1f} s ({corpora['largest'].parent.name})")
    out["corpora"] = {k: str(v.relative_to(ROOT)) for k, v in corpora.items()}
    return out


def server_start(progress, rounds: int = 2) -> dict:
    out: dict[str, dict] = {}
    for engine in ("torch", "onnx", "onnx-int8"):
        index_dir = bench_index(engine)
        runs = []
        for _ in range(rounds):
            server = start_server(index_dir, env={"FAQBOT_ENGINE": engine})
            try:
                client = ChatClient(server.port)
                t = time.perf_counter()
                status, reply = client.ask("What should I bring to my first appointment?")
                first = time.perf_counter() - t
                client.close()
                if status != 200:
                    raise RuntimeError(f"the first request got {status}: {reply}")
                runs.append({"ready_seconds": round(server.ready_seconds, 2), "first_answer_ms": round(first * 1000, 1),
                             "to_first_answer_seconds": round(server.ready_seconds + first, 2),
                             "peak_rss_mb": round(server.peak_rss_mb())})
            finally:
                server.stop()
        out[engine] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        progress(f"  server on {engine}: first answer {out[engine]['to_first_answer_seconds']:.1f} s after start, "
                 f"peak memory {out[engine]['peak_rss_mb']:.0f} MB")
    return out


def run(progress=print) -> dict:
    from bot.search.embedder import SERVING_TORCH_THREADS

    models = embedders(threads=SERVING_TORCH_THREADS)
    encode = encode_times(models, progress)
    del models
    return {"encode": encode, "build": build_times(progress), "server": server_start(progress),
            "threads": SERVING_TORCH_THREADS, "questions": len(questions("eval"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run()
    if args.json:
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
