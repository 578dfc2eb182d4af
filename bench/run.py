"""Run the benchmarks and write docs/BENCHMARKS.md (``make bench``, ``make bench-scale``).

    python -m bench.run                 # latency, start-up, engines, throughput, threads, scale to 100k
    python -m bench.run --scale-large   # the 1M-passage point (real vectors up to 10k)
    python -m bench.run --only latency,throughput

Each part's results go to docs/bench/results.json as soon as it ends (the other parts'
results stay), then the tables and plots of docs/BENCHMARKS.md are redone from that file.
Servers listen on 127.0.0.1 only and every request loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

from . import engines, latency, replicas, report, scale, threads, throughput
from .common import clean_work, load_results, save_results

PARTS = ("latency", "engines", "throughput", "threads", "scale", "replicas")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated parts among {', '.join(PARTS)}")
    parser.add_argument("--scale-large", action="store_true", help="only the 1M-passage point (make bench-scale)")
    parser.add_argument("--rounds", type=int, default=3, help="latency rounds (each starts a server)")
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per throughput level")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore")
    started = time.monotonic()
    results = load_results()

    def record(name: str, value: dict) -> None:
        results[name] = value
        save_results(results)
        print(f"{name}: done at {time.monotonic() - started:.0f}s", flush=True)

    try:
        if args.scale_large:
            print("scale, 1M passages (real vectors: 10,000; the rest synthetic)", flush=True)
            record("scale_large", scale.run([1_000_000], real_max=10_000))
        else:
            parts = args.only.split(",") if args.only else PARTS
            unknown = set(parts) - set(PARTS)
            if unknown:
                parser.error(f"unknown part {sorted(unknown)[0]!r}: choose among {', '.join(PARTS)}")
            if "latency" in parts:
                print(f"latency and start-up, {args.rounds} rounds", flush=True)
                record("latency", latency.run(args.rounds))
            if "engines" in parts:
                print("engines: PyTorch eager and traced, ONNX fp32 and int8", flush=True)
                record("engines", engines.run())
            if "throughput" in parts:
                print("throughput: 1, 4, 16, 64 clients; 1 and 2 workers", flush=True)
                record("throughput", throughput.run(seconds=args.seconds))
            if "threads" in parts:
                print("thread settings and micro-batching", flush=True)
                record("threads", threads.run(seconds=args.seconds - 1))
            if "scale" in parts:
                print("scale: 1k, 10k, 100k passages (real vectors up to 2,000, then synthetic)", flush=True)
                record("scale", scale.run([1_000, 10_000, 100_000], real_max=2_000))
            if "replicas" in parts:
                print("replicas: log writes and rate limit on PostgreSQL against SQLite; 1 and 2 replicas behind nginx", flush=True)
                record("replicas", replicas.run(seconds=args.seconds))
    finally:
        clean_work()
    print(f"wrote {report.write(results)} in {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
