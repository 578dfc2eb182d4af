"""Domain errors. Each message says what went wrong and what to do about it."""

from __future__ import annotations

from pathlib import Path


class BotError(Exception):
    """Base class of every error the core raises on purpose."""


class CorpusError(BotError):
    """A corpus file cannot be read; names the file and line."""

    def __init__(self, path: Path | str, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {problem}")


class IndexNotFound(BotError):
    """There is no index folder yet."""


class IndexMismatch(BotError):
    """The index was built with another model or format than the running code uses."""


class IndexCorrupt(BotError):
    """An index file is missing, truncated or unreadable."""


class ModelMissing(BotError):
    """A model the repository ships (``models/``) is missing, incomplete or unreadable; the
    message names the file and how to restore or retrain it."""


class EngineError(BotError):
    """The engine setting is unknown, or an ONNX export cannot be made or is refused; the
    message says which and how to serve anyway (``FAQBOT_ENGINE=torch``)."""
