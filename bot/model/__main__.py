"""``python -m bot.model train | measure``: the retrieval model's command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict, replace
from pathlib import Path

from bot.errors import BotError
from bot.search.embedder import PACKAGED

ROOT = Path(__file__).resolve().parent.parent.parent
COLLECTION = ROOT / "training" / "retrieval"
MODEL = ROOT / "models" / "retrieval"
CORPORA = ROOT / "tests" / "data" / "corpora"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.model", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="fine-tune the packaged model on the collection; write the folder and its card")
    t.add_argument("--collection", type=Path, default=COLLECTION)
    t.add_argument("--out", type=Path, default=MODEL)
    t.add_argument("--epochs", type=int, default=None)
    t.add_argument("--seed", type=int, default=None)
    t.add_argument("--limit", type=int, default=None, help="train on this many triples only (a quick trial)")
    t.add_argument("--threads", type=int, default=2)
    m = sub.add_parser("measure", help="top-1, top-3 and AUC of the model's best passage on the evaluation corpora")
    m.add_argument("--model", default=PACKAGED, help=f"'{PACKAGED}' or a model folder (default: {PACKAGED})")
    m.add_argument("--corpora", type=Path, default=CORPORA)
    m.add_argument("--split", type=Path, default=COLLECTION / "split.json")
    m.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _train(args) if args.command == "train" else _measure(args)
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _train(args) -> int:
    import torch
    from tqdm import tqdm

    from bot.model.card import write_card
    from bot.model.collection import load_collection
    from bot.model.training import ABOUT_FILE, Recipe, run_training

    torch.set_num_threads(args.threads)
    recipe = Recipe()
    for name in ("epochs", "seed"):
        if getattr(args, name) is not None:
            recipe = replace(recipe, **{name: getattr(args, name)})
    collection = load_collection(args.collection)
    print(f"collection: {json.dumps(collection.summary())}", file=sys.stderr)
    bar = tqdm(total=None, unit="step", desc="fine-tuning")

    def progress(done: int, steps: int, loss: float) -> None:
        bar.total = steps
        bar.n = done
        bar.set_postfix(loss=f"{loss:.3f}")
        bar.refresh()

    about = run_training(collection, args.out, recipe, progress, limit=args.limit)
    bar.close()
    for key, model in (("measured", args.out), ("measured_packaged", PACKAGED)):
        about[key] = {g: [asdict(r) for r in rows] for g, rows in _groups(model, CORPORA, COLLECTION / "split.json").items()}
    (args.out / ABOUT_FILE).write_text(json.dumps(about, indent=1) + "\n", encoding="utf-8")
    write_card(args.out, about)
    print(f"{about['name']}: {about['triples']} triples, {about['training_minutes']} minutes; card: {args.out / 'README.md'}")
    return 0


def _measure(args) -> int:
    from bot.model.measure import table
    from bot.search.embedder import model_name

    groups = _groups(args.model, args.corpora, args.split)
    if args.json:
        print(json.dumps({"model": model_name(args.model), **{g: [asdict(r) for r in rows] for g, rows in groups.items()}}, indent=1))
    else:
        print(f"{model_name(args.model)}\n\n{table(groups)}")
    return 0


def _groups(model, corpora: Path, split_file: Path) -> dict[str, list]:
    """The figures of every tuning and held-out corpus, grouped as split.json says."""
    from bot.evaluation import EVAL_FILE
    from bot.evaluation.fit import MORE_TUNING, TUNING
    from bot.model.measure import measure
    from bot.search.embedder import MiniLMEmbedder

    split = json.loads(split_file.read_text(encoding="utf-8"))["held_out_corpora"] if split_file.is_file() else {}
    embedder = MiniLMEmbedder(model=model)
    groups: dict[str, list] = {"tuning": [], "held out, kind seen in training": [], "held out, kind left out": []}
    for name in [*TUNING, *MORE_TUNING, *split]:
        folder = corpora / name
        if not (folder / EVAL_FILE).is_file():
            continue
        print(f"measuring {name} ...", file=sys.stderr)
        group = "tuning" if name not in split else ("held out, kind left out" if split[name] == "left out" else "held out, kind seen in training")
        groups[group].append(measure(folder, embedder))
    return groups


if __name__ == "__main__":
    sys.exit(main())
