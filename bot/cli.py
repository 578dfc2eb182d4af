"""Command line: ``python -m bot index | ask | eval``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

from .errors import BotError
from .settings import Settings

logger = logging.getLogger(__name__)


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    overrides = {}
    if getattr(args, "corpus", None):
        overrides["corpus_dir"] = Path(args.corpus)
    if getattr(args, "index", None):
        overrides["index_dir"] = Path(args.index)
    return replace(settings, **overrides)


def cmd_index(args: argparse.Namespace) -> int:
    from .corpus import corpus_hash, load_chunks
    from .embedder import MODEL_NAME, MiniLMEmbedder
    from .index import build_index, staleness

    settings = _settings(args)
    out = Path(args.out) if args.out else settings.index_dir
    started = time.perf_counter()
    chunks = load_chunks(settings.corpus_dir, settings.max_passage_words)
    digest = corpus_hash(settings.corpus_dir)
    if args.if_needed:
        why = staleness(out, digest, MODEL_NAME)
        if why is None:
            print(f"the index in {out}/ is current")
            return 0
        print(f"rebuilding the index: {why}")
    manifest = build_index(chunks, MiniLMEmbedder(), out, digest)
    seconds = round(time.perf_counter() - started, 2)
    if args.json:
        print(json.dumps({"documents": manifest.documents, "chunks": manifest.passages, "seconds": seconds, "build_id": manifest.build_id}))
    else:
        print(f"indexed {manifest.documents} document(s), {manifest.sections} sections, {manifest.passages} passages into {out}/ in {seconds}s")
    return 0


def _bot(args: argparse.Namespace):
    from .service import Bot

    return Bot.load(_settings(args))


def print_reply(reply, as_json: bool) -> None:
    if as_json:
        print(json.dumps(reply.to_json(), ensure_ascii=False, indent=2))
        return
    print(reply.answer)
    if reply.citations:
        print("\nSources:")
        for c in reply.citations:
            print(f"  - {c.section} ({c.source}#{c.anchor}, score {c.score:.2f})")


def cmd_ask(args: argparse.Namespace) -> int:
    print_reply(_bot(args).answer(args.question), args.json)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from . import evaluation

    bot = _bot(args)
    cases = evaluation.load_cases(Path(args.file))
    if args.baseline:
        from .baseline import BaselineBot

        answer = BaselineBot(bot).answer
    else:
        answer = bot.answer
    report = evaluation.run(cases, answer, bot.settings.crisis_contacts)
    minimums = {"answer": args.min_answer, "abstain": args.min_abstain, "crisis": args.min_crisis, "soft": args.min_soft}
    below = [k for k, m in minimums.items() if m is not None and (report.rate(k) or 0.0) < m and report.score(k)[1]]
    if args.max_false_crisis is not None and report.false_crisis() > args.max_false_crisis:
        below.append("false_crisis")
    if args.json:
        print(json.dumps({**report.to_json(), "below_minimum": below}, ensure_ascii=False, indent=2))
    else:
        print(f"{args.file}: {len(cases)} cases{' (baseline)' if args.baseline else ''}")
        for kind in evaluation.KINDS:
            p, t = report.score(kind)
            if t:
                print(f"  {kind:8} {p:4}/{t:<4} {p / t:6.1%}")
        print(f"  answerable questions flagged as crisis: {report.false_crisis()}")
        if report.failures:
            print("\nfailures:")
            for o in report.failures:
                state = "crisis" if o.reply.crisis else "abstained" if o.reply.abstained else "answered"
                print(f"- [{o.case.kind}] {o.case.id}: {o.case.q!r}\n    {state}: {o.reply.answer[:160]!r}\n    why: {o.reply.reason}")
        if below:
            print(f"\nbelow the minimum: {', '.join(below)}")
    return 1 if below else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="The clinic's FAQ bot: index the corpus, ask questions, evaluate answers.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="embed the corpus into an index folder")
    p.add_argument("--corpus", help="corpus folder (default corpus/, or FAQBOT_CORPUS_DIR)")
    p.add_argument("--out", help="index folder (default index/, or FAQBOT_INDEX_DIR)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--if-needed", action="store_true", help="build only when the index is missing, stale or for another model")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer one question with its sources")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    p.add_argument("--index", help="index folder")
    p.add_argument("--corpus", help="corpus folder")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="score the bot on an evaluation file (JSON Lines)")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print scores and failures as JSON")
    p.add_argument("--baseline", action="store_true", help="score the plain top-passage baseline instead")
    p.add_argument("--min-answer", type=float, help="minimum pass rate for answerable questions (0-1)")
    p.add_argument("--min-abstain", type=float, help="minimum pass rate for abstentions (0-1)")
    p.add_argument("--min-crisis", type=float, help="minimum pass rate for crisis messages (0-1)")
    p.add_argument("--min-soft", type=float, help="minimum pass rate for soft cases (0-1)")
    p.add_argument("--max-false-crisis", type=int, help="most answerable questions allowed to be flagged as crisis")
    p.add_argument("--index", help="index folder")
    p.add_argument("--corpus", help="corpus folder")
    p.set_defaults(func=cmd_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
