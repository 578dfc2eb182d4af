"""What the crisis check costs a message, side by side in one run (``python -m bench.crisis``).

- the session-9 check (patterns, then two dot products with the question's vector, which
  the answer path computed anyway): its own cost only;
- today's check (sure signs, then a pass through the three-layer crisis model);
- for scale, one pass of the served model over the same message (what every answer pays).

One torch thread, as a server's worker runs; every message distinct and asked once (no
cache). Prints milliseconds a message (p50, mean) and the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OLD_REV = "5cc9e40"  # the last commit with bot/answer/safety.py


def _messages() -> list[str]:
    rows = []
    for path in sorted((ROOT / "tests" / "data" / "corpora").glob("*/eval.jsonl")):
        rows += [json.loads(line)["q"] for line in path.read_text().splitlines() if line.strip()]
    return list(dict.fromkeys(rows))


def _time(fn, texts: list[str]) -> list[float]:
    out = []
    for text in texts:
        started = time.perf_counter()
        fn(text)
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    from bot.safety.check import CrisisCheck
    from bot.search.embedder import MiniLMEmbedder

    texts = _messages()[: args.messages]
    embedder = MiniLMEmbedder(threads=1, traced=True)
    source = subprocess.run(["git", "show", f"{OLD_REV}:bot/answer/safety.py"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    old = types.ModuleType("old_safety")
    exec(compile(source, "old_safety", "exec"), old.__dict__)  # noqa: S102 - our own history
    detector = old.CrisisDetector(embedder)
    vectors = dict(zip(texts, embedder.encode(texts), strict=True))
    check = CrisisCheck.load(ROOT / "models" / "crisis")
    for text in texts[:20]:  # warm both
        check.model.probability([text])
        embedder.encode([text])
    rows = {
        "session-9 check (its own cost, given the vector)": _time(lambda t: (old.is_crisis.__wrapped__(t), detector.similarity(vectors[t])), texts),
        "today's check (sure signs + crisis model pass)": _time(lambda t: check._judge(t), texts),
        "one pass of the served model (traced), for scale": _time(lambda t: embedder.encode([t]), texts),
    }
    base = statistics.median(rows["one pass of the served model (traced), for scale"])
    print(f"{len(texts)} distinct messages of the evaluation corpora, one torch thread\n")
    print("| what | p50 ms | mean ms | p50 / served pass |\n| --- | ---: | ---: | ---: |")
    for name, ms in rows.items():
        print(f"| {name} | {statistics.median(ms):.2f} | {statistics.fmean(ms):.2f} | {statistics.median(ms) / base:.2f}x |")


if __name__ == "__main__":
    main()
