"""The crisis check: runs on every message before anything else.

A message is a crisis when a sure sign matches (:mod:`bot.safety.patterns`) or when the
learned model (:mod:`bot.safety.model`) gives it a probability at or above its threshold.
The patterns only ever add: "not a crisis" is the model's call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.safety.model import HEAD_FILE, CrisisModel
from bot.safety.patterns import sure_sign

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Verdict:
    crisis: bool
    probability: float  # the model's; 1.0 when a sure sign matched and the model was not asked
    sure_sign: bool


class CrisisCheck:
    """Sure signs, then the model. Thread-safe; one per process."""

    def __init__(self, model: CrisisModel) -> None:
        self.model = model
        self._verdict = lru_cache(maxsize=1024)(self._judge)  # the API may ask before the bot does

    @classmethod
    def load(cls, folder: Path | str) -> CrisisCheck:
        """The check with the model in ``folder``, loaded once per process (and again only
        when the folder's ``head.json`` changes): every index a server swaps in shares it."""
        folder = Path(folder).resolve()
        try:
            stamp = (folder / HEAD_FILE).stat().st_mtime_ns
        except OSError:
            stamp = None  # CrisisModel says what is missing
        return _load(str(folder), stamp)

    def verdict(self, message: str) -> Verdict:
        return self._verdict(" ".join(message.split()))

    def is_crisis(self, message: str) -> bool:
        return self.verdict(message).crisis

    def _judge(self, message: str) -> Verdict:
        if sure_sign(message):
            return Verdict(True, 1.0, True)
        probability = float(self.model.probability([message])[0])
        return Verdict(probability >= self.model.threshold, probability, False)


@lru_cache(maxsize=2)
def _load(folder: str, stamp: int | None) -> CrisisCheck:
    return CrisisCheck(CrisisModel(folder))
