"""Command line: ``python -m bot index | ask | eval``, and (bot.adapters.content_cli)
``phrasings | gaps | log``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from bot.adapters.content_cli import add_commands, settings_of
from bot.errors import BotError
from bot.settings import Settings

logger = logging.getLogger(__name__)


_settings = settings_of


def cmd_index(args: argparse.Namespace) -> int:
    """Build the index incrementally; or --check it, or --rollback to the previous build."""
    from bot.search.reindex import check, current_summary, reindex, rollback

    settings = _settings(args)
    if args.out:
        settings = replace(settings, index_dir=Path(args.out))
    out = settings.index_dir
    if args.rollback:
        now, was = rollback(settings)
        print(
            f"{out}/ serves build {now.build_id} again (built {now.built_at}, {now.passages} passages); "
            f"build {was.build_id} is kept as 'previous': run --rollback again to undo"
        )
        return 0
    if args.check or args.if_needed:
        found = check(settings)
        if args.check:
            if args.json:
                print(json.dumps({"current": not found, "changes": found}))
            elif found:
                print(f"the index in {out}/ is stale; run 'python -m bot index':")
                print("\n".join(f"  {line}" for line in found))
            else:
                print(f"the index in {out}/ is current")
            return 1 if found else 0
        if not found:
            _prepare_engine(settings)
            if args.json:
                print(json.dumps(current_summary(settings).to_json()))
            else:
                print(f"the index in {out}/ is current")
            return 0
        print(f"rebuilding the index: {'; '.join(found)}", file=sys.stderr if args.json else sys.stdout)
    progress, done = _progress_bar()
    try:
        summary = reindex(settings, progress=progress)
    finally:
        done()
    _prepare_engine(settings)
    print(json.dumps(summary.to_json()) if args.json else summary.line(out))
    return 0


def _prepare_engine(settings: Settings) -> None:
    """Export the models for an ONNX engine now, once (cached), so a server started after
    the index build loads them without torch."""
    if settings.engine == "torch":
        return
    from bot.safety.check import CrisisCheck
    from bot.search.export import exported

    exported(settings.embedding_model, settings.engine, settings.onnx_dir)
    CrisisCheck.for_settings(settings)


def _progress_bar():
    """A progress bar on a terminal (shown only when embedding takes more than a second),
    as a ``progress(done, total)`` callback and a function that closes it."""
    if not sys.stderr.isatty():
        return None, lambda: None
    from tqdm import tqdm

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc="embedding", unit="text", delay=1.0, leave=False, file=sys.stderr)
        bar.update(done - bar.n)

    def close() -> None:
        if bar is not None:
            bar.close()

    return progress, close


def _bot(args: argparse.Namespace):
    from bot.answer.service import Bot

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
    if reply.suggestions:
        print("\nTo read one, ask again with --section:")
        for s in reply.suggestions:
            print(f"  --section '{s.key}'  ({s.section})")


def cmd_ask(args: argparse.Namespace) -> int:
    bot = _bot(args)
    if args.section:
        from bot.answer.service import UnknownSection

        try:
            reply = bot.answer_section(args.question, args.section)
        except UnknownSection as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    else:
        reply = bot.answer(args.question)
    print_reply(reply, args.json)
    return 0


def _baseline(bot, cases):
    from bot import evaluation
    from bot.evaluation.baseline import BaselineBot

    baseline = BaselineBot(bot)
    threshold = baseline.calibrate(cases, evaluation.passed)
    logger.info("baseline: top FAISS passage when its similarity >= %.2f (its best threshold on this file)", threshold)
    return baseline.answer


def cmd_eval_corpora(args: argparse.Namespace) -> int:
    """One row per corpus folder under ``--corpora`` (each with corpus/ and eval.jsonl)."""
    from bot import evaluation
    from bot.search.engines import embedder_for

    root = Path(args.corpora)
    folders = evaluation.corpus_folders(root) if root.is_dir() else []
    if not folders:
        raise BotError(f"{root}: no folder with a corpus/ and an eval.jsonl: see tests/data/corpora/ for the layout")
    embedder = embedder_for(_settings(args))
    offtopic = evaluation.offtopic_half(Path(args.offtopic), "test") if args.offtopic and not args.baseline else []
    scores = []
    for folder in folders:
        print(f"evaluating {folder.name} ...", file=sys.stderr)
        scores.append(evaluation.run_corpus(folder, embedder, _baseline if args.baseline else None, offtopic))
    if args.json:
        print(json.dumps({s.name: {**s.report.to_json(), "offtopic_plain_abstentions": s.offtopic.plain_abstentions() if s.offtopic else None}
                          for s in scores}, ensure_ascii=False, indent=2))
    elif args.baseline:
        print("baseline (top passage, threshold fit on each file)\n" + evaluation.table(scores))
    else:
        print(evaluation.table(scores) + "\n\nReplies (found: answered right, or a suggestion answers when picked)\n"
              + evaluation.replies_table(scores))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from bot import evaluation

    if args.corpora:
        return cmd_eval_corpora(args)
    if not args.file:
        raise BotError("name an evaluation file (JSON Lines), or --corpora FOLDER for every corpus under it")
    cases = evaluation.load_cases(Path(args.file))
    if args.corpus and not args.index:
        from bot.search.engines import embedder_for

        bot = evaluation.load_bot(Path(args.corpus), embedder_for(_settings(args)),
                                  settings=_settings(args))
    else:
        bot = _bot(args)
    answer = _baseline(bot, cases) if args.baseline else bot.answer
    pick = None if args.baseline else (lambda q, section, history: bot.answer_section(q, section, history))
    report = evaluation.run(cases, answer, bot.settings.crisis_contacts, pick)
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
        if (found := report.found()) is not None:
            print(f"  found (answered right, or a suggestion answers when picked): {found:.1%}")
        if (wrong := report.stated_wrongly()) is not None:
            print(f"  stated wrongly (of the single-turn questions): {wrong:.1%}")
        print("  replies: " + ", ".join(f"{k} {v:.1%}" for k, v in report.kinds().items()))
        if report.failures:
            print("\nfailures:")
            for o in report.failures:
                state = {"answer": "answered", "abstention": "abstained"}.get(o.reply.kind.value, o.reply.kind.value)
                print(f"- [{o.case.kind}] {o.case.id}: {o.case.q!r}\n    {state}: {o.reply.answer[:160]!r}\n    why: {o.reply.reason}")
        if below:
            print(f"\nbelow the minimum: {', '.join(below)}")
    return 1 if below else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="The clinic's FAQ bot: index the corpus, ask questions, evaluate answers.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    parser.set_defaults(corpus=None, index=None)  # every command reads both (index has --out)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="embed the corpus into an index folder")
    p.add_argument("--corpus", help="corpus folder (default corpus/, or FAQBOT_CORPUS_DIR)")
    p.add_argument("--out", help="index folder (default index/, or FAQBOT_INDEX_DIR)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--if-needed", action="store_true", help="build only when the index is missing, stale or for another model")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--check", action="store_true", help="exit 1 and say what changed when the index is stale, 0 when current (for CI)")
    what.add_argument("--rollback", action="store_true", help="serve the previous build again (run twice to undo)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer one question with its sources")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the API's JSON")
    p.add_argument("--section", help="answer from this section ('<source>#<anchor>', as a suggestion names it)")
    p.add_argument("--index", help="index folder")
    p.add_argument("--corpus", help="corpus folder")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="score the bot on an evaluation file (JSON Lines), or on every corpus under a folder")
    p.add_argument("file", nargs="?", help="evaluation file (JSON Lines)")
    p.add_argument("--corpora", help="score every FOLDER/<name>/ that has corpus/ and eval.jsonl; print one table")
    p.add_argument("--json", action="store_true", help="print scores and failures as JSON")
    p.add_argument("--baseline", action="store_true", help="score the plain top-passage baseline instead")
    p.add_argument("--offtopic", default="tests/data/offtopic.jsonl",
                   help="requests no clinic answers, run against every corpus with --corpora (their test half: even ids)")
    p.add_argument("--min-answer", type=float, help="minimum pass rate for answerable questions (0-1)")
    p.add_argument("--min-abstain", type=float, help="minimum pass rate for abstentions (0-1)")
    p.add_argument("--min-crisis", type=float, help="minimum pass rate for crisis messages (0-1)")
    p.add_argument("--min-soft", type=float, help="minimum pass rate for soft cases (0-1)")
    p.add_argument("--max-false-crisis", type=int, help="most answerable questions allowed to be flagged as crisis")
    p.add_argument("--index", help="index folder")
    p.add_argument("--corpus", help="corpus folder (without --index, a temporary index is built for it)")
    p.set_defaults(func=cmd_eval)
    add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
