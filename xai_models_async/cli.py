"""The ``xai-models`` command: list, get, resolve and browse xAI models from a shell.

::

    xai-models --demo catalog            # built-in example data: no key, no network
    xai-models list image --json | jq .  # exactly the decoded objects
    xai-models resolve grok-4-latest
    xai-models serve --port 8000         # a local fake API for other programs

Standard library only (argparse), on top of the public ``AsyncClient``. ``main`` returns
the exit code: 0 on success, 1 for an API or configuration error, 2 for a usage error
(argparse's own), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, TextIO

import msgspec

from xai_models_async import (
    AsyncClient,
    Catalog,
    Resource,
    RetryPolicy,
    XAIError,
    __version__,
)
from xai_models_async.types import AnyModel

__all__ = ["main"]

PROG = "xai-models"

#: The command's kind names -> the client's resource attribute (also the catalog keys).
KINDS: dict[str, str] = {
    "language": "language_models",
    "image": "image_generation_models",
    "video": "video_generation_models",
    "models": "models",
}

_TITLES: dict[str, str] = {
    "language": "Language models",
    "image": "Image generation models",
    "video": "Video generation models",
    "models": "All models (/v1/models)",
}

_DEMO_KEY = "xai-demo-key"  # the demo server accepts any non-empty key

_KEY_HELP = (
    "set it with `export XAI_API_KEY=...` or pass --api-key KEY "
    "(create one at https://console.x.ai), or try --demo for built-in example data"
)


class CLIError(Exception):
    """A problem the user can fix, reported as one line and exit code 1."""


# -- argument parsing ----------------------------------------------------------------------


def _name(text: str) -> str:
    # An empty id is a usage mistake (exit 2), not an API error.
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):  # `not >` also rejects NaN
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be within 0..65535, got {text!r}")
    return value


def _global_options(*, suppress: bool, api_key_help: str | None = None) -> argparse.ArgumentParser:
    """The options accepted both before and after the subcommand.

    argparse parses a subcommand's options into a fresh namespace and then copies every
    attribute over the main parser's, defaults included; so the subparsers' copies default
    to SUPPRESS (no attribute at all), and ``--json get grok-3`` keeps its ``--json``.
    """
    parser = argparse.ArgumentParser(add_help=False)

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("global options (before or after the subcommand)")
    group.add_argument(
        "--api-key", metavar="KEY", default=default(None),
        help=api_key_help or "xAI API key (default: $XAI_API_KEY)",
    )
    group.add_argument(
        "--base-url", metavar="URL", default=default(None),
        help="API base URL (default: $XAI_BASE_URL, else https://api.x.ai)",
    )
    group.add_argument(
        "--timeout", metavar="SECONDS", type=_positive_float, default=default(None),
        help="seconds one HTTP attempt may take (default: 20)",
    )
    group.add_argument(
        "--retries", metavar="N", type=_non_negative_int, default=default(None),
        help="retries after a failed attempt (default: 2; 0 turns them off)",
    )
    group.add_argument(
        "--json", action="store_true", default=default(False),
        help="print the decoded objects as JSON (for jq) instead of a table",
    )
    group.add_argument(
        "--debug", action="store_true", default=default(False),
        help="log requests and retries to stderr; show tracebacks",
    )
    group.add_argument(
        "--demo", action="store_true", default=default(False),
        help="run against built-in example data (no key or network needed)",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Browse the models of the xAI API.",
        epilog="Try `xai-models --demo catalog` to see it work without an API key.",
        parents=[_global_options(suppress=False)],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    shared = [_global_options(suppress=True)]
    kind_names = list(KINDS)

    p = commands.add_parser(
        "list", parents=shared, help="list the models of one kind (default: language)",
        description="List the models of one kind as a table (or JSON with --json).",
    )
    p.add_argument("kind", nargs="?", default="language", choices=kind_names,
                   help="which list (default: %(default)s)")

    p = commands.add_parser(
        "get", parents=shared, help="show one model by its id",
        description="Show one model by its exact id. Without --kind it asks /v1/models/{id}.",
    )
    p.add_argument("model_id", metavar="MODEL_ID", type=_name)
    p.add_argument("--kind", choices=kind_names, default=None,
                   help="ask this family's endpoint (default: /v1/models)")

    p = commands.add_parser(
        "resolve", parents=shared, help="find a model by id or alias (e.g. grok-4-latest)",
        description="Find the model whose id or one of whose aliases is ALIAS.",
    )
    p.add_argument("alias", metavar="ALIAS", type=_name)
    p.add_argument("--kind", choices=kind_names, default="language",
                   help="which list to search (default: %(default)s)")

    commands.add_parser(
        "catalog", parents=shared, help="show all four model lists",
        description="Fetch the four model lists concurrently and show them.",
    )

    p = commands.add_parser(
        "serve",
        parents=[_global_options(
            suppress=True,
            api_key_help="the one key the server accepts (default: any non-empty key)",
        )],
        help="run a local fake xAI models API until Ctrl-C",
        description=(
            "Serve the eight models endpoints on HOST:PORT from a catalog (default: the "
            "examples of xAI's API reference) until Ctrl-C. A catalog file is JSON with the "
            "keys models, language_models, image_generation_models, video_generation_models "
            "(what `xai-models catalog --json` prints)."
        ),
    )
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=_port, default=8000,
                   help="port (default: %(default)s; 0 picks a free one)")
    p.add_argument("--catalog", metavar="FILE", default=None,
                   help="JSON catalog file to serve instead of the examples")
    return parser


# -- formatting ----------------------------------------------------------------------------


def _encodable(stream: TextIO, text: str) -> bool:
    try:
        text.encode(stream.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


@dataclass(frozen=True)
class _Style:
    """Glyphs that the output stream can encode: a cp1252 console cannot print "→"."""

    arrow: str
    ellipsis: str

    @classmethod
    def for_stream(cls, stream: TextIO) -> _Style:
        if _encodable(stream, "→…"):
            return cls(arrow="→", ellipsis="…")
        return cls(arrow="->", ellipsis="...")


def usd(value: Decimal | None) -> str:
    """``Decimal('3')`` -> ``$3.00``; sub-cent prices keep every digit (``$0.025``).

    Exact at any size: trailing zeros are stripped from the digit tuple rather than with
    ``normalize``/``quantize``, which round to the 28-digit context (or raise) on huge
    values, and formatting a Decimal never goes through float.
    """
    if value is None:
        return "-"
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # NaN / Infinity: no raw integer price gives these
        return str(value)
    if not any(digits):
        return "$0.00"
    while exponent < 0 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    magnitude = Decimal((0, digits, exponent))
    text = f"{magnitude:,.2f}" if exponent >= -2 else f"{magnitude:,f}"
    return f"-${text}" if sign else f"${text}"


def shift(raw: int, places: int) -> Decimal:
    """``raw / 10**places``, exactly (Decimal division would round past 28 digits)."""
    sign, digits, exponent = Decimal(raw).as_tuple()
    assert isinstance(exponent, int)
    return Decimal((sign, digits, exponent - places))


def utc_date(timestamp: int | None) -> str:
    if timestamp is None:
        return "-"
    try:
        return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return str(timestamp)  # out of the platform's range: show the raw number


def _modalities(model: Any, style: _Style) -> str:
    inputs = ",".join(getattr(model, "input_modalities", ()))
    outputs = ",".join(getattr(model, "output_modalities", ()))
    if not inputs and not outputs:
        return "-"
    return f"{inputs or '?'}{style.arrow}{outputs or '?'}"


def _aliases(model: AnyModel) -> str:
    return ", ".join(model.aliases) or "-"


def _raw(value: int | None) -> str:
    return "-" if value is None else str(value)


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[Any, _Style], str]
    align_right: bool = False
    #: When the table is wider than the terminal, columns with a rank are cut (with an
    #: ellipsis), rank 1 first; None: never cut.
    shrink_rank: int | None = None
    #: Left out when no row has a value: a column of dashes only hides the others.
    optional: bool = False


_ID = Column("ID", lambda m, s: m.id)
_ALIASES = Column("ALIASES", lambda m, s: _aliases(m), shrink_rank=1)
_MODALITIES = Column("MODALITIES", _modalities, shrink_rank=2)
_PRICES = [
    Column("PROMPT $/1M", lambda m, s: usd(m.prompt_price_per_million), align_right=True),
    Column("CACHED $/1M", lambda m, s: usd(m.cached_prompt_price_per_million), align_right=True),
    Column("COMPLETION $/1M", lambda m, s: usd(m.completion_price_per_million),
           align_right=True),
]
_CREATED = Column("CREATED", lambda m, s: utc_date(m.created))

COLUMNS: dict[str, list[Column]] = {
    "language": [_ID, _ALIASES, _MODALITIES, *_PRICES, _CREATED],
    # /v1/models objects carry prices only sometimes (the reference's examples never), and
    # no modalities.
    "models": [
        _ID, _ALIASES, *(replace(c, optional=True) for c in _PRICES), _CREATED,
        Column("OWNED BY", lambda m, s: m.owned_by),
    ],
    # image_price is kept raw: xAI's documents disagree on its unit.
    "image": [
        _ID, _ALIASES, _MODALITIES,
        Column("MAX PROMPT", lambda m, s: _raw(m.max_prompt_length), align_right=True),
        Column("IMAGE PRICE (raw)", lambda m, s: _raw(m.image_price), align_right=True),
        _CREATED,
    ],
    "video": [_ID, _ALIASES, _MODALITIES, _CREATED],
}


def _cut(text: str, width: int, style: _Style) -> str:
    if len(text) <= width:
        return text
    keep = max(width - len(style.ellipsis), 0)
    return text[:keep] + style.ellipsis


def render_table(
    rows: Sequence[Sequence[str]],
    headers: Sequence[str],
    *,
    right: Sequence[bool],
    shrink_rank: Sequence[int | None],
    max_width: int | None,
    style: _Style,
) -> list[str]:
    """Aligned lines, two spaces between columns. When wider than ``max_width``, columns
    with a shrink rank give up width (lowest rank first: aliases before modalities) down
    to their header's width; ids and prices are never cut, since a cut one would mislead.
    A terminal narrower than that gets longer lines, not lost data."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    gap = 2
    if max_width is not None:
        excess = sum(widths) + gap * (len(widths) - 1) - max_width
        while excess > 0:
            candidates = [
                i for i, w in enumerate(widths)
                if shrink_rank[i] is not None and w > max(len(headers[i]),
                                                          len(style.ellipsis) + 1)
            ]
            if not candidates:
                break
            first = min(candidates, key=lambda i: shrink_rank[i] or 0)
            widths[first] -= 1
            excess -= 1

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            text = _cut(cell, widths[i], style)
            parts.append(text.rjust(widths[i]) if right[i] else text.ljust(widths[i]))
        return (" " * gap).join(parts).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def _terminal_width(stream: TextIO) -> int | None:
    """The width to fit tables into; None (never cut) when piped, so data is not lost.
    $COLUMNS is honoured either way."""
    if os.environ.get("COLUMNS", "").strip().isdigit():
        return int(os.environ["COLUMNS"])
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return shutil.get_terminal_size().columns
    return None


