"""`xai-models serve`: the package's fake API server (``FakeXAIServer``) until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from xai_models_async.cli._commands import out
from xai_models_async.cli._common import CLIError

__all__ = ["run_serve"]


async def run_serve(args: argparse.Namespace) -> int:
    from xai_models_async.testing import FakeXAIServer

    key: str | None = args.api_key
    if key is not None and not key.strip():
        raise CLIError("--api-key is empty")
    try:
        server = FakeXAIServer(args.catalog, api_key=key, host=args.host, port=args.port)
    except ValueError as exc:  # an unreadable or malformed --catalog file
        raise CLIError(str(exc)) from exc
    try:
        await server.start()
    except OSError as exc:
        raise CLIError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from exc
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # SIGTERM (kill, a test's terminate(), a container stop) ends the server cleanly too.
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        # The URL is on the first line, so a script can read it when --port is 0.
        accepted = "only the --api-key key" if key is not None else "any key"
        shown_key = "<the --api-key value>" if key is not None else "anything"
        out([
            f"Fake xAI models API listening on {server.url} ({accepted} accepted)",
            "Point the client (or this command) at it with:",
            f"  export XAI_BASE_URL={server.url} XAI_API_KEY={shown_key}",
            "Press Ctrl-C to stop.",
        ])
        # Ctrl-C cancels this wait (asyncio.run then raises KeyboardInterrupt, which
        # main() treats as the normal way to stop a server); `finally` closes it first.
        await stop.wait()
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)
        await server.close()
    return 0
