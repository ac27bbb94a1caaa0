"""``main``: parse, run one command in its own event loop, and turn every outcome into an
exit code and at most a few lines on stderr."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import traceback
from collections.abc import Sequence

from xai_models_async import APITimeoutError, XAIError
from xai_models_async.cli._args import build_parser, check_global_options
from xai_models_async.cli._commands import api_key, attempt_limit, make_client, run_command
from xai_models_async.cli._common import PROG, CLIError, UsageError
from xai_models_async.cli._feed import run_diff, run_watch
from xai_models_async.cli._progress import Progress, setup_logging
from xai_models_async.cli._serve import run_serve

__all__ = ["main"]

_DEMO_KEY = "xai-demo-key"  # the demo server accepts any non-empty key


async def _run(args: argparse.Namespace, progress: Progress) -> int:
    if args.command == "serve":
        return await run_serve(args)
    if args.command == "diff":
        run_diff(args, progress)
        return 0
    run = run_watch if args.command == "watch" else run_command
    if args.demo:
        from xai_models_async.testing import FakeXAIServer

        async with FakeXAIServer() as server:
            progress.note("using built-in demo data (the examples of xAI's API reference), "
                          "not the live API")
            async with make_client(args, key=_DEMO_KEY, base_url=server.url) as client:
                await run(args, client, progress)
        return 0
    client = make_client(args, key=api_key(args), base_url=args.base_url)
    async with client:
        await run(args, client, progress)
    return 0


def _note(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"


def _explain(exc: BaseException, args: argparse.Namespace) -> str:
    text = _one_line(str(exc))
    if isinstance(exc, APITimeoutError):
        # Name the limit and the option: a user who waited a minute needs to know the
        # wait was N attempts of --timeout seconds each, and how to change that.
        text += (f"; each attempt may take {attempt_limit(args):g} s (--timeout SECONDS), "
                 "retried per --retries N")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``) and return the exit code:
    0 ok, 1 an API or configuration error, 2 a usage error (bad options, or a file `diff`
    cannot read), 130 interrupted."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        check_global_options(parser, args, extra)
    except SystemExit as exc:  # --help, --version (0) and usage errors (2), already printed
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    debug: bool = args.debug
    progress = Progress.for_run(as_json=args.json, debug=debug)
    setup_logging(debug=debug, progress=progress)
    try:
        return asyncio.run(_run(args, progress))
    except KeyboardInterrupt:
        progress.clear()
        if args.command == "serve":
            _note("stopped")
            return 0  # Ctrl-C is how a server is meant to be stopped, not a failure
        _note("interrupted")
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error worth a message. Point stdout
        # at devnull so the interpreter's final flush does not raise again.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (XAIError, CLIError) as exc:
        progress.clear()
        if debug:
            traceback.print_exc()
        _note(f"error: {_explain(exc, args)}")
        for hint in getattr(exc, "hints", ()):
            _note(f"hint: {hint}")
        return 2 if isinstance(exc, UsageError) else 1
    except Exception as exc:
        progress.clear()
        if debug:
            traceback.print_exc()
            _note(f"error: {type(exc).__name__}: {_one_line(str(exc))}")
        else:
            _note(f"error: {type(exc).__name__}: {_one_line(str(exc))} "
                  "(run with --debug for the traceback)")
        return 1
