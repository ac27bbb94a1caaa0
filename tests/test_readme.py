"""Every ```python block of README.md runs here, so the README cannot drift from the code.

The convention, for whoever edits README.md:

- A block is a fenced code block (``` or ~~~) whose info string starts with ``python``,
  ``py`` or ``python3``. Other fences (bash, plain ``` output, json) are not run.
- **Not run**: a block that only shows a signature or a fragment starts with the line
  ``# not run: <why>``. It is reported as skipped, with that reason, so it stays visible.
- **Test file**: a block that defines test functions (``def test_...`` or
  ``async def test_...``) is a user's test file. It runs with pytest in a subprocess,
  from a directory of its own whose pytest.ini holds only the setting pytest-asyncio
  asks every project for (``asyncio_default_fixture_loop_scope = function``): no
  conftest, and pytest-asyncio's strict mode, so tests need ``@pytest.mark.asyncio``.
  No XAI_* variables are set; a test brings its own server or mock. It must pass.
  The package's pytest plugin (``xai_server``, ``xai_mock``) is there as for any user.
- **Script**: any other block runs as ``__main__`` in a subprocess, with ``XAI_API_KEY``
  and ``XAI_BASE_URL`` set to a ``FakeXAIServer`` started for it, so a plain
  ``xm.AsyncClient()`` talks to that server; a block with async code runs it with its own
  ``asyncio.run(...)``. A block calling ``web.run_app(app)`` gets a stand-in (see
  tests/_sandbox.py) that serves the app on a free port, GETs each
  ``http://localhost:PORT/...`` URL written in the block and needs a 200 from each.
- Every block is self-contained: it imports what it uses (a reader copies one block).
- Every block runs with ``-W error`` and must finish within 30 s. It must not reach the
  network: an audit hook refuses DNS lookups of and connections to non-loopback hosts,
  and a refused attempt fails the block even if the block caught the error.
- A block that would run without showing anything working fails: one with nothing at
  top level but imports and ``def``/``class`` statements, or one defining a function
  or class it never uses. Complete it or mark it ``# not run:``.
- Blocks are named after their section heading (up to a colon) and their position in
  it: ``quick-start-2`` is the second python block under "## Quick start".
- A block failing today in a section this test's author does not maintain is listed in
  ``KNOWN_BROKEN`` with the reason: a strict xfail, so fixing it fails the test until
  the entry is removed (and an entry naming no block, or a block now marked
  ``# not run:``, fails ``test_known_broken_entries_are_current``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._sandbox import TIMEOUT, clean_env, run_sandboxed
from xai_models_async.testing import FakeXAIServer

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
API_KEY = "xai-readme-test-key"
PYTEST_INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"

# id -> why it fails. Sections owned by the core engineer; report, don't edit there.
KNOWN_BROKEN: dict[str, str] = {}

_NOT_RUN = re.compile(r"#\s*not run:\s*(?P<why>\S.*)")
_PYTHON_INFO = {"python", "py", "python3"}


@dataclass(frozen=True)
class Block:
    id: str
    line: int  # 1-based line of the opening fence in the README
    code: str

    @property
    def not_run(self) -> str | None:
        """The reason after ``# not run:`` on the first line, or None."""
        first = self.code.lstrip("\n").split("\n", 1)[0].strip()
        match = _NOT_RUN.fullmatch(first)
        return match["why"] if match else None


def _slug(heading: str) -> str:
    title = heading.split(":", 1)[0]
    return "-".join(re.findall(r"[a-z0-9]+", title.lower())) or "top"


