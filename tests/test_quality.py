"""Answer quality, measured: the evaluation set must stay at or above its minimum scores.

A change that makes answers worse fails here. The numbers and the method are in
docs/EVALUATION.md; the held-back file is scored too, with the same minimums.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot import evaluation

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"

# The minimums make test holds the bot to (see docs/EVALUATION.md for the measured scores):
# the targets on the dev set; on the smaller second file, answers at 90%; on the
# third, written by someone who read only the article (docs/EVALUATION.md), answers at 85%.
MIN_ABSTAIN = 0.90
MIN_CRISIS = 1.0


@pytest.mark.parametrize(("name", "min_answer"), [("eval.jsonl", 0.95), ("holdout.jsonl", 0.90), ("independent.jsonl", 0.85)])
def test_evaluation_meets_the_minimums(bot, name, min_answer):
    cases = evaluation.load_cases(DATA / name)
    report = evaluation.run(cases, bot.answer, bot.settings.crisis_contacts)
    failures = "\n".join(f"{o.case.id}: {o.case.q!r} -> {o.reply.answer[:80]!r}" for o in report.failures)
    assert report.rate("answer") >= min_answer, failures
    assert report.rate("abstain") >= MIN_ABSTAIN, failures
    assert report.rate("crisis") == MIN_CRISIS, failures
    assert report.false_crisis() == 0, failures


def test_dev_set_is_large_and_varied():
    cases = evaluation.load_cases(DATA / "eval.jsonl")
    kinds = {k: sum(c.kind == k for c in cases) for k in evaluation.KINDS}
    assert len(cases) >= 150
    assert kinds["answer"] >= 80 and kinds["abstain"] >= 30 and kinds["crisis"] >= 10
    assert sum(bool(c.history) for c in cases) >= 15


def test_eval_command_exits_non_zero_below_a_minimum(index_dir, tmp_path):
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        '{"id": "a", "kind": "answer", "q": "what is the weather on mars?", "facts": ["sunny"]}\n'
        '{"id": "b", "kind": "abstain", "q": "what is the weather on mars?"}\n'
    )
    env = {"FAQBOT_INDEX_DIR": str(index_dir), "FAQBOT_CORPUS_DIR": str(ROOT / "corpus"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "eval", str(cases), "--min-answer", "0.5"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1
    assert "answer" in result.stdout and "below the minimum: answer" in result.stdout
    assert "what is the weather on mars?" in result.stdout  # failures are listed with the answer given


def test_a_broken_eval_file_names_the_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "kind": "answer", "q": "x"}\n{"id": "b", "kind": "maybe", "q": "y"}\n')
    with pytest.raises(evaluation.EvalFileError, match=r"bad.jsonl:2: kind must be one of"):
        evaluation.load_cases(bad)


def test_the_fact_check_normalises_dashes_and_quotes():
    from bot.replies import Citation, Reply

    case = evaluation.Case("x", "answer", "cost?", facts=("$400-$600", "individual's insurance plan"))
    cited = (Citation("s", "a", "src", "/u", "q", 0.5),)
    assert evaluation.passed(case, Reply("typically around $400\u2013$600 per session", False, False, cited))
    assert evaluation.passed(case, Reply("depends on the individual\u2019s insurance plan", False, False, cited))
    assert not evaluation.passed(case, Reply("$400-$600", False, False, ()))  # uncited
