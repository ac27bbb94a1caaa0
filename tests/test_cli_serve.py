"""`xai-models serve` (the fake server as a command), which options each subcommand
accepts (as a real subprocess or in-process through ``main``), and what the CLI may
import."""

from __future__ import annotations

import ast
import asyncio
import json
import re
import signal
import sys
from pathlib import Path

import pytest

from tests._cli import SECRET, clean_env, default_sigint, error_line, run_cli
from xai_models_async.cli import main


@pytest.mark.parametrize(("argv", "flags"), [
    (["serve", "--timeout", "5"], "--timeout"),
    (["serve", "--base-url=http://127.0.0.1:1", "--retries", "1"], "--base-url, --retries"),
    (["serve", "--json"], "--json"),
    (["serve", "--demo"], "--demo"),
    (["--json", "serve"], "--json"),
    (["--demo", "--timeout", "3", "serve"], "--timeout, --demo"),
    (["--base-url", "http://127.0.0.1:1", "diff", "a.json", "b.json"], "--base-url"),
    (["diff", "a.json", "b.json", "--api-key", "k"], "--api-key"),
])
def test_options_of_other_commands_are_usage_errors(
        argv: list[str], flags: str, capsys: pytest.CaptureFixture[str]) -> None:
    # In-process: a usage error returns before anything starts (no server, no file read).
    assert main(argv) == 2
    captured = capsys.readouterr()

    assert f"does not take {flags}" in captured.err
    assert "usage:" in captured.err
    assert captured.out == ""


def test_serve_help_lists_only_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--host", "--port", "--catalog", "--api-key"):
        assert option in text
    for option in ("--base-url", "--timeout", "--retries", "--json", "--demo"):
        assert f"  {option}" not in text  # listed as an option of its own


# -- serve ----------------------------------------------------------------------------------


async def _start_serve(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "xai_models_async", "serve", "--port", "0", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=clean_env(),
        preexec_fn=default_sigint,
    )
    assert proc.stdout is not None
    try:
        first = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    match = re.search(r"http://127\.0\.0\.1:\d+", first)
    assert match, first
    return proc, match.group(0)


async def _stop(proc: asyncio.subprocess.Process,
                sig: int = signal.SIGTERM) -> tuple[int, str, str]:
    if proc.returncode is None:
        proc.send_signal(sig)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 10)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_serve_starts_answers_and_stops() -> None:
    proc, url = await _start_serve()
    try:
        result = await run_cli("list", env=clean_env(XAI_BASE_URL=url, XAI_API_KEY="anything"))
        assert result.code == 0, result.err
        assert "grok-3-mini" in result.out
    finally:
        code, out, err = await _stop(proc)
    assert code == 0, err  # SIGTERM is a normal stop
    assert f"export XAI_BASE_URL={url} XAI_API_KEY=anything" in out


async def test_serve_catalog_file_and_key(tmp_path: Path) -> None:
    # `catalog --json` prints exactly the shape `serve --catalog` reads.
    dumped = await run_cli("--demo", "--json", "catalog", env=clean_env())
    assert dumped.code == 0, dumped.err
    data = json.loads(dumped.out)
    data["language_models"] = [m for m in data["language_models"] if m["id"] == "grok-3"]
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data))
    proc, url = await _start_serve("--catalog", str(path), "--api-key", SECRET)
    try:
        good, bad = await asyncio.gather(
            run_cli("list", env=clean_env(XAI_BASE_URL=url, XAI_API_KEY=SECRET)),
            run_cli("list", env=clean_env(XAI_BASE_URL=url, XAI_API_KEY="xai-wrong-key-99")),
        )
    finally:
        code, out, err = await _stop(proc, signal.SIGINT)
    assert code == 0, err  # Ctrl-C is how a server is stopped, not a failure
    assert "Traceback" not in err
    assert good.code == 0, good.err
    assert [line.split()[0] for line in good.out.splitlines()[1:]] == ["grok-3"]
    assert bad.code == 1
    assert "API key" in error_line(bad)
    assert SECRET not in out + err


async def test_serve_bad_catalog_file_is_one_line(tmp_path: Path) -> None:
    result = await run_cli("serve", "--port", "0", "--catalog", str(tmp_path / "missing.json"))
    assert result.code == 1
    assert "missing.json" in error_line(result)




# -- imports --------------------------------------------------------------------------------

CLI_DIR = Path(__file__).resolve().parents[1] / "xai_models_async" / "cli"
PUBLIC = {"xai_models_async", "xai_models_async.types", "xai_models_async.testing"}


def test_the_cli_uses_only_the_public_api_and_the_standard_library() -> None:
    """What a user's own script could import: the package's public modules, msgspec (a
    runtime dependency) and the standard library; never a ``_private`` module."""
    modules = sorted(CLI_DIR.glob("*.py"))
    assert len(modules) > 3
    wrong = []
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path.name}: relative import"
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                ok = (name in PUBLIC or name.startswith("xai_models_async.cli")
                      or name == "msgspec"
                      or (top != "xai_models_async" and top in sys.stdlib_module_names))
                if not ok:
                    wrong.append(f"{path.name}: {name}")
    assert wrong == []
