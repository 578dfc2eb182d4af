"""Scoring the bot: evaluation files (JSON Lines) run through it, per kind and per corpus,
beside a top-passage baseline; and the fit of the answerability model on the tuning corpora."""

from bot.evaluation.scoring import (
    EVAL_FILE,
    KINDS,
    Case,
    CorpusScore,
    EvalFileError,
    Report,
    corpus_folders,
    load_bot,
    load_cases,
    normalized,
    offtopic_half,
    passed,
    replies_table,
    run,
    run_corpus,
    table,
)

__all__ = [
    "EVAL_FILE", "KINDS", "Case", "CorpusScore", "EvalFileError", "Report", "corpus_folders", "load_bot",
    "load_cases", "normalized", "offtopic_half", "passed", "replies_table", "run", "run_corpus", "table",
]
