"""Command line for maintainers, the console's fixes without it:

- ``python -m bot phrasings add --section FILE#ANCHOR "question" ...``: point visitors'
  phrasings at a section in ``corpus/questions.yaml`` (checked, written atomically,
  comments and order kept), then re-index; ``phrasings list`` and ``phrasings remove``;
- ``python -m bot gaps export [--format md|csv]``: the groups staff marked as needing new
  content (or "section right, sentence wrong"), with the visitors' phrasings and counts;
- ``python -m bot log export [--format csv|jsonl] [--since DATE]``: the question log as
  staff open it in a spreadsheet, redacted as stored.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import io
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import BotError
from bot.settings import Settings


def settings_of(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    overrides = {}
    if getattr(args, "corpus", None):
        overrides["corpus_dir"] = Path(args.corpus)
    if getattr(args, "index", None):
        overrides["index_dir"] = Path(args.index)
    if getattr(args, "db", None):
        overrides["db"] = args.db
    return replace(settings, **overrides)


def cmd_phrasings(args: argparse.Namespace) -> int:
    from bot.ingest.corpus import load_corpus
    from bot.ingest.question_edits import add_phrasings, read_entries, remove_phrasings

    settings = settings_of(args)
    root = settings.corpus_dir
    if args.action == "list":
        entries = [e for e in read_entries(root) if not args.section or e.section == args.section]
        if args.json:
            print(json.dumps([{"section": e.section, "questions": list(e.questions), "line": e.line, "fix": e.fix} for e in entries],
                             ensure_ascii=False, indent=2))
        for e in [] if args.json else entries:
            print(f"{e.section}  (line {e.line}{f', fix {e.fix}' if e.fix else ''})")
            print("\n".join(f"  - {q}" for q in e.questions))
        return 0
    documents = load_corpus(root)
    if args.action == "add":
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        change = add_phrasings(root, documents, args.section, args.questions,
                               f"added by {getpass.getuser()}, {when}, with python -m bot phrasings add")
    else:
        change = remove_phrasings(root, documents, args.section, args.questions)
    summary = None
    if change.changed:
        from bot.search.reindex import reindex

        summary = reindex(settings, wait=300.0)
    if args.json:
        print(json.dumps({**change.to_json(), "index": summary.to_json() if summary else None}, ensure_ascii=False))
        return 0 if change.changed else 1
    verb = "now point to" if args.action == "add" else "no longer point to"
    if change.changed:
        print(f"{len(change.changed)} phrasing(s) {verb} {change.section}: " + "; ".join(change.changed))
        print(summary.line(settings.index_dir))
    if change.unchanged:
        why = "already point there" if args.action == "add" else "were not found for that section"
        print(f"{len(change.unchanged)} phrasing(s) {why}: " + "; ".join(change.unchanged), file=sys.stderr)
    return 0 if change.changed else 1


def _open_store(settings: Settings):
    from bot.store import Store
    from bot.store.records import check_db_path, is_postgres_url

    check_db_path(settings.db)
    if not is_postgres_url(settings.db) and not Path(settings.db).is_file():
        raise BotError(f"there is no question log at {settings.db}: set FAQBOT_DB (or --db) to the server's log file or database URL")
    return Store(settings.db)


def cmd_gaps(args: argparse.Namespace) -> int:
    from bot.curation.groups import counted_since
    from bot.search.engines import embedder_for
    from bot.store.curation import ACTIONS, fixes, misses

    store = _open_store(settings_of(args))
    todo = [f for f in fixes(store, active_only=True) if f.action in ("needs_content", "wrong_sentence")]
    since = counted_since(todo, lambda at: misses(store, since=at), embedder_for(settings_of(args)).encode) if todo else {}
    rows = [{"fix": f.id, "decided_utc": f.at.strftime("%Y-%m-%d %H:%M"), "staff": f.staff, "action": ACTIONS[f.action],
             "section": f.section or "", "asked": f.asked, "asked_since": since.get(f.id, 0), "phrasings": " | ".join(f.phrasings)}
            for f in todo]
    if args.format == "csv":
        _csv(rows, ["fix", "decided_utc", "staff", "action", "section", "asked", "asked_since", "phrasings"])
        return 0
    print("# Content to write\n")
    if not rows:
        print("Nothing: no group is marked as needing new content.")
    for r in rows:
        where = f" (section {r['section']})" if r["section"] else ""
        print(f"- [ ] **{r['phrasings'].split(' | ')[0]}**: {r['action']}{where}, asked {r['asked']} times, "
              f"{r['asked_since']} more since; fix {r['fix']} by {r['staff']}, {r['decided_utc']} UTC")
        print("".join(f"  - {p}\n" for p in r["phrasings"].split(" | ")[1:]), end="")
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    from bot.store.curation import LOG_COLUMNS, log_rows

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise BotError(f"--since {args.since!r}: write a date as YYYY-MM-DD (or YYYY-MM-DDTHH:MM, UTC)") from None
        since = since.replace(tzinfo=UTC) if since.tzinfo is None else since
    rows = log_rows(_open_store(settings_of(args)), since)
    if args.format == "jsonl":
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    _csv(rows, list(LOG_COLUMNS))
    return 0


def _csv(rows, columns: list[str]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    sys.stdout.write(out.getvalue())


def _cell(value) -> object:
    """A cell a spreadsheet shows as text: a visitor's message that starts like a formula
    (=, +, -, @, a tab or a carriage return) gets a leading apostrophe (OWASP's advice)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def add_commands(sub) -> None:
    p = sub.add_parser("phrasings", help="list, add or remove the visitors' phrasings that point to a section (corpus/questions.yaml)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, help_text in [("list", "the phrasings, by entry"), ("add", "point phrasings at a section, then re-index"),
                              ("remove", "remove phrasings from a section, then re-index")]:
        q = actions.add_parser(action, help=help_text)
        if action != "list":
            q.add_argument("questions", nargs="+", help="the phrasings, each in quotes")
        q.add_argument("--section", required=action != "list", help="the section, as in a citation link: FILE#ANCHOR (e.g. faq.md#cost)")
        q.add_argument("--corpus", help="corpus folder (default corpus/, or FAQBOT_CORPUS_DIR)")
        q.add_argument("--index", help="index folder to rebuild (default index/, or FAQBOT_INDEX_DIR)")
        q.add_argument("--json", action="store_true", help="machine-readable output")
        q.set_defaults(func=cmd_phrasings)

    p = sub.add_parser("gaps", help="the to-do list of what visitors asked that needs new content")
    q = p.add_subparsers(dest="action", required=True, metavar="ACTION").add_parser("export", help="print the to-do list")
    q.add_argument("--format", choices=["md", "csv"], default="md")
    q.add_argument("--db", help="the question log (default FAQBOT_DB)")
    q.set_defaults(func=cmd_gaps)

    p = sub.add_parser("log", help="the question log, one row per answered message, redacted as stored")
    q = p.add_subparsers(dest="action", required=True, metavar="ACTION").add_parser("export", help="print the log")
    q.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    q.add_argument("--since", help="only messages from this UTC date or time on (YYYY-MM-DD)")
    q.add_argument("--db", help="the question log (default FAQBOT_DB)")
    q.set_defaults(func=cmd_log)
