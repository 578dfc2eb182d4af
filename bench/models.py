"""The packaged and the tuned retrieval model side by side: what one question's encode costs.

``python -m bench.models``: both models as a server runs them (traced, one torch thread),
alternating, 300 distinct questions each round; prints each round's p50 and the ratio. They
are the same architecture, so the ratio should be about 1.
"""

from __future__ import annotations

import statistics
import time

from bot.search.embedder import PACKAGED, MiniLMEmbedder
from bot.settings import Settings

QUESTIONS = [f"how much does visit number {i} cost with my insurance plan?" for i in range(300)]


def p50_ms(model: MiniLMEmbedder) -> float:
    for q in QUESTIONS[:20]:
        model.encode([q])
    times = []
    for q in QUESTIONS:
        started = time.perf_counter()
        model.encode([q])
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main(rounds: int = 2) -> None:
    tuned = Settings().embedding_model
    models = {name: MiniLMEmbedder(threads=1, traced=True, model=name) for name in (PACKAGED, tuned)}
    for n in range(1, rounds + 1):
        got = {name: p50_ms(model) for name, model in models.items()}
        print(f"round {n}: packaged {got[PACKAGED]:.2f} ms, {tuned} {got[tuned]:.2f} ms p50 a question; "
              f"ratio {got[tuned] / got[PACKAGED]:.2f}")


if __name__ == "__main__":
    main()
