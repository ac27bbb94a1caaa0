"""Running the ``xai-models`` command as a real subprocess, for the tests/test_cli*.py files.

The fake server runs in the test's own event loop, so the child is started with
``asyncio.create_subprocess_exec`` and awaited: a blocking ``subprocess.run`` would stop
the loop, and with it the server the child is talking to.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from xai_models_async.testing import FakeXAIServer

SECRET = "xai-SeCrEt-cli-key-0123456789"


@dataclass
class Result:
    code: int
    out: str
    err: str


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any XAI_* setting (a developer's real key must not
    leak into a test) and without COLUMNS, so table widths are deterministic."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XAI_") and k != "COLUMNS"}
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


def env_for(server: FakeXAIServer, **extra: str) -> dict[str, str]:
    return clean_env(XAI_BASE_URL=server.url, XAI_API_KEY=SECRET, **extra)


def default_sigint() -> None:
    # A shell's background job starts with SIGINT ignored, and the child would inherit
    # that; Ctrl-C behaviour needs the default disposition.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def run_cli(*args: str, env: Mapping[str, str] | None = None,
                  timeout: float = 20) -> Result:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "xai_models_async", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=dict(env) if env is not None else clean_env(),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


async def run_cli_tty(*args: str, env: Mapping[str, str], timeout: float = 20) -> Result:
    """Like :func:`run_cli`, with stderr a pseudo-terminal (stdout stays a pipe): what a
    user at a terminal sees on stderr, ``\\r`` redraws included (the terminal's ``\\r\\n``
    read back as ``\\n``)."""
    master, slave = os.openpty()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "xai_models_async", *args,
            stdout=asyncio.subprocess.PIPE, stderr=slave, env=dict(env),
        )
    finally:
        os.close(slave)  # the child holds its own copy: EOF (EIO) comes when it exits

    def drain() -> bytes:
        chunks = []
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the last holder of the terminal closed it
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        reader = asyncio.get_running_loop().run_in_executor(None, drain)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        err = await asyncio.wait_for(reader, timeout)
    finally:
        os.close(master)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode().replace("\r\n", "\n"))


def error_line(result: Result) -> str:
    """The one error line on stderr (hint lines may follow it), checked for its form."""
    lines = result.err.strip().splitlines()
    assert lines, result
    assert lines[0].startswith("xai-models: error: "), result.err
    assert all(line.startswith("xai-models: hint: ") for line in lines[1:]), result.err
    assert "Traceback" not in result.err
    return lines[0]