def python_blocks(markdown: str) -> list[Block]:
    """The python blocks of ``markdown``, named after their section and position."""
    blocks: list[Block] = []
    heading, ordinal = "top", 0
    lines = markdown.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)", line)
        if fence is None:
            header = re.match(r"^#{1,6}\s+(.*)", line)
            if header:
                heading, ordinal = _slug(header.group(1)), 0
            i += 1
            continue
        marker, info = fence.group(1), fence.group(2).lower()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not re.match(
            rf"^ {{0,3}}{re.escape(marker[0])}{{{len(marker)},}}\s*$", lines[i]
        ):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence (or the end of the file)
        if info in _PYTHON_INFO:
            ordinal += 1
            blocks.append(Block(f"{heading}-{ordinal}", start + 1, "\n".join(body) + "\n"))
    return blocks


def is_test_file(code: str) -> bool:
    tree = ast.parse(code)
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name.startswith("test")
        for node in tree.body
    )


def fragment_problem(code: str) -> str | None:
    """Why ``code`` would run without showing anything working, or None."""
    tree = ast.parse(code)
    definitions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    if all(isinstance(node, (ast.Import, ast.ImportFrom, *definitions)) for node in tree.body):
        return "nothing runs: it only imports and defines"
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    unused = [
        node.name for node in tree.body
        if isinstance(node, definitions) and not node.decorator_list and node.name not in used
    ]
    if unused:
        return f"defines {', '.join(unused)} but never uses it"
    return None


async def run_block(block: Block, workdir: Path, *, timeout: float = TIMEOUT) -> None:
    """Run one block as the convention above says; fail the test if it does not pass."""
    where = f"README.md line {block.line} ({block.id})"
    if block.not_run is not None:
        pytest.skip(f"{where}: not run: {block.not_run}")
    try:
        ast.parse(block.code)
    except SyntaxError as exc:
        pytest.fail(f"{where}: not valid Python ({exc}); mark it `# not run: <why>` if it "
                    "is not meant to be")
    if is_test_file(block.code):
        path = workdir / f"test_readme_{block.id.replace('-', '_')}.py"
        path.write_text(block.code, encoding="utf-8")
        (workdir / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
        status, out = await run_sandboxed(
            ["pytest", "-p", "no:cacheprovider", "-q", path.name],
            cwd=workdir, env=clean_env(), timeout=timeout,
        )
        if status != 0 or not re.search(r"\b\d+ passed\b", out):
            pytest.fail(f"{where}: its tests did not pass (exit {status}):\n{out}")
        return
    problem = fragment_problem(block.code)
    if problem is not None:
        pytest.fail(f"{where}: {problem}. Complete it so it runs, or make its first line "
                    "`# not run: <why>` (see the top of tests/test_readme.py).")
    path = workdir / f"readme_{block.id.replace('-', '_')}.py"
    path.write_text(block.code, encoding="utf-8")
    async with FakeXAIServer() as server:
        status, out = await run_sandboxed(
            ["script", str(path)], cwd=workdir, timeout=timeout,
            env=clean_env(XAI_API_KEY=API_KEY, XAI_BASE_URL=server.url),
        )
    if status != 0:
        pytest.fail(f"{where} failed (exit {status}) against the fake server, "
                    f"which had {server.request_count} request(s):\n{out}")


# --------------------------------------------------------------------------- the README

BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def readme_block(*containing: str) -> Block:
    """The one README block holding every string of ``containing`` (for tests that run a
    block in a setting of their own)."""
    (block,) = [b for b in BLOCKS if all(text in b.code for text in containing)]
    return block


def _params() -> Iterator[object]:
    for block in BLOCKS:
        marks = []
        if block.id in KNOWN_BROKEN:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_BROKEN[block.id]))
        yield pytest.param(block, id=block.id, marks=marks)


@pytest.mark.parametrize("block", list(_params()))
async def test_readme_block(block: Block, tmp_path: Path) -> None:
    await run_block(block, tmp_path)


def test_readme_has_blocks_with_unique_ids() -> None:
    ids = [block.id for block in BLOCKS]
    assert len(ids) >= 3
    assert len(ids) == len(set(ids)), ids


