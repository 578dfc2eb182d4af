"""Scale: the passage index at 1k, 10k, 100k and 1M passages.

    python -m bench.scale [--sizes 1000,10000,100000] [--real-max 10000] [--json]

The corpora are generated here, never committed, and kept in the benchmark's work folder
(``$FAQBOT_BENCH_WORK``, by default ``/tmp/faqbot-bench``) for the next run:

- **real** points: passages of English prose, cut at paragraph ends to at most 160 words
  (as bot.corpus cuts them), taken from the docstrings of the Python standard library
  and then of a few pinned packages (numpy, pandas, scipy, scikit-learn, networkx, sympy;
  read with ``ast``, nothing imported) and embedded with all-MiniLM-L6-v2, up to
  ``--real-max`` passages (10,000 embed in a few minutes on two cores);
- **synthetic** points, above that: each vector is a real passage's vector plus Gaussian
  noise, re-normalised (cosine about 0.85 to its source), so the vectors cluster as real
  ones do; never uniform random, whose neighbours are all equally far.

The queries are embedded text, 200 of each kind: *corpus queries*, the first eight words
of a passage's first sentence (about as long as a question and about as close to its
passage, cosine 0.6-0.7), which stand for the questions such a corpus is asked; and the
clinic's visitor questions, which are off topic for these passages (best cosine about
0.27, where the bot abstains), a worst case for any approximate index since their ten
"nearest" passages are barely nearer than thousands of others. Recall is given for each
kind. For each size: the time to build the index ``bot.search.index.passage_index`` chooses (exact up to
``bot.search.index.APPROXIMATE_ABOVE`` passages, HNSW above) and the exact one, their size on
disk and in memory (resident memory of a process that loads the file), the latency of one
question's search on one thread, and for HNSW its recall@10 against exact search.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

from .common import WORK, machine, questions, summary_ms

NOISE_COSINE = 0.85  # cosine of a synthetic vector to the real one it comes from
MAX_WORDS = 160
SEED = 20261127
QUERY_WORDS = 8  # a corpus query: a passage's first words, about as long and as close as a question
# After the standard library, docstrings of these installed (pinned) packages
PROSE_PACKAGES = ("numpy", "pandas", "scipy", "sklearn", "networkx", "sympy")


# -- the corpus ---------------------------------------------------------------------------
def prose_passages(limit: int) -> list[str]:
    """Up to ``limit`` distinct passages of English prose from the standard library's
    docstrings, in a fixed order (the same on every machine with this Python)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = Path(sysconfig.get_paths()["purelib"])
    files = [p for p in sorted(stdlib.rglob("*.py")) if "site-packages" not in p.parts]
    for package in PROSE_PACKAGES:
        files += sorted((site / package).rglob("*.py"))
    seen: set[str] = set()
    out: list[str] = []
    for path in files:
        if any(part in {"test", "tests", "idle_test"} for part in path.parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            doc = ast.get_docstring(node)
            if not doc:
                continue
            for para in re.split(r"\n\s*\n", doc):
                words = para.split()
                # prose, not code samples or tables: mostly words, a dozen of them at least
                if len(words) < 12 or sum(w.isalpha() for w in words) < 0.6 * len(words) or ">>>" in para:
                    continue
                for start in range(0, len(words), MAX_WORDS):
                    text = " ".join(words[start : start + MAX_WORDS])
                    if len(text.split()) >= 12 and text not in seen:
                        seen.add(text)
                        out.append(text)
                        if len(out) >= limit:
                            return out
    return out


def real_vectors(n: int, progress=print) -> tuple[np.ndarray, list[str]]:
    """The vectors of ``n`` real passages (embedded once, then read from the work folder)."""
    folder = WORK / "scale"
    folder.mkdir(parents=True, exist_ok=True)
    texts = prose_passages(n)
    if len(texts) < n:
        raise RuntimeError(f"only {len(texts)} passages of prose found, {n} wanted")
    # The passages come in a fixed order, so a larger saved set starts with the smaller one.
    for saved in sorted(folder.glob("real-*.npy"), key=lambda f: int(f.stem.split("-")[1])):
        if int(saved.stem.split("-")[1]) >= n:
            vectors = np.load(saved, allow_pickle=False, mmap_mode="r")[:n]
            if vectors.shape == (n, 384):
                return np.array(vectors, dtype=np.float32), texts
    path = folder / f"real-{n}.npy"
    from bot.search.embedder import SERVING_TORCH_THREADS, MiniLMEmbedder

    model = MiniLMEmbedder(threads=SERVING_TORCH_THREADS)  # steady when other work shares the cores
    started = time.perf_counter()
    parts = []
    for start in range(0, n, 256):
        parts.append(model.encode(texts[start : start + 256]))
        if start % 2048 == 0:
            progress(f"  embedding real passages: {start + len(parts[-1])}/{n} ({time.perf_counter() - started:.0f}s)")
    vectors = np.vstack(parts).astype(np.float32)
    np.save(path, vectors, allow_pickle=False)
    return vectors, texts


def synthetic(base: np.ndarray, n: int, seed: int = SEED) -> np.ndarray:
    """``n`` vectors, each a random real one plus noise, re-normalised."""
    rng = np.random.default_rng(seed)
    dim = base.shape[1]
    sigma = np.sqrt((1 / NOISE_COSINE**2 - 1) / dim)  # E cos(v, v + noise) = NOISE_COSINE
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(start + 100_000, n)
        rows = base[rng.integers(0, len(base), stop - start)]
        block = rows + rng.standard_normal(rows.shape, dtype=np.float32) * np.float32(sigma)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:stop] = block
    return out


