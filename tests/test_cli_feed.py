"""`xai-models diff OLD.json NEW.json` and `xai-models watch`: changes, not snapshots."""

from __future__ import annotations

import asyncio
import copy
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests._cli import clean_env, default_sigint, env_for, error_line, run_cli
from xai_models_async.testing import FakeXAIServer, Fault, default_catalog


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeXAIServer]:
    async with FakeXAIServer() as srv:
        yield srv


def changed_catalog(catalog: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """grok-3 repriced ($3 -> $2.50 per 1M prompt tokens) and an alias dropped,
    grok-3-mini removed, grok-5 added, grok-imagine-image given a price per image."""
    new = copy.deepcopy(catalog)
    language = new["language_models"]
    grok3 = next(m for m in language if m["id"] == "grok-3")
    grok3["prompt_text_token_price"] = 25000
    grok3["aliases"] = ["grok-3-latest"]
    language[:] = [m for m in language if m["id"] != "grok-3-mini"]
    language.append({**grok3, "id": "grok-5", "aliases": ["grok-5-latest"]})
    new["image_generation_models"][0]["image_price"] = 200000000
    return new


@pytest_asyncio.fixture
async def saved(tmp_path: Path) -> tuple[Path, Path]:
    """OLD.json and NEW.json as `catalog --json` writes them."""
    dumped = await run_cli("--demo", "--json", "catalog", env=clean_env())
    assert dumped.code == 0, dumped.err
    old = json.loads(dumped.out)
    (tmp_path / "old.json").write_text(dumped.out)
    (tmp_path / "new.json").write_text(json.dumps(changed_catalog(old)))
    return tmp_path / "old.json", tmp_path / "new.json"


# -- diff -----------------------------------------------------------------------------------


async def test_diff_prints_each_change_with_usd_prices(saved: tuple[Path, Path]) -> None:
    old, new = saved
    result = await run_cli("diff", str(old), str(new))
    assert result.code == 0, result.err
    assert result.err == ""
    assert result.out.splitlines() == [
        "removed  language   grok-3-mini",
        "changed  language   grok-3: prompt_text_token_price $3.00 → $2.50 per 1M tokens; "
        "aliases grok-3-latest, grok-3-beta → grok-3-latest",
        "added    language   grok-5 (aliases: grok-5-latest)",
        "changed  image      grok-imagine-image: image_price - → $0.02 per image",
    ]


async def test_diff_json_is_the_changes(saved: tuple[Path, Path]) -> None:
    old, new = saved
    result = await run_cli("diff", str(old), str(new), "--json")
    assert result.code == 0, result.err
    assert result.err == ""
    changes = json.loads(result.out)
    assert [(c["change"], c["kind"], c["model_id"]) for c in changes] == [
        ("removed", "language_models", "grok-3-mini"),
        ("changed", "language_models", "grok-3"),
        ("added", "language_models", "grok-5"),
        ("changed", "image_generation_models", "grok-imagine-image"),
    ]
    price = changes[1]["fields"][0]
    # Exact decimal strings, never floats.
    assert price == {"name": "prompt_text_token_price", "old": "3", "new": "2.5",
                     "unit": "USD per 1M tokens"}
    assert changes[2]["model"]["aliases"] == ["grok-5-latest"]
    assert changes[3]["fields"][0]["new"] == "0.02"


async def test_diff_of_equal_catalogs(saved: tuple[Path, Path]) -> None:
    old, _ = saved
    text, as_json = await asyncio.gather(run_cli("diff", str(old), str(old)),
                                         run_cli("--json", "diff", str(old), str(old)))
    assert (text.code, text.out, text.err) == (0, "(no changes)\n", "")
    assert (as_json.code, json.loads(as_json.out), as_json.err) == (0, [], "")


async def test_diff_compares_only_the_kinds_both_files_have(
        saved: tuple[Path, Path], tmp_path: Path) -> None:
    # A catalog saved before embedding models existed must not read as "v1 added".
    old, new = saved
    data = json.loads(old.read_text())
    del data["embedding_models"]
    older = tmp_path / "older.json"
    older.write_text(json.dumps(data))
    result = await run_cli("diff", str(older), str(new))
    assert result.code == 0, result.err
    assert "embedding" not in result.out
    assert "grok-5" in result.out


@pytest.mark.parametrize(("content", "message"), [
    (None, "cannot read"),
    ("", "is not a catalog written by `xai-models catalog --json`"),
    ("{not json", "is not a catalog written by `xai-models catalog --json`"),
    ("[1, 2]", "Expected `object`, got `array`"),
    ('{"language_models": [{"id": 3}]}', "$.language_models[0]"),
    ('{"something": []}', "has none of the keys of a catalog"),
    (b"\xff\xfe{", "is not a catalog"),
])
async def test_diff_bad_file_is_one_line_and_exit_2(
        saved: tuple[Path, Path], tmp_path: Path, content: str | bytes | None,
        message: str) -> None:
    bad = tmp_path / "bad.json"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    elif content is not None:
        bad.write_text(content)
    result = await run_cli("diff", str(saved[0]), str(bad))
    assert result.code == 2, result
    line = error_line(result)
    assert len(result.err.strip().splitlines()) == 1
    assert str(bad) in line
    assert message in line
    assert result.out == ""


# -- watch ----------------------------------------------------------------------------------


async def _wait_for(predicate: Any, what: str) -> None:
    for _ in range(400):
        if predicate():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"timed out waiting for {what}")