def table_lines(kind: str, models: Sequence[AnyModel], stream: TextIO) -> list[str]:
    style = _Style.for_stream(stream)
    if not models:
        return [f"(no {_TITLES[kind].lower()})"]
    columns = [
        c for c in COLUMNS[kind]
        if not c.optional or any(c.cell(m, style) != "-" for m in models)
    ]
    rows = [[c.cell(m, style) for c in columns] for m in models]
    return render_table(
        rows, [c.header for c in columns],
        right=[c.align_right for c in columns],
        shrink_rank=[c.shrink_rank for c in columns],
        max_width=_terminal_width(stream),
        style=style,
    )


def _price_text(raw: int) -> str:
    # Raw token prices are USD cents per 100M tokens: / 10,000 gives USD per 1M, as the
    # ``*_per_million`` properties do (which only cover some of the price fields).
    return f"{usd(shift(raw, 4))} per 1M tokens (raw {raw})"


def detail_lines(model: AnyModel, stream: TextIO) -> list[str]:
    """One model as aligned ``field  value`` lines, every field that has a value, in the
    object's own field order (the names are the JSON keys, for use with --json and jq)."""
    style = _Style.for_stream(stream)
    pairs: list[tuple[str, str]] = []
    for name in model.__struct_fields__:
        value = getattr(model, name)
        if value is None or value == ():
            continue
        if name == "created":
            text = f"{utc_date(value)} ({value})"
        elif name == "search_price":
            # USD cents per 100M searches -> USD per search: / 10**10.
            text = f"{usd(shift(value, 10))} per search (raw {value})"
        elif name.endswith("_token_price") or name.endswith("_token_price_long_context"):
            text = _price_text(value)
        elif name in ("input_modalities", "output_modalities", "aliases"):
            text = ", ".join(value)
        elif isinstance(value, (tuple, msgspec.Struct)):
            text = msgspec.json.encode(msgspec.to_builtins(value)).decode()
        else:
            text = str(value)
        pairs.append((name, text))
        if name == "output_modalities":
            pairs.append(("modalities", _modalities(model, style)))
    width = max(len(name) for name, _ in pairs)
    return [f"{name.ljust(width)}  {text}" for name, text in pairs]


