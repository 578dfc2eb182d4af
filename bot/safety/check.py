"""The crisis check: runs on every message before anything else.

A message is a crisis when a sure sign matches (:mod:`bot.safety.patterns`) or when the
learned model (:mod:`bot.safety.model`) gives it a probability at or above its threshold.
The patterns only ever add: "not a crisis" is the model's call.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.errors import EngineError
from bot.safety.model import HEAD_FILE, CrisisModel
from bot.safety.patterns import sure_sign
from bot.search.engines import TORCH, check_engine
from bot.settings import Settings

logger = logging.getLogger(__name__)

# Threads the checks run on (is_crisis_soon): two, as a server answers on two cores.
_CHECKS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crisis-check")


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
    def load(cls, folder: Path | str, onnx_dir: Path | None = None) -> CrisisCheck:
        """The check with the model in ``folder``, loaded once per process (and again only
        when the folder's ``head.json`` changes): every index a server swaps in shares it.
        ``onnx_dir``: run it through ONNX Runtime from the export cached there (None: PyTorch)."""
        folder = Path(folder).resolve()
        try:
            stamp = (folder / HEAD_FILE).stat().st_mtime_ns
        except OSError:
            stamp = None  # CrisisModel says what is missing
        return _load(str(folder), stamp, str(Path(onnx_dir).resolve()) if onnx_dir is not None else None)

    @classmethod
    def for_settings(cls, settings: Settings) -> CrisisCheck:
        """The check ``settings`` name: its model, on ONNX Runtime when the engine is an ONNX
        one (fp32 either way: the crisis model's scores never move with the engine)."""
        if check_engine(settings.engine) != TORCH:
            try:
                return cls.load(settings.crisis_model, settings.onnx_dir)
            except EngineError as exc:  # the check must run: PyTorch scores the same
                logger.warning("%s; the crisis model runs on PyTorch instead", exc)
        return cls.load(settings.crisis_model)

    def verdict(self, message: str) -> Verdict:
        return self._verdict(" ".join(message.split()))

    def is_crisis(self, message: str) -> bool:
        return self.verdict(message).crisis

    def forget(self) -> None:
        """Forget the verdicts remembered so far (they are recomputed when asked again)."""
        self._verdict.cache_clear()

    def is_crisis_soon(self, message: str) -> Future[bool]:
        """:meth:`is_crisis` on a thread of the check's own. The caller reads the question
        meanwhile and waits for the verdict before it decides anything: the model's pass
        releases the interpreter, so on two cores the two passes overlap (a lone visitor's
        answer takes the longer of them, not both)."""
        return _CHECKS.submit(self.is_crisis, message)

    def _judge(self, message: str) -> Verdict:
        if sure_sign(message):
            return Verdict(True, 1.0, True)
        probability = float(self.model.probability([message])[0])
        return Verdict(probability >= self.model.threshold, probability, False)


@lru_cache(maxsize=2)
def _load(folder: str, stamp: int | None, onnx_dir: str | None) -> CrisisCheck:
    return CrisisCheck(CrisisModel(folder, Path(onnx_dir) if onnx_dir is not None else None))