def query_vectors(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Visitor questions and sentences of the corpus's passages, embedded, taken in turn
    (so any first part of them holds as many of each), and which are questions."""
    from bot.search.embedder import SERVING_TORCH_THREADS, MiniLMEmbedder

    rng = np.random.default_rng(SEED + 1)
    sentences = []
    for i in rng.choice(len(texts), size=min(200, len(texts)), replace=False):
        first = re.split(r"(?<=[.!?])\s", texts[int(i)])[0]
        sentences.append(" ".join(first.split()[:QUERY_WORDS]))
    asked = (questions("eval") + questions("holdout"))[: len(sentences)]
    texts = [t for pair in zip(asked, sentences, strict=True) for t in pair]
    is_question = np.array([i % 2 == 0 for i in range(len(texts))])
    return MiniLMEmbedder(threads=SERVING_TORCH_THREADS).encode(texts), is_question


# -- measuring --------------------------------------------------------------------------
def _memory_of(path: Path) -> float:
    """MiB of resident memory a fresh process gains by loading the FAISS file at ``path``."""
    code = (
        "import faiss, sys\n"
        "def rss():\n"
        "    return int(open('/proc/self/statm').read().split()[1]) * 4096\n"
        "before = rss(); index = faiss.read_index(sys.argv[1]); print((rss() - before) / 2**20)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=600)
    return round(float(done.stdout.strip()), 1) if done.returncode == 0 else float("nan")


def _search_times(index, queries: np.ndarray, k: int = 10, budget: float = 20.0) -> tuple[list[float], np.ndarray, np.ndarray]:
    """Each query searched alone: the times, the rows found and the best similarity."""
    times, rows, best = [], [], []
    deadline = time.monotonic() + budget
    for q in queries:
        t = time.perf_counter()
        d, r = index.search(q.reshape(1, -1), k)
        times.append(time.perf_counter() - t)
        rows.append(r[0])
        best.append(d[0][0])
        if time.monotonic() > deadline and len(times) >= 30:
            break
    return times, np.array(rows), np.array(best)


def point(vectors: np.ndarray, queries: np.ndarray, is_question: np.ndarray, kind: str, progress=print) -> dict:
    """Build, size and search the chosen index and the exact one for ``vectors``."""
    import faiss

    from bot.search.index import passage_index

    n = len(vectors)
    result: dict = {"passages": n, "vectors": kind}
    folder = Path(tempfile.mkdtemp(prefix="scale-", dir=WORK))
    try:
        built = {}
        for name, threshold in (("exact", float("inf")), ("chosen", None)):
            t = time.perf_counter()
            index, index_type = passage_index(vectors) if threshold is None else passage_index(vectors, threshold)
            seconds = time.perf_counter() - t
            if name == "chosen" and index_type == "IndexFlatIP":
                built["chosen"] = built["exact"]
                result["chosen"] = {**result["exact"], "index_type": index_type}
                continue
            path = folder / f"{name}.faiss"
            faiss.write_index(index, str(path))
            faiss.omp_set_num_threads(1)  # as a server searches (bot.runtime)
            times, rows, sims = _search_times(index, queries)
            built[name] = rows
            if name == "exact":
                result["top1_cosine_questions"] = round(float(np.median(sims[is_question[: len(sims)]])), 3)
                result["top1_cosine_sentences"] = round(float(np.median(sims[~is_question[: len(sims)]])), 3)
            result[name] = {
                "index_type": index_type,
                "build_seconds": round(seconds, 2),
                "disk_mb": round(path.stat().st_size / 2**20, 1),
                "memory_mb": _memory_of(path),
                "search": summary_ms(times),
            }
            path.unlink()
            del index
        exact, chosen = built["exact"], built["chosen"]
        m = min(len(exact), len(chosen))
        hits = np.array([len(set(exact[i]) & set(chosen[i])) / 10 for i in range(m)])
        result["chosen"]["recall_at_10"] = round(float(hits.mean()), 4)
        result["chosen"]["recall_questions"] = round(float(hits[is_question[:m]].mean()), 4)
        result["chosen"]["recall_sentences"] = round(float(hits[~is_question[:m]].mean()), 4)
    finally:
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    c, e = result["chosen"], result["exact"]
    progress(
        f"  {n:>9,} passages ({kind}): {c['index_type']} built in {c['build_seconds']:.1f}s, "
        f"{c['disk_mb']:.0f} MB on disk, {c['memory_mb']:.0f} MB in memory, search p50 {c['search']['p50']:.2f} ms "
        f"(exact {e['search']['p50']:.2f} ms), recall@10 {c['recall_at_10']:.3f} (corpus sentences "
        f"{c['recall_sentences']:.3f}, visitor questions {c['recall_questions']:.3f})"
    )
    return result


def run(sizes: list[int] = (1_000, 10_000, 100_000), real_max: int = 10_000, progress=print) -> dict:
    import faiss

    before = faiss.omp_get_max_threads()
    real_n = min(real_max, max(sizes))
    base, texts = real_vectors(real_n, progress)
    queries, is_question = query_vectors(texts)
    points = []
    try:
        for n in sizes:
            if n <= real_n:
                points.append(point(base[:n], queries, is_question, "real", progress))
            else:
                vectors = synthetic(base, n)
                points.append(point(vectors, queries, is_question, "synthetic", progress))
                del vectors
            faiss.omp_set_num_threads(before)
    finally:
        faiss.omp_set_num_threads(before)
    from bot.search import index as index_module

    return {
        "machine": machine(),
        "real_passages": real_n,
        "noise_cosine": NOISE_COSINE,
        "queries": len(queries),
        "approximate_above": index_module.APPROXIMATE_ABOVE,
        "hnsw": {"M": index_module.HNSW_M, "efConstruction": index_module.HNSW_EF_CONSTRUCTION,
                 "efSearch": index_module.HNSW_EF_SEARCH},
        "points": points,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--real-max", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run([int(s) for s in args.sizes.split(",")], args.real_max)
    if args.json:
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