def test_known_broken_entries_are_current() -> None:
    blocks = {block.id: block for block in BLOCKS}
    for name in KNOWN_BROKEN:
        assert name in blocks, f"KNOWN_BROKEN names {name!r}, which README.md no longer has"
        assert blocks[name].not_run is None, (
            f"{name} is marked `# not run:` now; remove it from KNOWN_BROKEN"
        )


# ------------------------------------------------------------- the harness, on samples

SAMPLE = '''\
# Title
```python
print("top")
```
## Quick start: with a colon
Text.
```py
import asyncio
```
~~~python
# not run: signature
f(a, b)
~~~
```bash
echo not python
```
````python
nested = """
```
"""
````
### `AsyncClient`
```python
async def test_x(): ...
```
'''


def test_blocks_are_found_and_named() -> None:
    blocks = python_blocks(SAMPLE)
    assert [b.id for b in blocks] == [
        "title-1", "quick-start-1", "quick-start-2", "quick-start-3", "asyncclient-1",
    ]
    assert blocks[0].line == 2
    assert blocks[0].code == 'print("top")\n'
    assert blocks[2].not_run == "signature"
    assert [b.not_run for b in blocks].count(None) == 4
    assert "```" in blocks[3].code  # a longer fence holds a shorter one
    assert is_test_file(blocks[4].code)
    assert not is_test_file(blocks[0].code)


@pytest.mark.parametrize(("code", "problem"), [
    ("import asyncio\nasync def main(): ...\n", "nothing runs"),
    ("async def main(): ...\nasync def unused(): ...\nimport asyncio\nasyncio.run(main())\n",
     "defines unused but never uses it"),
    ("import xai_models_async as xm\nxm.RetryPolicy(max_retries=1)\n", None),
    ("from aiohttp import web\nasync def handler(r): ...\napp = web.Application()\n"
     "app.router.add_get('/', handler)\n", None),
])
def test_fragments_are_caught(code: str, problem: str | None) -> None:
    found = fragment_problem(code)
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize("code", [
    # A lookup of a public name, even one the block catches.
    "import socket\ntry:\n    socket.getaddrinfo('example.com', 443)\nexcept OSError:\n"
    "    pass\n",
    # The client against the real service, error swallowed.
    "import asyncio\nimport xai_models_async as xm\n"
    "async def main():\n"
    "    async with xm.AsyncClient(base_url='https://api.x.ai',\n"
    "                              retry=xm.RetryPolicy.none()) as client:\n"
    "        try:\n"
    "            await client.models.list()\n"
    "        except xm.XAIError:\n"
    "            pass\n"
    "asyncio.run(main())\n",
])
async def test_a_block_reaching_the_network_fails(code: str, tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="network access refused"):
        await run_block(Block("net-1", 1, code), tmp_path)


async def test_a_hanging_block_times_out(tmp_path: Path) -> None:
    block = Block("hang-1", 1, "import time\ntime.sleep(60)\n")
    with pytest.raises(pytest.fail.Exception, match="timed out after 1 s"):
        await run_block(block, tmp_path, timeout=1.0)


async def test_a_warning_fails_a_block(tmp_path: Path) -> None:
    code = "import warnings\nwarnings.warn('drifted', DeprecationWarning)\n"
    with pytest.raises(pytest.fail.Exception, match="drifted"):
        await run_block(Block("warn-1", 1, code), tmp_path)


async def test_a_failing_test_file_fails(tmp_path: Path) -> None:
    code = "def test_no():\n    assert 1 == 2\n"
    with pytest.raises(pytest.fail.Exception, match="did not pass"):
        await run_block(Block("t-1", 1, code), tmp_path)


async def test_invalid_python_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="not valid Python"):
        await run_block(Block("bad-1", 1, "xm.AsyncClient(api_key=None, *, x=1)\n"), tmp_path)


async def test_a_marked_block_is_skipped_visibly(tmp_path: Path) -> None:
    with pytest.raises(pytest.skip.Exception, match="not run: signature"):
        await run_block(Block("sig-1", 1, "# not run: signature\nf(x)\n"), tmp_path)
