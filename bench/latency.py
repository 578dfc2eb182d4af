"""One visitor: the model's own encode vs the bot's answer in process vs POST /api/chat.

    python -m bench.latency [--rounds 3] [--json]

Each round starts a server (``python app.py``: the round's start-up time, to a 200 on
/healthz, and its peak memory), times its first request, then, for every evaluation
question once, side by side in this one process:

- **encode**: ``SentenceTransformer.encode([question])`` of all-MiniLM-L6-v2, the model's
  own call, with the thread settings a server uses (the reference the targets are
  ratios of);
- **haystack**: Haystack's dense pipeline on the same model (its sentence-transformers
  text embedder, fp32 like ours, then its in-memory embedding retriever over the
  article's passages, top 5): ``pipeline.run`` of the question, the reference of the
  first target;
- **embedder**: the bot's encode of the question alone, on the configured engine
  (``FAQBOT_ENGINE``);
- **answer**: ``bot.answer(question)`` of a :class:`~bot.serve.runtime.BotHolder` loaded as a
  server loads it (caches, batching, threads);
- **http**: ``POST /api/chat`` to the round's server over a keep-alive connection.

The four take turns by blocks of ten questions, in a rotating order: drift of a shared
machine reaches all four alike, and within a block each runs as it would alone (the bot's
and the server's copies of the model each stay in the processor's cache, as in a server
that does nothing else; alternating question by question would make the server's copy
the cold one). Questions are distinct and asked
once per round, on fresh caches, so no reply and no question vector is ever served from a
cache; before each round the bot and the server answer the hold-out questions (other
questions, as a server that has been up a while has), which leaves words common to many
questions in the vector cache. Ratios are of the round's medians; the figures reported
are the medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path

from .common import ROOT, SERVER_ENV, ChatClient, bench_index, machine, median, questions, start_server, summary_ms

KINDS = ("encode", "haystack", "embedder", "answer", "http")
BLOCK = 10  # questions measured one way before the next way (see the module's docstring)


def serving_holder(index_dir: Path):
    """A BotHolder loaded exactly as a server loads it."""
    from bot.serve.runtime import BotHolder
    from bot.settings import Settings

    settings = Settings.from_env({**os.environ, **SERVER_ENV}, corpus_dir=ROOT / "corpus", index_dir=index_dir)
    holder = BotHolder(settings)
    holder.load()
    if holder.bot is None:
        raise RuntimeError(f"the bot did not load: {holder.error}")
    # The frequent words' vectors are computed once per index folder (bot.vocabulary) and
    # saved there: wait for them, so every server of the benchmark loads them at start.
    holder.words_warmed(timeout=300)
    return holder


def base_model(embedder):
    """The engine's embedder under the serving wrappers."""
    while hasattr(embedder, "inner"):
        embedder = embedder.inner
    return embedder


def haystack_pipeline(settings):
    """Haystack's dense retrieval pipeline over the index's passages, on the same model
    (loaded from the same folder, in fp32 as the bot runs it)."""
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    from haystack import Document, Pipeline
    from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack.utils import ComponentDevice
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
        SentenceTransformersTextEmbedder,
    )

    from bot.search.embedder import model_folder
    from bot.search.index import passage_text
    from bot.search.reindex import read_corpus

    model = dict(model=str(model_folder(settings.embedding_model)), device=ComponentDevice.from_str("cpu"),
                 normalize_embeddings=True, progress_bar=False, local_files_only=True, model_kwargs={"dtype": "float32"})
    store = InMemoryDocumentStore(embedding_similarity_function="dot_product")
    documents = SentenceTransformersDocumentEmbedder(**model)
    documents.warm_up()
    texts = [passage_text(c) for c in read_corpus(settings).chunks]
    store.write_documents(documents.run([Document(content=t) for t in texts])["documents"])
    pipeline = Pipeline()
    pipeline.add_component("embedder", SentenceTransformersTextEmbedder(**model))
    pipeline.add_component("retriever", InMemoryEmbeddingRetriever(store, top_k=5))
    pipeline.connect("embedder.embedding", "retriever.query_embedding")
    pipeline.warm_up()
    return pipeline