def json_text(obj: object) -> str:
    """Exactly the decoded objects, pretty-printed: what jq expects."""
    return msgspec.json.format(msgspec.json.encode(msgspec.to_builtins(obj)), indent=2).decode()


# -- running -------------------------------------------------------------------------------


def _out(lines: Sequence[str] | str) -> None:
    text = lines if isinstance(lines, str) else "\n".join(lines)
    sys.stdout.write(text + "\n")


def _note(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _resource(client: AsyncClient, kind: str) -> Resource[Any]:
    resource: Resource[Any] = getattr(client, KINDS[kind])
    return resource


async def _run_command(args: argparse.Namespace, client: AsyncClient) -> None:
    command: str = args.command
    as_json: bool = args.json
    if command == "list":
        models = await _resource(client, args.kind).list()
        _out(json_text(models) if as_json else table_lines(args.kind, models, sys.stdout))
    elif command in ("get", "resolve"):
        if command == "get":
            kind = args.kind or "models"
            model = await _resource(client, kind).get(args.model_id)
        else:
            model = await _resource(client, args.kind).resolve(args.alias)
        _out(json_text(model) if as_json else detail_lines(model, sys.stdout))
    elif command == "catalog":
        catalog = await client.catalog()
        _out(json_text(_catalog_dict(catalog)) if as_json else _catalog_lines(catalog))
    else:  # pragma: no cover - argparse only lets known commands through
        raise CLIError(f"unknown command {command!r}")


def _catalog_dict(catalog: Catalog) -> dict[str, list[AnyModel]]:
    # The keys (and so `catalog --json`) are the shape `xai-models serve --catalog` reads.
    return {
        "models": list(catalog.models),
        "language_models": list(catalog.language_models),
        "image_generation_models": list(catalog.image_generation_models),
        "video_generation_models": list(catalog.video_generation_models),
    }


def _catalog_lines(catalog: Catalog) -> list[str]:
    lines: list[str] = []
    for kind in KINDS:
        models: Sequence[AnyModel] = getattr(catalog, KINDS[kind])
        if lines:
            lines.append("")
        lines.append(f"{_TITLES[kind]} ({len(models)})")
        lines.extend(table_lines(kind, models, sys.stdout))
    return lines


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.retries is not None:
        options["retry"] = RetryPolicy(max_retries=args.retries)
    return options


def _api_key(args: argparse.Namespace) -> str:
    key: str | None = args.api_key
    if key is None:
        key = os.environ.get("XAI_API_KEY")
        if key is None:
            raise CLIError(f"no API key: {_KEY_HELP}")
        if not key.strip():
            raise CLIError(f"XAI_API_KEY is empty: {_KEY_HELP}")
    elif not key.strip():
        raise CLIError(f"--api-key is empty: {_KEY_HELP}")
    return key


def _make_client(args: argparse.Namespace, *, api_key: str, base_url: str | None) -> AsyncClient:
    try:
        return AsyncClient(api_key, base_url=base_url, **_client_options(args))
    except ValueError as exc:  # a malformed --base-url / $XAI_BASE_URL
        raise CLIError(str(exc)) from exc


async def _run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return await _serve(args)
    if args.demo:
        from xai_models_async.testing import FakeXAIServer

        async with FakeXAIServer() as server:
            _note("using built-in demo data (the examples of xAI's API reference), "
                  "not the live API")
            async with _make_client(args, api_key=_DEMO_KEY, base_url=server.url) as client:
                await _run_command(args, client)
        return 0
    client = _make_client(args, api_key=_api_key(args), base_url=args.base_url)
    async with client:
        await _run_command(args, client)
    return 0


async def _serve(args: argparse.Namespace) -> int:
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
        _out([
            f"Fake xAI models API listening on {server.url} ({accepted} accepted)",
            "Point the client (or this command) at it with:",
            f"  export XAI_BASE_URL={server.url} XAI_API_KEY={shown_key}",
            "Press Ctrl-C to stop.",
        ])
        sys.stdout.flush()
        # Ctrl-C cancels this wait (asyncio.run then raises KeyboardInterrupt, which
        # main() treats as the normal way to stop a server); `finally` closes it first.
        await stop.wait()
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)
        await server.close()
    return 0


def _setup_logging(debug: bool) -> None:
    if not debug:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("xai_models_async")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "unknown error"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.demo and args.base_url is not None and args.command != "serve":
            parser.error("--demo and --base-url cannot be used together")
    except SystemExit as exc:  # --help, --version (0) and usage errors (2), already printed
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    debug: bool = args.debug
    _setup_logging(debug)
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
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
        if debug:
            traceback.print_exc()
        _note(f"error: {_one_line(str(exc))}")
        return 1
    except Exception as exc:
        if debug:
            traceback.print_exc()
            _note(f"error: {type(exc).__name__}: {_one_line(str(exc))}")
        else:
            _note(f"error: {type(exc).__name__}: {_one_line(str(exc))} "
                  "(run with --debug for the traceback)")
        return 1
