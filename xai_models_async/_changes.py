"""What changed between two catalogs (``Catalog.diff``), and a stream of those changes
over time (``AsyncClient.watch``), for bots that announce new models and price changes.

A change is per model of one kind (the list it is in): added, removed, or changed with
the fields that changed. Prices are compared raw and reported in USD (``Decimal``), with
their unit: a bot can print ``$3 -> $2.50 per 1M tokens`` without knowing xAI's units.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import msgspec

from xai_models_async._errors import XAIError
from xai_models_async._prices import shift

__all__ = ["CatalogChange", "FieldChange", "diff_lists", "watch"]

logger = logging.getLogger("xai_models_async")

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field of a model that changed: ``old`` and ``new`` values, prices in USD (a
    ``Decimal``, with ``unit`` such as ``"USD per 1M tokens"``; ``None`` otherwise). A
    field the old or new object lacks is ``None`` on that side."""

    name: str
    old: Any
    new: Any
    unit: str | None = None

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.name}: {_show(self.old)} -> {_show(self.new)}{unit}"


@dataclass(frozen=True, slots=True)
class CatalogChange:
    """A model added to, removed from, or changed in the list of ``kind`` (e.g.
    ``"language_models"``). ``model`` is the model as it is now (as it was, for a removed
    one); ``old`` is the previous object of a changed or removed model; ``fields`` lists
    what changed (empty unless ``change == "changed"``)."""

    change: ChangeKind
    kind: str
    model_id: str
    model: Any
    old: Any = None
    fields: tuple[FieldChange, ...] = ()

    def __str__(self) -> str:
        label = self.kind.replace("_", " ").rstrip("s")
        text = f"{self.change} {label} {self.model_id}"
        if self.fields:
            text += ": " + "; ".join(str(f) for f in self.fields)
        return text


def diff_lists(kind: str, old: Sequence[Any], new: Sequence[Any]) -> list[CatalogChange]:
    """The changes from ``old`` to ``new`` (models of one kind, matched by id): removed
    ones in old order, then added and changed ones in new order."""
    before = {model.id: model for model in old}
    after = {model.id: model for model in new}
    changes = [CatalogChange("removed", kind, mid, model, old=model)
               for mid, model in before.items() if mid not in after]
    for mid, model in after.items():
        previous = before.get(mid)
        if previous is None:
            changes.append(CatalogChange("added", kind, mid, model))
        elif previous != model:
            fields = tuple(_field_changes(previous, model))
            if fields:
                changes.append(CatalogChange("changed", kind, mid, model, old=previous,
                                             fields=fields))
    return changes


def _field_changes(old: Any, new: Any) -> Iterable[FieldChange]:
    names = dict.fromkeys([*old.__struct_fields__, *new.__struct_fields__])
    for name in names:
        before, after = getattr(old, name, None), getattr(new, name, None)
        if before == after:
            continue
        unit, places = _price_unit(name)
        if unit is not None:
            yield FieldChange(name, _usd(before, places), _usd(after, places), unit)
        else:
            yield FieldChange(name, before, after)


def _price_unit(name: str) -> tuple[str | None, int]:
    """The USD unit of a raw price field, and the power of ten that converts it."""
    if name.endswith(("_token_price", "_token_price_long_context")):
        return "USD per 1M tokens", 4  # USD cents per 100M tokens
    if name == "search_price":
        return "USD per search", 10  # USD cents per 100M searches
    if name == "image_price":
        return "USD per image", 10  # 1e-10 USD "ticks"
    return None, 0


def _usd(raw: object, places: int) -> Decimal | None:
    return shift(raw, places) if isinstance(raw, int) else None


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return f"${value}"
    if isinstance(value, (tuple, msgspec.Struct)):
        return msgspec.json.encode(msgspec.to_builtins(value)).decode()
    return str(value)


async def watch(
    fetch: Callable[[], Awaitable[Any]],
    pause: Callable[[float], Awaitable[bool]],
    *,
    interval: float,
    kinds: Sequence[str],
    since: Any,
    on_error: Callable[[XAIError], object] | None,
) -> AsyncIterator[CatalogChange]:
    """Poll ``fetch()`` (a Catalog, with failed parts in ``errors``) every ``interval``
    seconds and yield what changed in ``kinds`` since the last poll (since ``since``
    first, else from the first poll on). A failed poll, or a failed part, keeps the last
    good lists (so nothing reads as removed), is logged and handed to ``on_error``, and
    is tried again next time. Ends when ``pause`` says the client closed."""
    last: dict[str, Sequence[Any]] | None = (
        None if since is None else {kind: getattr(since, kind) for kind in kinds})
    while True:
        try:
            catalog = await fetch()
        except XAIError as error:
            _report(error, on_error)
        else:
            current = {kind: getattr(catalog, kind) for kind in kinds}
            for failure in catalog.errors.values():
                _report(failure, on_error)
            if last is None:
                if not catalog.errors:  # a whole first catalog is the baseline
                    last = current
            else:
                for kind in kinds:
                    if kind in catalog.errors:
                        current[kind] = last[kind]  # failed: keep what we knew
                    for change in diff_lists(kind, last[kind], current[kind]):
                        yield change
                last = current
        if not await pause(interval):
            return


def _report(error: XAIError, on_error: Callable[[XAIError], object] | None) -> None:
    logger.warning("catalog watch: a poll failed, keeping the last catalog: %s", error)
    if on_error is not None:
        on_error(error)
