"""Run an evaluation file through the bot and score it per kind.

File format (JSON Lines): ``{"id", "kind": "answer"|"abstain"|"crisis"|"soft", "q",
"history": [{"role", "content"}], "facts": [...]}``, optionally ``"parts": [[...], [...]]``
(a question in two parts: every part needs one of its facts) and ``"source": "file.md"``
(the fact must be quoted from a citation of that document). See docs/EVALUATION.md.

``run_corpus`` scores any corpus folder: it builds a temporary index when none is given.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import BotError
from bot.ingest.text import normalize
from bot.replies import Reply, ReplyKind, Turn

KINDS = ("answer", "abstain", "crisis", "soft")


class EvalFileError(BotError):
    pass


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    kind: str
    q: str
    history: tuple[Turn, ...] = ()
    facts: tuple[str, ...] = ()
    parts: tuple[tuple[str, ...], ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    reply: Reply
    passed: bool
    picked: bool = False  # a suggestion of the reply, once picked, answers with a fact

    @property
    def found(self) -> bool:
        """Answered right, or offered a section that answers right when picked."""
        return self.passed or self.picked

    @property
    def stated_wrongly(self) -> bool:
        """An answer without the fact, or an answer to a question the pages do not answer."""
        return self.reply.kind is ReplyKind.ANSWER and (self.case.kind == "abstain" or (self.case.kind == "answer" and not self.passed))


@dataclass(slots=True)
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def score(self, kind: str) -> tuple[int, int]:
        rows = [o for o in self.outcomes if o.case.kind == kind]
        return sum(o.passed for o in rows), len(rows)

    def rate(self, kind: str) -> float | None:
        passed, total = self.score(kind)
        return passed / total if total else None

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.passed]

    def found(self) -> float | None:
        """Of the answerable questions: the share answered right or offered a section that
        answers when picked."""
        rows = [o.found for o in self.outcomes if o.case.kind == "answer"]
        return sum(rows) / len(rows) if rows else None

    def single_turn(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.case.kind in ("answer", "abstain") and not o.case.history]

    def stated_wrongly(self) -> float | None:
        """Of the single-turn questions, answerable or not: the share answered wrongly."""
        rows = [o.stated_wrongly for o in self.single_turn()]
        return sum(rows) / len(rows) if rows else None

    def kinds(self) -> dict[str, float]:
        """The share of each reply kind over the answerable and unanswerable questions."""
        rows = [o.reply.kind.value for o in self.outcomes if o.case.kind in ("answer", "abstain")]
        return {k.value: rows.count(k.value) / len(rows) if rows else 0.0 for k in ReplyKind}

    def plain_abstentions(self) -> float | None:
        """The share of replies that are a plain abstention, without suggestions (for
        off-topic requests)."""
        rows = [o.reply.kind is ReplyKind.ABSTENTION for o in self.outcomes]
        return sum(rows) / len(rows) if rows else None

    def false_crisis(self) -> int:
        return sum(o.case.kind == "answer" and o.reply.crisis for o in self.outcomes)

    def confusion(self) -> dict[str, dict[str, int]]:
        """For answer and abstain cases: how many the bot answered and abstained on."""
        table = {k: {"answered": 0, "abstained": 0, "crisis": 0} for k in ("answer", "abstain")}
        for o in self.outcomes:
            if o.case.kind in table:
                col = "crisis" if o.reply.crisis else "abstained" if o.reply.abstained else "answered"
                table[o.case.kind][col] += 1
        return table

    def to_json(self) -> dict:
        return {
            "scores": {k: {"passed": self.score(k)[0], "total": self.score(k)[1], "rate": self.rate(k)} for k in KINDS},
            "false_crisis": self.false_crisis(),
            "found": self.found(),
            "stated_wrongly": self.stated_wrongly(),
            "kinds": self.kinds(),
            "confusion": self.confusion(),
            "failures": [
                {"id": o.case.id, "kind": o.case.kind, "q": o.case.q, "answer": o.reply.answer,
                 "reply": o.reply.kind.value, "abstained": o.reply.abstained, "crisis": o.reply.crisis, "reason": o.reply.reason,
                 "suggested": [x.key for x in o.reply.suggestions], "found": o.found}
                for o in self.failures
            ],
        }


def normalized(text: str) -> str:
    """How facts and answers are compared: NFKC, ASCII dashes and quotes, lower case, one space."""
    return " ".join(normalize(text).lower().split())


def load_cases(path: Path) -> list[Case]:
    """Read and validate an evaluation file; errors name the line."""
    cases = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot read ({exc})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            kind = data["kind"]
            if kind not in KINDS:
                raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
            history = tuple(Turn(str(t["role"]), str(t["content"])) for t in data.get("history") or ())
            parts = tuple(tuple(str(f) for f in part) for part in data.get("parts") or ())
            facts = tuple(str(f) for f in data.get("facts") or ())
            cases.append(Case(str(data["id"]), kind, str(data["q"]), history, facts, parts, str(data.get("source") or "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise EvalFileError(f"{path}:{number}: {exc!s}: each line is one JSON case with id, kind and q") from None
    return cases


def passed(case: Case, reply: Reply, contacts: Sequence[str] = ("988", "911")) -> bool:
    """Whether ``reply`` passes ``case`` by the rules in the module docstring."""
    if case.source:  # only what is quoted from the expected document counts
        answer = normalized(" ".join(c.quote for c in reply.citations if Path(c.source).name == case.source))
    else:
        answer = normalized(reply.answer)
    has_fact = any(normalized(f) in answer for f in case.facts) if case.facts else True
    if case.parts:
        has_fact = has_fact and all(any(normalized(f) in answer for f in part) for part in case.parts)
    cited_answer = not reply.abstained and not reply.crisis and bool(reply.citations) and has_fact
    if case.kind == "answer":
        return cited_answer
    if case.kind == "abstain":
        return reply.abstained and not reply.crisis
    if case.kind == "crisis":
        return reply.crisis and all(c in reply.answer for c in contacts)
    return (reply.abstained and not reply.crisis) or cited_answer


Pick = Callable[[str, str, Sequence[Turn]], Reply]  # (question, "<source>#<anchor>", history) -> the section's answer


def run(cases: Sequence[Case], answer: Callable[[str, Sequence[Turn]], Reply], contacts: Sequence[str] = ("988", "911"),
        pick: Pick | None = None) -> Report:
    """Each case through ``answer``; for an answerable question offered suggestions, each is
    picked through ``pick`` (when given) until one answers with a fact."""
    report = Report()
    for case in cases:
        reply = answer(case.q, case.history)
        picked = False
        if pick is not None and case.kind == "answer" and reply.kind is ReplyKind.SUGGESTIONS:
            picked = any(passed(case, pick(case.q, s.key, case.history), contacts) for s in reply.suggestions)
        report.outcomes.append(Outcome(case, reply, passed(case, reply, contacts), picked))
    return report


# -- any corpus -----------------------------------------------------------------------
EVAL_FILE = "eval.jsonl"


def offtopic_half(path: Path, half: str) -> list[Case]:
    """The ``half`` ("fit": odd ids, "test": even ids) of the off-topic requests in ``path``
    (tests/data/offtopic.jsonl), split by id before any was run through the bot: the fit
    half chooses when suggestions are offered, the test half measures it."""
    cases = load_cases(path)
    return [c for c in cases if (int(c.id.rsplit("-", 1)[1]) % 2 == 1) == (half == "fit")]


@dataclass(frozen=True, slots=True)
class CorpusScore:
    """One row of the table ``python -m bot eval --corpora`` prints."""

    name: str
    cases: int
    report: Report
    offtopic: Report | None = None  # requests no clinic answers, run against the same corpus

    def rates(self) -> dict[str, float | None]:
        return {k: self.report.rate(k) for k in KINDS}


def load_bot(corpus: Path, embedder, index: Path | None = None, settings=None):
    """A bot answering from ``corpus``: from the index in ``index`` when given, else from a
    temporary index built for it (deleted once loaded)."""
    import dataclasses
    import tempfile

    from bot.answer.service import Bot
    from bot.search.reindex import reindex
    from bot.settings import Settings

    settings = dataclasses.replace(settings or Settings.from_env(), corpus_dir=corpus)
    if index is not None:
        return Bot.load(dataclasses.replace(settings, index_dir=index), embedder)
    with tempfile.TemporaryDirectory(prefix="faqbot-eval-") as tmp:
        settings = dataclasses.replace(settings, index_dir=Path(tmp))
        reindex(settings, embedder)
        return Bot.load(settings, embedder)


def corpus_folders(root: Path) -> list[Path]:
    """Every folder under ``root`` with a ``corpus/`` and an ``eval.jsonl``, by name."""
    return sorted(p for p in root.iterdir() if (p / "corpus").is_dir() and (p / EVAL_FILE).is_file())


def run_corpus(folder: Path, embedder, answer_with=None, offtopic: Sequence[Case] = ()) -> CorpusScore:
    """Score ``folder/eval.jsonl`` against a bot built from ``folder/corpus``.
    ``answer_with(bot)`` picks the answering function (default: the bot itself, whose
    suggestions are picked too). ``offtopic``: requests no clinic answers, scored apart."""
    bot = load_bot(folder / "corpus", embedder)
    cases = load_cases(folder / EVAL_FILE)
    answer = answer_with(bot, cases) if answer_with else bot.answer
    pick = None if answer_with else (lambda q, section, history: bot.answer_section(q, section, history))
    report = run(cases, answer, bot.settings.crisis_contacts, pick)
    other = run(offtopic, answer, bot.settings.crisis_contacts) if offtopic else None
    return CorpusScore(folder.name, len(cases), report, other)


def table(scores: Sequence[CorpusScore]) -> str:
    """A Markdown table: one row per corpus and the macro average of each kind."""
    head = "| corpus | cases | answer | abstain | crisis | soft | false crisis |"
    lines = [head, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def cell(rate: float | None) -> str:
        return "-" if rate is None else f"{rate:.1%}"

    for s in scores:
        rates = s.rates()
        lines.append(f"| {s.name} | {s.cases} | " + " | ".join(cell(rates[k]) for k in KINDS) + f" | {s.report.false_crisis()} |")
    macro = []
    for k in KINDS:
        values = [r for s in scores if (r := s.report.rate(k)) is not None]
        macro.append(cell(sum(values) / len(values)) if values else "-")
    lines.append(f"| **macro average** | {sum(s.cases for s in scores)} | " + " | ".join(macro) + f" | {sum(s.report.false_crisis() for s in scores)} |")
    return "\n".join(lines)


def replies_table(scores: Sequence[CorpusScore]) -> str:
    """The three kinds of reply, one row per corpus: found (answered right, or offered a
    section that answers when picked), stated wrongly (over the single-turn questions), the
    share of each reply kind, and the off-topic requests that got a plain abstention."""
    head = "| corpus | found | answered right | stated wrongly | answer | suggestions | abstention | crisis | off-topic: plain abstention |"
    lines = [head, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def cell(rate: float | None) -> str:
        return "-" if rate is None else f"{rate:.1%}"

    def row(name: str, values: list[float | None]) -> str:
        return f"| {name} | " + " | ".join(cell(v) for v in values) + " |"

    table_rows = []
    for s in scores:
        r = s.report
        kinds = r.kinds()
        values = [r.found(), r.rate("answer"), r.stated_wrongly(), kinds["answer"], kinds["suggestions"], kinds["abstention"],
                  kinds["crisis"], s.offtopic.plain_abstentions() if s.offtopic else None]
        table_rows.append(values)
        lines.append(row(s.name, values))
    macro = []
    for i in range(len(head.split("|")) - 3):
        values = [v[i] for v in table_rows if v[i] is not None]
        macro.append(sum(values) / len(values) if values else None)
    lines.append(row("**macro average**", macro))
    return "\n".join(lines)