async def _watch(server: FakeXAIServer, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "xai_models_async", "watch", "--interval", "0.2", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env_for(server), preexec_fn=default_sigint,
    )


async def _lines(proc: asyncio.subprocess.Process, n: int) -> list[str]:
    assert proc.stdout is not None
    return [(await asyncio.wait_for(proc.stdout.readline(), 10)).decode().rstrip("\n")
            for _ in range(n)]


async def _interrupt(proc: asyncio.subprocess.Process) -> tuple[bytes, bytes]:
    proc.send_signal(signal.SIGINT)
    try:
        return await asyncio.wait_for(proc.communicate(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_watch_prints_changes_as_they_come_and_survives_failed_polls(
        server: FakeXAIServer) -> None:
    proc = await _watch(server, "--retries", "0")
    try:
        # The second poll has started, so the first (the baseline) is complete.
        await _wait_for(lambda: server.count("/v1/language-models") >= 2, "two polls")
        server.inject(Fault.error(503), path="/v1/language-models", times=1)
        await _wait_for(lambda: server.count("/v1/language-models") >= 4, "a failed poll")
        server.set_catalog(changed_catalog(server.catalog))
        lines = await _lines(proc, 4)
    finally:
        out, err = await _interrupt(proc)
    assert sorted(lines) == sorted([
        "removed  language   grok-3-mini",
        "changed  language   grok-3: prompt_text_token_price $3.00 → $2.50 per 1M tokens; "
        "aliases grok-3-latest, grok-3-beta → grok-3-latest",
        "added    language   grok-5 (aliases: grok-5-latest)",
        "changed  image      grok-imagine-image: image_price - → $0.02 per image",
    ])
    assert out == b""  # nothing else came: the failed poll removed nothing
    assert proc.returncode == 130
    text = err.decode()
    assert "Traceback" not in text
    # The failed poll is reported (stderr, even piped) and the watch went on.
    assert text.count("xai-models: a poll failed, trying again in 0.2 s: ") == 1
    assert "503" in text
    assert text.rstrip().splitlines()[-1] == "xai-models: interrupted"


async def test_watch_json_lines_for_the_chosen_kinds(server: FakeXAIServer) -> None:
    proc = await _watch(server, "--json", "--kind", "image")
    try:
        await _wait_for(lambda: server.count("/v1/image-generation-models") >= 2, "two polls")
        server.set_catalog(changed_catalog(server.catalog))
        (line,) = await _lines(proc, 1)
    finally:
        out, err = await _interrupt(proc)
    change = json.loads(line)
    assert (change["change"], change["kind"], change["model_id"]) == (
        "changed", "image_generation_models", "grok-imagine-image")
    assert change["fields"] == [{"name": "image_price", "old": None, "new": "0.02",
                                 "unit": "USD per image"}]
    assert out == b""  # the language changes are not watched
    assert proc.returncode == 130
    assert "Traceback" not in err.decode()


async def test_watch_since_a_saved_catalog(server: FakeXAIServer, tmp_path: Path) -> None:
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(changed_catalog(default_catalog())))
    proc = await _watch(server, "--since", str(saved), "--kind", "language")
    try:
        lines = await _lines(proc, 3)  # the first poll is compared with the file
    finally:
        await _interrupt(proc)
    assert sorted(line.split()[0] for line in lines) == ["added", "changed", "removed"]
    assert any("grok-3-mini" in line and line.startswith("added") for line in lines)
