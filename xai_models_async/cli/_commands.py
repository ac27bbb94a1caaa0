"""The commands that ask the API: list, get, resolve, catalog (and the client they use).

Only the public API of ``xai_models_async``: a resource per kind, ``catalog()`` and the
error classes.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import os
import sys
from collections.abc import Sequence
from typing import Any

from xai_models_async import (
    DEFAULT_TIMEOUT,
    AsyncClient,
    Catalog,
    NotFoundError,
    Resource,
    RetryPolicy,
    XAIError,
)
from xai_models_async.cli._common import KINDS, TITLES, CLIError
from xai_models_async.cli._progress import Progress
from xai_models_async.cli._render import AnyModel, detail_lines, json_text, table_lines

__all__ = ["api_key", "make_client", "out", "resource", "run_command"]

#: At most this many detail requests of `catalog --details` at once.
DETAILS_CONCURRENCY = 16

_KEY_HELP = (
    "set it with `export XAI_API_KEY=...` or pass --api-key KEY "
    "(create one at https://console.x.ai), or try --demo for built-in example data"
)


def out(lines: Sequence[str] | str) -> None:
    text = lines if isinstance(lines, str) else "\n".join(lines)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def resource(client: AsyncClient, kind: str) -> Resource[Any]:
    found: Resource[Any] = getattr(client, KINDS[kind])
    return found


def api_key(args: argparse.Namespace) -> str:
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


def make_client(args: argparse.Namespace, *, key: str, base_url: str | None) -> AsyncClient:
    options: dict[str, Any] = {}
    if args.timeout is not None:
        options["timeout"] = args.timeout
    if args.retries is not None:
        options["retry"] = RetryPolicy(max_retries=args.retries)
    try:
        return AsyncClient(key, base_url=base_url, **options)
    except ValueError as exc:  # a malformed --base-url / $XAI_BASE_URL
        raise CLIError(str(exc)) from exc


def attempt_limit(args: argparse.Namespace) -> float:
    timeout: float | None = args.timeout
    return DEFAULT_TIMEOUT if timeout is None else timeout


async def run_command(args: argparse.Namespace, client: AsyncClient, progress: Progress) -> None:
    command: str = args.command
    as_json: bool = args.json
    host = client.base_url.rstrip("/")
    waiting = f"waiting for {host} (up to {attempt_limit(args):g} s an attempt)"
    if command == "list":
        async with progress.waiting(waiting):
            models = await resource(client, args.kind).list()
        out(json_text(models) if as_json else table_lines(args.kind, models, sys.stdout))
    elif command == "get":
        async with progress.waiting(waiting):
            try:
                model = await resource(client, args.kind).get(args.model_id)
            except NotFoundError as error:
                raise await _not_found(client, args.kind, args.model_id, error) from error
        out(json_text(model) if as_json else detail_lines(model, sys.stdout))
    elif command == "resolve":
        async with progress.waiting(waiting):
            model = await resource(client, args.kind).resolve(args.alias)
        out(json_text(model) if as_json else detail_lines(model, sys.stdout))
    elif command == "catalog":
        async with progress.waiting(waiting):
            catalog = await client.catalog()
            if args.details:
                catalog = await _with_details(client, catalog, progress)
        out(json_text(catalog_dict(catalog)) if as_json else _catalog_lines(catalog))
    else:  # pragma: no cover - argparse only lets known commands through
        raise CLIError(f"unknown command {command!r}")


async def _not_found(client: AsyncClient, kind: str, name: str,
                     error: NotFoundError) -> CLIError:
    """The 404 of `get`, with what to try instead: `resolve` (get takes exact ids only)
    and the closest ids and aliases of that kind, found by listing it."""
    hints = [f"`xai-models resolve {name}` finds a model by id or alias"
             + ("" if kind == "language" else f" (with --kind {kind})")]
    try:
        models = await resource(client, kind).list()
    except XAIError:
        models = []  # the hint without names is still worth giving
    owner = next((m for m in models if name in m.aliases), None)
    if owner is not None:
        hints = [f"{name} is an alias of {owner.id}: "
                 f"`xai-models resolve {name}` or `xai-models get {owner.id}`"]
    else:
        names = [x for m in models for x in (m.id, *m.aliases)]
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
        if close:
            hints.append(f"closest {kind} names: {', '.join(close)}")
    return CLIError(str(error), *hints)


async def _with_details(client: AsyncClient, catalog: Catalog, progress: Progress) -> Catalog:
    """The catalog with each typed model replaced by its own ``get`` object, counting as
    they arrive (what ``client.catalog(details=True)`` does, which cannot report a
    count). ``/v1/models`` entries are kept as listed: their get adds nothing."""
    todo = [(key, m.id) for kind, key in KINDS.items() if kind != "models"
            for m in getattr(catalog, key)]
    done = 0
    slots = asyncio.Semaphore(DETAILS_CONCURRENCY)
    kinds_by_key = {key: kind for kind, key in KINDS.items()}

    async def fetch(key: str, model_id: str) -> AnyModel:
        nonlocal done
        async with slots:
            # cache_ttl=0: details means asking each get, not echoing the cached list.
            model: AnyModel = await resource(client, kinds_by_key[key]).get(
                model_id, cache_ttl=0)
        done += 1
        progress.show(f"fetched {done} of {len(todo)} model details")
        return model

    progress.show(f"fetched 0 of {len(todo)} model details")
    tasks = [asyncio.ensure_future(fetch(key, model_id)) for key, model_id in todo]
    try:
        fetched = await asyncio.gather(*tasks)
    finally:
        for task in tasks:  # the first failure ends the command: stop the others
            task.cancel()
    parts: dict[str, list[AnyModel]] = {key: [] for key in KINDS.values() if key != "models"}
    for (key, _), model in zip(todo, fetched, strict=True):
        parts[key].append(model)
    return Catalog(models=catalog.models, **parts)  # type: ignore[arg-type]


def catalog_dict(catalog: Catalog) -> dict[str, list[AnyModel]]:
    # The keys (and so `catalog --json`) are the shape `serve --catalog` and `diff` read.
    keys = ["models", *(key for key in KINDS.values() if key != "models")]
    return {key: list(getattr(catalog, key)) for key in keys}


def _catalog_lines(catalog: Catalog) -> list[str]:
    lines: list[str] = []
    for kind, key in KINDS.items():
        models: Sequence[AnyModel] = getattr(catalog, key)
        if lines:
            lines.append("")
        lines.append(f"{TITLES[kind]} ({len(models)})")
        lines.extend(table_lines(kind, models, sys.stdout))
    return lines