def run(rounds: int = 3, progress=print) -> dict:
    index_dir = bench_index()
    from bot.search.embedder import SERVING_TORCH_THREADS, MiniLMEmbedder

    holder = serving_holder(index_dir)
    model = base_model(holder.embedder)
    # the reference: sentence-transformers' own PyTorch encode of the same model
    st = MiniLMEmbedder(threads=SERVING_TORCH_THREADS, model=holder.settings.embedding_model)._model
    haystack = haystack_pipeline(holder.settings)

    def encode(q: str) -> None:
        st.encode([q], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    measured, warm = questions("eval"), questions("holdout")
    per_round = []
    for r in range(rounds):
        server = start_server(index_dir)
        try:
            client = ChatClient(server.port)
            t = time.perf_counter()
            status, _ = client.ask("What should I bring to my first appointment?")
            first = time.perf_counter() - t
            if status != 200:
                raise RuntimeError(f"the first request got {status}")
            holder.clear_caches()
            for q in warm:
                holder.bot.answer(q)
                client.ask(q)
            times: dict[str, list[float]] = {k: [] for k in KINDS}
            errors = 0
            for b, start in enumerate(range(0, len(measured), BLOCK)):
                block = measured[start : start + BLOCK]
                for k in KINDS[b % len(KINDS) :] + KINDS[: b % len(KINDS)]:
                    for q in block:
                        t = time.perf_counter()
                        if k == "encode":
                            encode(q)
                        elif k == "haystack":
                            haystack.run({"embedder": {"text": q}})
                        elif k == "embedder":
                            model.encode([q])
                        elif k == "answer":
                            holder.bot.answer(q)
                        else:
                            status, _ = client.ask(q)
                            errors += status != 200
                        times[k].append(time.perf_counter() - t)
            client.close()
            stats = {k: summary_ms(v) for k, v in times.items()}
            result = {
                "startup_seconds": round(server.ready_seconds, 2),
                "peak_rss_mb": round(server.peak_rss_mb()),
                "first_request_ms": round(first * 1000, 2),
                "stats": stats,
                "errors": errors,
                "ratios": {
                    **{k: round(stats[k]["p50"] / stats["encode"]["p50"], 3) for k in ("haystack", "embedder", "answer", "http")},
                    "http_vs_haystack": round(stats["http"]["p50"] / stats["haystack"]["p50"], 3),
                },
                "cache": {"answer": asdict(holder.answer_cache.stats()) if holder.answer_cache else None},
            }
            per_round.append(result)
            progress(
                f"  round {r + 1}: encode p50 {stats['encode']['p50']:.1f} ms, answer {stats['answer']['p50']:.1f} "
                f"({result['ratios']['answer']:.2f}x), http {stats['http']['p50']:.1f} ({result['ratios']['http']:.2f}x; {result['ratios']['http_vs_haystack']:.2f}x haystack's "
                f"{stats['haystack']['p50']:.1f}); "
                f"ready in {result['startup_seconds']:.1f}s, first request {result['first_request_ms']:.1f} ms"
            )
        finally:
            server.stop()
    holder.stop()

    def med(path):
        values = [path(r) for r in per_round]
        return round(median(values), 3)

    return {
        "machine": machine(),
        "rounds": per_round,
        "questions": len(measured),
        "median": {
            **{f"{k}_p50": med(lambda r, k=k: r["stats"][k]["p50"]) for k in KINDS},
            **{f"{k}_p95": med(lambda r, k=k: r["stats"][k]["p95"]) for k in KINDS},
            **{f"{k}_ratio": med(lambda r, k=k: r["ratios"][k]) for k in ("haystack", "embedder", "answer", "http")},
            "http_vs_haystack_ratio": med(lambda r: r["ratios"]["http_vs_haystack"]),
            "engine": holder.settings.engine,
            "startup_seconds": med(lambda r: r["startup_seconds"]),
            "peak_rss_mb": med(lambda r: r["peak_rss_mb"]),
            "first_request_ms": med(lambda r: r["first_request_ms"]),
            "first_request_ratio": med(lambda r: r["first_request_ms"] / r["stats"]["http"]["p50"]),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    result = run(args.rounds)
    print(json.dumps(result, indent=1) if args.json else json.dumps(result["median"], indent=1))


if __name__ == "__main__":
    main()
