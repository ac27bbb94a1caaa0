"""The command line: subcommands, their options, and which global options each accepts.

The client options (--api-key --base-url --timeout --retries --demo) and --json/--debug
are accepted before or after the subcommand, but only by the subcommands they apply to:
`serve` runs a server and `diff` reads two files, so e.g. `serve --timeout 5` or
`--base-url URL diff a b` is a usage error (exit 2), not silently ignored.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection
from typing import Any

from xai_models_async import DEFAULT_TIMEOUT, __version__
from xai_models_async.cli._common import KINDS, PROG

__all__ = ["DEFAULT_KIND", "build_parser", "check_global_options"]

#: The kind `list`, `get` and `resolve` use without one: the models with prices.
DEFAULT_KIND = "language"
_DEFAULT_INTERVAL = 60.0


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


# dest -> (flag, the main parser's default, add_argument's other arguments)
_GLOBALS: dict[str, tuple[str, Any, dict[str, Any]]] = {
    "api_key": ("--api-key", None, {
        "metavar": "KEY", "help": "xAI API key (default: $XAI_API_KEY)"}),
    "base_url": ("--base-url", None, {
        "metavar": "URL", "help": "API base URL (default: $XAI_BASE_URL, else https://api.x.ai)"}),
    "timeout": ("--timeout", None, {
        "metavar": "SECONDS", "type": _positive_float,
        "help": f"seconds one HTTP attempt may take (default: {DEFAULT_TIMEOUT:g})"}),
    "retries": ("--retries", None, {
        "metavar": "N", "type": _non_negative_int,
        "help": "retries after a failed attempt (default: 2; 0 turns them off)"}),
    "json": ("--json", False, {
        "action": "store_true",
        "help": "print JSON (for jq) instead of tables; nothing on stderr unless it fails"}),
    "debug": ("--debug", False, {
        "action": "store_true", "help": "log requests and retries to stderr; show tracebacks"}),
    "demo": ("--demo", False, {
        "action": "store_true",
        "help": "run against built-in example data (no key or network needed)"}),
}
_ALL = tuple(_GLOBALS)
# What each subcommand accepts of the globals (default: all of them).
_ACCEPTS: dict[str, tuple[str, ...]] = {
    "serve": ("api_key", "debug"),
    "diff": ("json", "debug"),
}


def _global_options(*, suppress: bool, only: Collection[str] = _ALL,
                    help_for: dict[str, str] | None = None) -> argparse.ArgumentParser:
    """The global options a (sub)parser accepts.

    argparse parses a subcommand's options into a fresh namespace and then copies every
    attribute over the main parser's, defaults included; so the subparsers' copies default
    to SUPPRESS (no attribute at all), and ``--json get grok-3`` keeps its ``--json``.
    """
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group(
        "options also accepted before the subcommand" if suppress
        else "global options (before or after the subcommand; serve and diff take fewer)")
    for dest in only:
        flag, default, extra = _GLOBALS[dest]
        extra = dict(extra)
        if help_for and dest in help_for:
            extra["help"] = help_for[dest]
        group.add_argument(flag, dest=dest, default=argparse.SUPPRESS if suppress else default,
                           **extra)
    return parser


def check_global_options(parser: argparse.ArgumentParser, args: argparse.Namespace,
                         extra: Collection[str] = ()) -> None:
    """Usage error for a global option given to a subcommand it does not apply to,
    before the subcommand (parsed, so compared with its default) or after it (left over
    by ``parse_known_args``, as ``extra``), and for any other argument left over."""
    accepted = _ACCEPTS.get(args.command, _ALL)
    given = [flag for dest, (flag, default, _) in _GLOBALS.items()
             if dest not in accepted and getattr(args, dest, default) != default]
    flags = {flag for flag, _, _ in _GLOBALS.values()}
    given += [arg.split("=", 1)[0] for arg in extra if arg.split("=", 1)[0] in flags]
    if not given and extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if given:
        parser.error(f"{args.command} does not take {', '.join(given)}")
    if args.command not in _ACCEPTS and args.demo and args.base_url is not None:
        parser.error("--demo and --base-url cannot be used together")


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
    kinds = list(KINDS)
    kind_help = f"which family (default: {DEFAULT_KIND}, as for list, get and resolve)"

    p = commands.add_parser(
        "list", parents=shared, help=f"list the models of one kind (default: {DEFAULT_KIND})",
        description="List the models of one kind as a table (or JSON with --json).",
    )
    p.add_argument("kind", nargs="?", default=DEFAULT_KIND, choices=kinds,
                   help="which list (default: %(default)s)")

    p = commands.add_parser(
        "get", parents=shared, help="show one model by its exact id",
        description=(f"Show one model by its exact id, from the {DEFAULT_KIND} models' "
                     "endpoint unless --kind says otherwise (the same default as list and "
                     "resolve). For an alias (grok-4-latest) use resolve."),
    )
    p.add_argument("model_id", metavar="MODEL_ID", type=_name)
    p.add_argument("--kind", choices=kinds, default=DEFAULT_KIND, help=kind_help)

    p = commands.add_parser(
        "resolve", parents=shared, help="find a model by id or alias (e.g. grok-4-latest)",
        description="Find the model whose id or one of whose aliases is ALIAS.",
    )
    p.add_argument("alias", metavar="ALIAS", type=_name)
    p.add_argument("--kind", choices=kinds, default=DEFAULT_KIND, help=kind_help)

    p = commands.add_parser(
        "catalog", parents=shared, help="show every model list",
        description=("Fetch the five model lists concurrently and show them. `catalog "
                     "--json > FILE` writes what `diff` and `serve --catalog` read."),
    )
    p.add_argument(
        "--details", action="store_true",
        help=("then fetch each listed model's own object (one request per model, with a "
              "count on a terminal); /v1/models entries are not fetched again, as their "
              "object carries nothing their list does not"),
    )

    p = commands.add_parser(
        "diff", parents=[_global_options(suppress=True, only=_ACCEPTS["diff"])],
        help="what changed between two saved catalogs",
        description=("Compare two files written by `xai-models catalog --json` (no API "
                     "request): models added, removed, and changed with the fields that "
                     "changed, prices in USD. --json prints the changes as a JSON list."),
    )
    p.add_argument("old", metavar="OLD.json")
    p.add_argument("new", metavar="NEW.json")

    p = commands.add_parser(
        "watch", parents=shared, help="poll the catalog and print each change until Ctrl-C",
        description=("Poll the catalog every --interval seconds and print one line per model "
                     "added, removed or changed (--json: one JSON object per line). The "
                     "first poll is the baseline; a failed poll is reported and retried at "
                     "the next interval. Ctrl-C stops it (exit code 130)."),
    )
    p.add_argument("--interval", metavar="SECONDS", type=_positive_float,
                   default=_DEFAULT_INTERVAL, help="seconds between polls (default: %(default)g)")
    p.add_argument("--kind", dest="kinds", action="append", metavar="KIND",
                   choices=[k for k in kinds if k != "models"],
                   help=("a family to watch, repeatable (default: all but models, whose "
                         "entries repeat the others)"))
    p.add_argument("--since", metavar="FILE", default=None,
                   help=("compare the first poll with this saved catalog (`catalog --json` "
                         "output) instead of taking it as the baseline"))

    p = commands.add_parser(
        "serve",
        parents=[_global_options(
            suppress=True, only=_ACCEPTS["serve"],
            help_for={"api_key": "the one key the server accepts (default: any non-empty key)",
                      "debug": "show tracebacks"},
        )],
        help="run a local fake xAI models API until Ctrl-C",
        description=(
            "Serve the ten models endpoints on HOST:PORT from a catalog (default: the "
            "examples of xAI's API reference and OpenAPI file) until Ctrl-C. A catalog "
            "file is what `xai-models catalog --json` prints. Client options (--base-url, "
            "--timeout, --retries, --json, --demo) do not apply here."
        ),
    )
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=_port, default=8000,
                   help="port (default: %(default)s; 0 picks a free one)")
    p.add_argument("--catalog", metavar="FILE", default=None,
                   help="JSON catalog file to serve instead of the examples")
    return parser
