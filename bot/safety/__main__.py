"""``python -m bot.safety train | evaluate``: the crisis model's command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from bot.errors import BotError

ROOT = Path(__file__).resolve().parent.parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.safety", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the crisis model from the collection and write its folder and model card")
    t.add_argument("--collection", type=Path, default=ROOT / "training" / "crisis")
    t.add_argument("--out", type=Path, default=ROOT / "models" / "crisis")
    t.add_argument("--layers", type=int, default=None)
    t.add_argument("--epochs", type=int, default=None)
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--lookalike-rate", type=float, default=None, help="share of the tuning look-alikes the threshold may flag")
    t.add_argument("--threads", type=int, default=2)
    e = sub.add_parser("evaluate", help="recognised crisis messages and flagged look-alikes, per category")
    e.add_argument("files", nargs="+", type=Path)
    e.add_argument("--model", type=Path, default=ROOT / "models" / "crisis")
    e.add_argument("--old", metavar="REV", help="also report the check of this git revision (its bot/answer/safety.py)")
    e.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _train(args) if args.command == "train" else _evaluate(args)
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _train(args) -> int:
    from dataclasses import replace

    import torch
    from tqdm import tqdm

    from bot.safety.collection import load_collection
    from bot.safety.model_card import write_card
    from bot.safety.training import Recipe, run_training

    torch.set_num_threads(args.threads)
    recipe = Recipe()
    for name in ("layers", "epochs", "seed", "lookalike_rate"):
        if getattr(args, name) is not None:
            recipe = replace(recipe, **{name: getattr(args, name)})
    collection = load_collection(args.collection, ROOT)
    print(f"training on {len(collection.training)} messages, tuning on {len(collection.tuning)}", file=sys.stderr)
    bar = tqdm(total=None, unit="batch", desc="fine-tuning")

    def progress(done: int, steps: int, loss: float) -> None:
        bar.total = steps
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}")

    result = run_training(collection, args.out, recipe, progress)
    bar.close()
    write_card(args.out, result["about"], result["report"])
    print(f"threshold {result['threshold']:.4f}, {result['minutes']:.1f} minutes; model card: {args.out / 'README.md'}")
    print(result["report"].markdown("tuning split"))
    return 0


def _evaluate(args) -> int:
    from bot.safety.check import CrisisCheck
    from bot.safety.collection import read_labelled
    from bot.safety.training import Report

    examples = [e for f in args.files for e in read_labelled(f)]
    check = CrisisCheck.load(args.model)
    started = time.perf_counter()
    flagged = [check.is_crisis(e.text) for e in examples]
    ms = (time.perf_counter() - started) * 1000 / max(1, len(examples))
    reports = {"shipped": Report.of(examples, flagged)}
    if args.old:
        old = _old_check(args.old)
        reports[f"old ({args.old})"] = Report.of(examples, [old(e.text) for e in examples])
    if args.json:
        print(json.dumps({name: r.to_json() for name, r in reports.items()}, indent=1))
    else:
        for name, report in reports.items():
            print(f"\n## {name}\n\n{report.markdown(name)}")
        print(f"\n{ms:.1f} ms a message (the shipped check, one at a time)")
    return 0


def _old_check(rev: str):
    """The crisis check as it was at ``rev`` (patterns, then closeness to examples), run
    from that commit's own source, for a report beside the shipped one."""
    import subprocess
    import types

    from bot.search.embedder import MiniLMEmbedder

    try:
        source = subprocess.run(["git", "show", f"{rev}:bot/answer/safety.py"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BotError(f"cannot read bot/answer/safety.py at {rev} ({exc}); give a revision from before bot/safety/") from None
    module = types.ModuleType("old_safety")
    exec(compile(source, f"{rev}:bot/answer/safety.py", "exec"), module.__dict__)  # noqa: S102 - our own history
    detector = module.CrisisDetector(MiniLMEmbedder())
    return detector.is_crisis


if __name__ == "__main__":
    raise SystemExit(main())
