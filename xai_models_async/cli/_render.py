"""Tables, field/value lines and JSON: how models look on stdout.

Prices come from the models' own USD properties (exact ``Decimal``); this module only
formats them. Table widths follow the terminal only when stdout is one, so piped output
never loses data.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, TextIO

import msgspec

from xai_models_async import (
    EmbeddingModel,
    ImageGenerationModel,
    LanguageModel,
    Model,
    VideoGenerationModel,
)
from xai_models_async.cli._common import TITLES

__all__ = ["AnyModel", "Style", "detail_lines", "json_text", "shift", "table_lines", "usd",
           "utc_date"]

AnyModel = Model | LanguageModel | ImageGenerationModel | VideoGenerationModel | EmbeddingModel


def _encodable(stream: TextIO, text: str) -> bool:
    try:
        text.encode(stream.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


@dataclass(frozen=True)
class Style:
    """Glyphs that the output stream can encode: a cp1252 console cannot print "→"."""

    arrow: str
    ellipsis: str

    @classmethod
    def for_stream(cls, stream: TextIO) -> Style:
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


def _modalities(model: Any, style: Style) -> str:
    inputs = ",".join(getattr(model, "input_modalities", ()))
    outputs = ",".join(getattr(model, "output_modalities", ()))
    if not inputs and not outputs:
        return "-"
    return f"{inputs or '?'}{style.arrow}{outputs or '?'}"


def _raw(value: int | None) -> str:
    return "-" if value is None else str(value)


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[Any, Style], str]
    align_right: bool = False
    #: When the table is wider than the terminal, columns with a rank are cut (with an
    #: ellipsis), rank 1 first; None: never cut.
    shrink_rank: int | None = None
    #: Left out when no row has a value: a column of dashes only hides the others.
    optional: bool = False


def _price(header: str, attribute: str, *, optional: bool = False) -> Column:
    return Column(header, lambda m, s: usd(getattr(m, attribute, None)), align_right=True,
                  optional=optional)


_ID = Column("ID", lambda m, s: m.id)
_ALIASES = Column("ALIASES", lambda m, s: ", ".join(m.aliases) or "-", shrink_rank=1)
_MODALITIES = Column("MODALITIES", _modalities, shrink_rank=2)
_PROMPT = _price("PROMPT $/1M", "prompt_price_per_million")
_IMAGE_PROMPT = _price("IMAGE IN $/1M", "image_prompt_price_per_million")
_TOKEN_PRICES = [
    _PROMPT,
    _price("CACHED $/1M", "cached_prompt_price_per_million"),
    _price("COMPLETION $/1M", "completion_price_per_million"),
]
_PER_IMAGE = _price("$/IMAGE", "image_price_usd")
_CREATED = Column("CREATED", lambda m, s: utc_date(m.created))

COLUMNS: dict[str, list[Column]] = {
    "language": [_ID, _ALIASES, _MODALITIES, *_TOKEN_PRICES, _CREATED],
    # /v1/models objects carry prices only sometimes (the reference's examples never), and
    # no modalities.
    "models": [
        _ID, _ALIASES,
        *(replace(c, optional=True) for c in [*_TOKEN_PRICES, _PER_IMAGE]),
        _CREATED, Column("OWNED BY", lambda m, s: m.owned_by),
    ],
    # USD per image (image_price is in USD ticks, see ImageGenerationModel.image_price_usd);
    # the token prices only where a model lists them.
    "image": [
        _ID, _ALIASES, _MODALITIES,
        Column("MAX PROMPT", lambda m, s: _raw(m.max_prompt_length), align_right=True),
        _PER_IMAGE, replace(_PROMPT, optional=True), _CREATED,
    ],
    "video": [_ID, _ALIASES, _MODALITIES, _CREATED],
    "embedding": [_ID, _ALIASES, _MODALITIES, _PROMPT, _IMAGE_PROMPT, _CREATED],
}


def _cut(text: str, width: int, style: Style) -> str:
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
    style: Style,
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


def terminal_width(stream: TextIO) -> int | None:
    """The width to fit lines into; None (never cut) when not a terminal, so data is not
    lost. $COLUMNS is honoured either way."""
    if os.environ.get("COLUMNS", "").strip().isdigit():
        return int(os.environ["COLUMNS"])
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return shutil.get_terminal_size().columns
    return None


def table_lines(kind: str, models: Sequence[AnyModel], stream: TextIO) -> list[str]:
    style = Style.for_stream(stream)
    if not models:
        return [f"(no {TITLES[kind].lower()})"]
    columns = [
        c for c in COLUMNS[kind]
        if not c.optional or any(c.cell(m, style) != "-" for m in models)
    ]
    rows = [[c.cell(m, style) for c in columns] for m in models]
    return render_table(
        rows, [c.header for c in columns],
        right=[c.align_right for c in columns],
        shrink_rank=[c.shrink_rank for c in columns],
        max_width=terminal_width(stream),
        style=style,
    )


def _tier(tier: Any) -> str:
    label = " ".join(x for x in (tier.quality, tier.resolution) if x) or "default"
    return f"{label} {usd(tier.price_per_image_usd)}"


def _value_text(model: Any, name: str, value: Any) -> str:
    if name == "created":
        return f"{utc_date(value)} ({value})"
    if name == "search_price":
        return f"{usd(model.search_price_usd)} per search (raw {value})"
    if name == "image_price":
        return f"{usd(model.image_price_usd)} per image (raw {value})"
    if name.endswith(("_token_price", "_token_price_long_context")):
        # Raw token prices are USD cents per 100M tokens: / 10**4 is USD per 1M tokens,
        # what the ``*_per_million`` properties give (which cover only some fields).
        return f"{usd(shift(value, 4))} per 1M tokens (raw {value})"
    if name == "pricing":
        return "; ".join(_tier(t) for t in value) + " per image"
    if name in ("input_modalities", "output_modalities", "aliases"):
        return ", ".join(value)
    if isinstance(value, (tuple, msgspec.Struct)):
        return msgspec.json.encode(msgspec.to_builtins(value)).decode()
    return str(value)


def detail_lines(model: AnyModel, stream: TextIO) -> list[str]:
    """One model as aligned ``field  value`` lines, every field that has a value, in the
    object's own field order (the names are the JSON keys, for use with --json and jq)."""
    style = Style.for_stream(stream)
    pairs: list[tuple[str, str]] = []
    for name in model.__struct_fields__:
        value = getattr(model, name)
        if value is None or value == ():
            continue
        pairs.append((name, _value_text(model, name, value)))
        if name == "output_modalities":
            pairs.append(("modalities", _modalities(model, style)))
    width = max(len(name) for name, _ in pairs)
    return [f"{name.ljust(width)}  {text}" for name, text in pairs]


def json_text(obj: object) -> str:
    """Exactly the decoded objects, pretty-printed: what jq expects."""
    return msgspec.json.format(msgspec.json.encode(msgspec.to_builtins(obj)), indent=2).decode()
