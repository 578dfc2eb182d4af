"""The codebase's shape, as docs/ARCHITECTURE.md draws it: stages as sub-packages, imports
only going down the stages, and modules and functions short enough to read at once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"

# Each stage may import the ones below it (a lower rank), never one above. ``store`` and
# ``serve`` share a rank: neither imports the other; so do ``evaluation`` and ``curation``. Rank 0 is the foundation every stage
# uses: bot.settings, bot.errors and bot.replies.
RANKS = {"": 0, "ingest": 1, "search": 2, "safety": 3, "answer": 4, "store": 5, "serve": 5, "evaluation": 6, "curation": 6, "model": 7, "adapters": 8}
MAX_MODULE_LINES = 330  # "about 300"
MAX_FUNCTION_LINES = 50


def modules() -> list[Path]:
    return sorted(BOT.rglob("*.py"))


def stage(module: str) -> str:
    """``bot.answer.safety`` -> ``answer``; ``bot.settings`` -> ``""``."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] == "__main__":
        return "adapters"  # python -m bot runs the command line
    return parts[1] if len(parts) > 1 and parts[1] in RANKS else ""


def name_of(path: Path, root: Path = BOT) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """Every bot module ``path`` imports, anywhere in it (also inside functions)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bot"):
            assert node.level == 0, f"{path}:{node.lineno}: use absolute imports (from bot.stage.module import ...)"
            if node.module == "bot":
                found += [(node.lineno, f"bot.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("bot.")]
    return found


def test_every_stage_is_a_package_the_ranks_know():
    packages = {p.name for p in BOT.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(RANKS) - {""}


def upward_imports(paths: list[Path], root: Path = BOT) -> list[str]:
    found = []
    for path in paths:
        here = name_of(path, root)
        for line, target in imports(path):
            if RANKS[stage(target)] > RANKS[stage(here)] or (
                stage(target) != stage(here) and RANKS[stage(target)] == RANKS[stage(here)]
            ):
                found.append(f"{path.relative_to(root.parent)}:{line} imports {target}")
    return found


def test_imports_only_go_down_the_stages():
    upward = upward_imports(modules())
    assert not upward, "imports against the stages' order (see docs/ARCHITECTURE.md):\n" + "\n".join(upward)


def test_the_order_check_finds_an_upward_import(tmp_path: Path):
    root = tmp_path / "bot"
    (root / "search").mkdir(parents=True)
    (root / "search" / "index.py").write_text("from bot.answer.service import Bot\nfrom bot.ingest.corpus import Chunk\n")
    (root / "store").mkdir()
    (root / "store" / "log.py").write_text("def f():\n    from bot.serve.runtime import BotHolder\n")
    paths = sorted(root.rglob("*.py"))
    assert upward_imports(paths, root) == [
        "bot/search/index.py:1 imports bot.answer.service",
        "bot/store/log.py:2 imports bot.serve.runtime",
    ]


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(BOT.parent)))
def test_module_is_short(path: Path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(BOT.parent)} has {lines} lines: split it along its seams"


def test_functions_are_short():
    long = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(BOT.parent)}:{node.lineno} {node.name} ({length} lines)")
    assert not long, "functions over 50 lines:\n" + "\n".join(long)
