"""The index folder: which build is served, the one before it, and what they hold.

Layout (a plain folder you can read; no pickle)::

    index/
      current -> builds/20261127T101500-3f2a9c1d   (symlink, replaced atomically)
      previous -> builds/<build id>                (the build before, for --rollback)
      cache/embeddings.npz  vectors by model and text, so unchanged text is never embedded
                            again (see bot.search.embed_cache)
      builds/<build id>/    one build (bot.search.index): manifest.json and the vectors

A build is written to a temporary folder, renamed into ``builds/`` and only then pointed
to by ``current``, so a crash at any moment leaves the previous index served; a server
notices the new ``current`` and swaps it in between requests (bot.serve.runtime).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bot.errors import BotError, IndexCorrupt, IndexMismatch, IndexNotFound
from bot.ingest.corpus import hash_of_files

logger = logging.getLogger(__name__)

FORMAT_VERSION = 3
REBUILD_HINT = "run 'python -m bot index' (or 'make run', which rebuilds it) to rebuild"
CACHE_FILE = Path("cache") / "embeddings.npz"


class IndexBusy(BotError):
    """Another build is writing the same index folder right now."""


@dataclass(frozen=True, slots=True)
class Manifest:
    format_version: int
    model: str
    dim: int
    corpus_hash: str
    documents: int
    sections: int
    passages: int
    sentences: int
    built_at: str
    index_type: str
    build_id: str
    questions: int = 0
    max_passage_words: int = 0  # passage size the corpus was cut with (0: not recorded)
    engine: str = "torch"  # what ran the model (bot/search/engines.py); the model name says its vector space
    files: dict[str, str] = field(default_factory=dict)  # path under corpus/ -> sha256

    def to_json(self) -> dict:
        return asdict(self)

    def summary(self) -> dict:
        """The manifest without the per-file hashes (what /healthz shows)."""
        data = asdict(self)
        del data["files"]
        return data


@contextmanager
def build_lock(out: Path) -> Iterator[None]:
    """Hold ``out/.lock`` while writing ``out``: two builds (a maintainer's command and the
    console's button) never interleave. The lock goes away with the process that holds it."""
    fh = open(out / ".lock", "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusy(f"another build of {out}/ is running: wait for it to finish, then try again") from None
        yield
    finally:
        fh.close()


def point_current(out: Path, build: Path) -> None:
    link = out / f".current-{uuid.uuid4().hex[:8]}"
    previous = current_build(out)
    if previous is not None and previous.name != build.name and previous.parent.name == "builds":
        prev_link = out / f".previous-{uuid.uuid4().hex[:8]}"
        os.symlink(Path("builds") / previous.name, prev_link)
        os.replace(prev_link, out / "previous")
    os.symlink(Path("builds") / build.name, link)
    os.replace(link, out / "current")


def previous_builds(out: Path) -> set[str]:
    prev = out / "previous"
    return {os.readlink(prev).split("/")[-1]} if prev.is_symlink() else set()


def prune(out: Path, keep: set[str]) -> None:
    for build in (out / "builds").iterdir():
        if build.name not in keep:
            shutil.rmtree(build, ignore_errors=True)
    for tmp in out.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    # A build killed between writing a link and renaming it leaves these behind.
    for link in [*out.glob(".current-*"), *out.glob(".previous-*")]:
        link.unlink(missing_ok=True)
    if (out / "cache").is_dir():
        for tmp in (out / "cache").glob(".*.tmp"):
            tmp.unlink(missing_ok=True)


def rollback(out: Path) -> tuple[Manifest, Manifest]:
    """Serve the previous build again; the build it replaces becomes ``previous`` (so a
    second rollback undoes the first). Returns (now served, no longer served)."""
    with build_lock(out):
        prev = out / "previous"
        if not prev.is_symlink() or not prev.resolve().is_dir():
            raise IndexNotFound(f"there is no previous build in {out}/ to roll back to")
        target = prev.resolve()
        served = read_manifest(out)
        restored = read_manifest_at(target)
        point_current(out, target)
    logger.info("rolled back %s from %s to %s", out, served.build_id, restored.build_id)
    return restored, served


def current_build(out: Path) -> Path | None:
    """The build folder ``out`` serves, or None when there is none."""
    link = out / "current"
    if link.exists():
        return link.resolve()
    if (out / "manifest.json").exists():  # a plain folder holding one build
        return out
    return None


def read_manifest_at(build: Path) -> Manifest:
    try:
        data = json.loads((build / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise IndexCorrupt(f"{build}/manifest.json is unreadable ({exc}): {REBUILD_HINT}") from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        raise IndexMismatch(f"{build} has index format {version}, this bot reads {FORMAT_VERSION}: {REBUILD_HINT}")
    try:
        return Manifest(**data)
    except TypeError as exc:
        raise IndexCorrupt(f"{build}/manifest.json is unreadable ({exc}): {REBUILD_HINT}") from None


def read_manifest(out: Path) -> Manifest:
    """The manifest of the build ``out`` serves."""
    build = current_build(out)
    if build is None:
        raise IndexNotFound(f"no index in {out}/: {REBUILD_HINT}")
    return read_manifest_at(build)


def staleness(out: Path, corpus_hash: str, model: str) -> str | None:
    """Why the index in ``out`` needs a rebuild (missing, another model or format, corpus
    changed), or None when it is current."""
    try:
        manifest = read_manifest(out)
    except IndexNotFound:
        return f"there is no index in {out}/ yet"
    except (IndexCorrupt, IndexMismatch) as exc:
        return str(exc)
    if manifest.model != model:
        return f"the index was built with {manifest.model}, the bot runs {model}"
    if manifest.corpus_hash != corpus_hash:
        return "the corpus changed since the index was built"
    return None


def changes(out: Path, files: dict[str, str], model: str, max_passage_words: int, folder: str = "corpus") -> list[str]:
    """What differs between the index in ``out`` and a corpus whose files hash to ``files``
    (path under the corpus folder -> sha256): one line per difference, none when current."""
    try:
        manifest = read_manifest(out)
    except IndexNotFound:
        return [f"there is no index in {out}/ yet"]
    except (IndexCorrupt, IndexMismatch) as exc:
        return [str(exc)]
    found = []
    if manifest.model != model:
        found.append(f"the index was built with {manifest.model}, the bot runs {model}")
    if manifest.max_passage_words and manifest.max_passage_words != max_passage_words:
        found.append(f"passages were cut at {manifest.max_passage_words} words, the settings say {max_passage_words}")
    if manifest.files:
        for rel in sorted(set(files) | set(manifest.files)):
            old, new = manifest.files.get(rel), files.get(rel)
            if old is None:
                found.append(f"added: {folder}/{rel}")
            elif new is None:
                found.append(f"removed: {folder}/{rel}")
            elif old != new:
                found.append(f"changed: {folder}/{rel}")
    elif manifest.corpus_hash != hash_of_files(files):
        found.append("the corpus changed since the index was built")
    return found
