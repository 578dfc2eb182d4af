"""The plain design the bot is measured against: the top FAISS passage, or nothing.

One passage per paragraph, the same model, no lexical ranker, no sentence selection, no
crisis check, no follow-up handling; it answers with the top passage when its cosine
similarity clears one threshold. ``python -m bot eval FILE --baseline`` scores it at the
threshold that suits it best on that very file (an advantage the real bot does not get).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bot.answer.service import Bot
from bot.replies import Citation, Reply, ReplyKind, Turn


class BaselineBot:
    def __init__(self, bot: Bot, threshold: float = 0.35) -> None:
        self.bot = bot
        self.threshold = threshold

    def top(self, message: str) -> tuple[float, int]:
        qv = self.bot.embedder.encode([message])[0]
        scores, rows = self.bot.index.faiss_index.search(qv.reshape(1, -1), 1)
        return float(scores[0][0]), int(rows[0][0])

    def answer(self, message: str, history: Sequence[Turn] = ()) -> Reply:
        return self._reply(message, *self.top(message))

    def _reply(self, message: str, score: float, row: int) -> Reply:
        if score < self.threshold:
            return self.bot.abstention(f"top passage similarity {score:.2f} < {self.threshold}", message)
        chunk = self.bot.index.chunks[row]
        citation = Citation(chunk.section, chunk.anchor, chunk.source, chunk.url, chunk.text, round(score, 4))
        return Reply(chunk.text, ReplyKind.ANSWER, (citation,), f"top passage similarity {score:.2f}", message)

    def calibrate(self, cases, passed) -> float:
        """Pick the threshold that passes the most answer and abstain cases of ``cases``."""
        scored = [(c, self.top(c.q)) for c in cases if c.kind in ("answer", "abstain")]
        best = (-1, self.threshold)
        for threshold in np.arange(0.0, 0.8, 0.01):
            self.threshold = float(threshold)
            ok = sum(passed(case, self._reply(case.q, score, row)) for case, (score, row) in scored)
            best = max(best, (ok, float(threshold)))
        self.threshold = best[1]
        return self.threshold
