"""Changes rather than snapshots: `diff OLD.json NEW.json` (two saved catalogs, offline)
and `watch` (``client.watch``: one line per change as it happens)."""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO, cast

import msgspec

from xai_models_async import (
    AsyncClient,
    Catalog,
    CatalogChange,
    EmbeddingModel,
    FieldChange,
    ImageGenerationModel,
    LanguageModel,
    Model,
    VideoGenerationModel,
    XAIError,
)
from xai_models_async.cli._common import CATALOG_KEYS, KINDS, UsageError
from xai_models_async.cli._progress import Progress
from xai_models_async.cli._render import Style, usd

__all__ = ["change_line", "load_catalog", "run_diff", "run_watch"]


class _SavedCatalog(msgspec.Struct, frozen=True):
    """What `catalog --json` writes. A list left out is None, not empty: a file from a
    version without embedding models must not read as "every embedding model added"."""

    models: list[Model] | None = None
    language_models: list[LanguageModel] | None = None
    image_generation_models: list[ImageGenerationModel] | None = None
    video_generation_models: list[VideoGenerationModel] | None = None
    embedding_models: list[EmbeddingModel] | None = None


def load_catalog(path: str) -> tuple[Catalog, frozenset[str]]:
    """The catalog saved in ``path`` and the keys it has; ``UsageError`` (one line, exit
    2) for a file that cannot be read or is not such a catalog."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        saved = msgspec.json.decode(data, type=_SavedCatalog)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"{path} is not a catalog written by `xai-models catalog --json`: {exc}") from None
    present = frozenset(k for k in KINDS.values() if getattr(saved, k) is not None)
    if not present:
        raise UsageError(f"{path} has none of the keys of a catalog "
                         f"({', '.join(KINDS.values())})")
    catalog = Catalog(
        models=tuple(saved.models or ()),
        language_models=tuple(saved.language_models or ()),
        image_generation_models=tuple(saved.image_generation_models or ()),
        video_generation_models=tuple(saved.video_generation_models or ()),
        embedding_models=tuple(saved.embedding_models or ()),
    )
    return catalog, present


def _value(value: Any) -> str:
    if value is None or value == ():
        return "-"
    if isinstance(value, tuple) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    if isinstance(value, (tuple, msgspec.Struct)):
        return msgspec.json.encode(msgspec.to_builtins(value)).decode()
    return str(value)


def _field_text(field: FieldChange, style: Style) -> str:
    if field.unit is not None:
        unit = field.unit.removeprefix("USD ")  # usd() already says "$"
        return f"{field.name} {usd(field.old)} {style.arrow} {usd(field.new)} {unit}"
    return f"{field.name} {_value(field.old)} {style.arrow} {_value(field.new)}"


def change_line(change: CatalogChange, stream: TextIO) -> str:
    """``changed  language  grok-3: prompt_text_token_price $3.00 → $2.50 per 1M tokens``"""
    style = Style.for_stream(stream)
    kind = CATALOG_KEYS.get(change.kind, change.kind)
    text = f"{change.change:<7}  {kind:<9}  {change.model_id}"
    if change.fields:
        text += ": " + "; ".join(_field_text(f, style) for f in change.fields)
    elif change.change == "added" and change.model.aliases:
        text += f" (aliases: {', '.join(change.model.aliases)})"
    return text


def _jsonable(value: Any) -> Any:
    # Prices stay exact: a Decimal is written as its string, never through float.
    return str(value) if isinstance(value, Decimal) else msgspec.to_builtins(value)


def change_dict(change: CatalogChange) -> dict[str, Any]:
    return {
        "change": change.change,
        "kind": change.kind,
        "model_id": change.model_id,
        "fields": [{"name": f.name, "old": _jsonable(f.old), "new": _jsonable(f.new),
                    "unit": f.unit} for f in change.fields],
        "model": msgspec.to_builtins(change.model),
    }


def run_diff(args: argparse.Namespace, progress: Progress) -> None:
    old, old_keys = load_catalog(args.old)
    new, new_keys = load_catalog(args.new)
    # Compare only what both files hold, and not /v1/models (its entries repeat the
    # typed lists', as in Catalog.diff).
    kinds = [k for k in KINDS.values() if k != "models" and k in old_keys & new_keys]
    changes = old.diff(new, kinds=cast("Any", kinds))
    if args.json:
        encoded = msgspec.json.encode([change_dict(c) for c in changes])
        progress.out(msgspec.json.format(encoded, indent=2).decode())
    elif not changes:
        progress.out("(no changes)")
    else:
        for change in changes:
            progress.out(change_line(change, sys.stdout))


async def run_watch(args: argparse.Namespace, client: AsyncClient, progress: Progress) -> None:
    kinds = [KINDS[k] for k in (args.kinds or [k for k in KINDS if k != "models"])]
    since = load_catalog(args.since)[0] if args.since is not None else None
    interval: float = args.interval

    def on_error(error: XAIError) -> None:
        text = " ".join(str(error).split())
        progress.note(f"a poll failed, trying again in {interval:g} s: {text}", always=True)

    lists = "1 model list" if len(kinds) == 1 else f"{len(kinds)} model lists"
    async with progress.waiting(f"watching {lists} every {interval:g} s, Ctrl-C stops",
                                delay=0):
        async for change in client.watch(interval, kinds=kinds, since=since,
                                         on_error=on_error):
            if args.json:
                progress.out(msgspec.json.encode(change_dict(change)).decode())
            else:
                progress.out(change_line(change, sys.stdout))
