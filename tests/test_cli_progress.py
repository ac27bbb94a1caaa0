"""The status line on stderr: only on a terminal, never with --json or when piped, and
erased before the result is written. stderr is a pseudo-terminal here (``os.openpty``),
and one test runs the command in a real terminal emulator (tmux) when one is installed."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests._cli import clean_env, env_for, run_cli, run_cli_tty
from xai_models_async.testing import FakeXAIServer, Fault

ERASE = re.compile(r"\r +\r")


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeXAIServer]:
    async with FakeXAIServer() as srv:
        yield srv


def screen(text: str) -> list[str]:
    """What a terminal shows after ``text``: each ``\\r`` returns to the line's start and
    what follows overwrites it (enough for the status line, which only redraws in place)."""
    lines = []
    for raw in text.split("\n"):
        line: list[str] = []
        for part_index, part in enumerate(raw.split("\r")):
            cursor = 0 if part_index else len(line)
            for ch in part:
                if cursor < len(line):
                    line[cursor] = ch
                else:
                    line.append(ch)
                cursor += 1
        lines.append("".join(line).rstrip())
    while lines and not lines[-1]:
        lines.pop()
    return lines


def test_screen_simulation() -> None:
    assert screen("abc\r   \rxy\n") == ["xy"]
    assert screen("note\nstatus…\r       \r") == ["note"]


async def test_catalog_details_counts_on_a_terminal_then_prints_tables() -> None:
    result = await run_cli_tty("--demo", "catalog", "--details", env=clean_env())
    assert result.code == 0, result.err
    # The count is drawn as the gets come back: 4 language, 1 image, 1 video, 1 embedding.
    assert "xai-models: fetched 0 of 7 model details" in result.err
    assert "xai-models: fetched 7 of 7 model details" in result.err
    # ... and erased before the tables were written: only the demo notice stays.
    assert result.err.endswith("\r")
    assert screen(result.err) == [
        "xai-models: using built-in demo data (the examples of xAI's API reference), "
        "not the live API"]
    assert "Language models (4)" in result.out
    assert "Embedding models (1)" in result.out
    assert "fetched" not in result.out


async def test_piped_output_has_no_progress_and_json_is_pure() -> None:
    as_json, table = await asyncio.gather(
        run_cli("--demo", "catalog", "--details", "--json", env=clean_env()),
        run_cli("--demo", "catalog", "--details", env=clean_env()),
    )
    assert as_json.code == 0, as_json.err
    assert as_json.err == ""
    assert set(json.loads(as_json.out)) == {
        "models", "language_models", "image_generation_models", "video_generation_models",
        "embedding_models"}
    assert table.code == 0, table.err
    assert table.err == ""
    assert "Language models (4)" in table.out


async def test_json_on_a_terminal_has_no_progress() -> None:
    result = await run_cli_tty("--demo", "--json", "catalog", "--details", env=clean_env())
    assert result.code == 0, result.err
    assert result.err == ""
    json.loads(result.out)


async def test_a_slow_answer_shows_waiting_then_is_erased(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(1.2), path="/v1/language-models", times=1)
    result = await run_cli_tty("list", env=env_for(server))
    assert result.code == 0, result.err
    assert f"xai-models: waiting for {server.url} (up to 20 s an attempt)…" in result.err
    assert screen(result.err) == []  # erased
    assert result.out.splitlines()[0].startswith("ID")


async def test_a_fast_answer_shows_nothing(server: FakeXAIServer) -> None:
    result = await run_cli_tty("list", env=env_for(server))
    assert result.code == 0, result.err
    assert result.err == ""  # under the delay: no line drawn, nothing to erase


async def test_slow_but_piped_or_json_shows_nothing(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(0.8), path="/v1/language-models", times=2)
    piped, json_tty = await asyncio.gather(
        run_cli("list", env=env_for(server)),
        run_cli_tty("list", "--json", env=env_for(server)),
    )
    assert (piped.code, piped.err) == (0, "")
    assert (json_tty.code, json_tty.err) == (0, "")


async def test_retries_are_noted_with_their_delay_once(server: FakeXAIServer) -> None:
    server.inject(Fault.error(503), path="/v1/video-generation-models", times=1)
    tty = await run_cli_tty("list", "video", env=env_for(server))
    server.inject(Fault.error(503), path="/v1/video-generation-models", times=1)
    piped = await run_cli("list", "video", env=env_for(server))
    assert server.count("/v1/video-generation-models") == 4  # each run retried once
    assert tty.code == 0, tty.err
    (note,) = screen(tty.err)
    assert re.fullmatch(
        r"xai-models: GET /v1/video-generation-models attempt 1 failed, "
        r"retrying in \d+\.\d+ s: .*503.*", note), note
    assert note.count(" s") == 1  # the delay once
    assert "grok-imagine-video" in tty.out
    # Piped, the same retry is silent.
    assert piped.code == 0, piped.err
    assert piped.err == ""


async def test_an_error_clears_the_line_first(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(5), path="/v1/language-models", times=1)
    result = await run_cli_tty("list", "--timeout", "0.8", "--retries", "0",
                               env=env_for(server))
    assert result.code == 1
    (line,) = screen(result.err)
    assert line.startswith("xai-models: error: ")
    assert "each attempt may take 0.8 s (--timeout SECONDS)" in line
    assert ERASE.search(result.err)  # the waiting line was drawn, then erased


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_in_a_real_terminal_the_tables_replace_the_progress(tmp_path: Path) -> None:
    # stdout and stderr on one terminal, as a user sees them.
    socket = f"xai-cli-test-{time.monotonic_ns()}"
    done = tmp_path / "done"
    command = (f"{sys.executable} -m xai_models_async --demo catalog --details; "
               f"echo EXIT=$? > {done}; exec sleep 60")

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-L", socket, *args], check=True,
                              capture_output=True, text=True, env=clean_env(), timeout=20,
                              cwd=Path(__file__).resolve().parents[1]).stdout

    tmux("new-session", "-d", "-x", "200", "-y", "50", "sh", "-c", command)
    try:
        deadline = time.monotonic() + 20
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert done.read_text().strip() == "EXIT=0"
        pane = tmux("capture-pane", "-p").splitlines()
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, timeout=20)
    assert pane[0].startswith("xai-models: using built-in demo data")
    assert pane[1] == "Language models (4)"  # the status line was there, and is gone
    assert not any("fetched" in line for line in pane)
    assert any(line.startswith("grok-3 ") and "$15.00" in line for line in pane)
