"""The package's shape, checked: documented asyncio only, no import cycles, small modules.

These keep the request core as issue 10 left it: a later change that reaches into asyncio
internals, or makes two modules import each other, fails here rather than in review.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import xai_models_async

PACKAGE = Path(xai_models_async.__file__).resolve().parent
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)

# What a future asyncio (or uvloop, or anyio on top) may change without notice: private
# attributes of tasks and futures, callbacks' owners, coroutines moved between tasks.
FORBIDDEN = re.compile(
    r"_asyncio_future_blocking|__self__|_fut_waiter|remove_done_callback|get_coro"
    r"|_must_cancel|_PyTask|_step\b|_wakeup\b"
)
#: Lines a module may have ("no module over ~350 lines"); the single-flight one far fewer.
MAX_LINES = 360
MAX_FLIGHT_LINES = 120


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_only_documented_asyncio_is_used() -> None:
    hits = [
        f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}"
        for path in MODULES
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert hits == []


def test_the_package_has_no_import_cycle() -> None:
    """Every import between the package's modules counts, type-only and function-level
    ones included: a cycle of any kind makes the layers lie."""
    names = {module_name(path): path for path in MODULES}
    graph: dict[str, set[str]] = {name: set() for name in names}
    for name, path in names.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolve against this module's package
                    anchor = name.split(".")
                    anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from pkg import mod` imports the module; `from mod import name`, mod.
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in names
                           else base for alias in node.names]
            for target in targets:
                if target in names and target != name:
                    graph[name].add(target)
    # A package's __init__ re-exports its modules; importing the package itself from one
    # of them (`from xai_models_async import AsyncClient`) is a cycle, and stays one.
    cycle = _find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


def test_cycle_finder_finds_cycles() -> None:
    # The finder itself, so that the test above cannot pass by never finding anything.
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    limit = MAX_FLIGHT_LINES if path.name == "_flight.py" else MAX_LINES
    assert lines <= limit, f"{path.name} has {lines} lines; split it by idea"
