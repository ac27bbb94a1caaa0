"""Exact USD from xAI's raw integer prices: the conversion, the read-only price
properties the model Structs carry (one descriptor serves them all), and the checks of
token counts. See :mod:`xai_models_async.types` for the units and the zero sentinels."""

from __future__ import annotations

from decimal import Decimal
from typing import overload

__all__ = ["PER_MILLION_PLACES", "PER_UNIT_PLACES", "Price", "TokenPricing", "check_count",
           "shift"]

# Raw prices are USD ticks (10**-10 USD) per unit, i.e. USD cents per 100M units. USD per
# 1M tokens is raw / 10**4 (/100 for cents, /100 for 100M -> 1M); USD per token, per
# search or per image is raw / 10**10.
PER_MILLION_PLACES = 4
PER_UNIT_PLACES = 10


def shift(raw: int, places: int) -> Decimal:
    """``raw / 10**places`` as an exact Decimal at any size (no context rounding, unlike
    ``Decimal`` division past 28 digits), with trailing zeros after the point dropped."""
    if raw == 0:
        return Decimal(0)
    digits = str(abs(raw))
    kept = digits.rstrip("0")
    drop = min(len(digits) - len(kept), places)
    digits = digits[: len(digits) - drop]
    return Decimal((int(raw < 0), tuple(map(int, digits)), drop - places))


class Price:
    """A read-only property: the raw price field ``field`` in USD, ``raw / 10**places``
    as an exact Decimal (per 1M tokens by default), or None when the field is absent.

    With ``zero_is_none``, a raw 0 is None too: for the ``*_long_context`` prices xAI
    sends 0 to mean there is no such price and the standard one applies, and a USD figure
    of 0 there would read as "free". One descriptor serves every price of every class.
    """

    def __init__(
        self,
        field: str,
        doc: str,
        *,
        places: int = PER_MILLION_PLACES,
        zero_is_none: bool = False,
    ) -> None:
        self.field = field
        self.places = places
        self.zero_is_none = zero_is_none
        self.__doc__ = doc

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Price: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Decimal | None: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Decimal | Price | None:
        if obj is None:
            return self
        raw: int | None = getattr(obj, self.field)
        if raw is None or (raw == 0 and self.zero_is_none):
            return None
        return shift(raw, self.places)

    def required(self) -> RequiredPrice:
        """The same price for a class whose schema always sends the field."""
        return RequiredPrice(self.field, self.__doc__ or "", places=self.places)


class RequiredPrice(Price):
    """A ``Price`` whose field every body carries: typed ``Decimal``, never None, so
    that arithmetic on it (``lm.prompt_price_per_million * 2``) passes ``mypy --strict``
    without a None check the data can never need."""

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> RequiredPrice: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Decimal: ...

    def __get__(
        self, obj: object | None, owner: type | None = None
    ) -> Decimal | RequiredPrice:
        if obj is None:
            return self
        value = super().__get__(obj, owner)
        if value is None:
            # Decoding never gets here; a hand-built instance (Struct __init__ does not
            # validate types) can, and a None typed as Decimal would fail far from here.
            raise TypeError(f"{type(obj).__name__}.{self.field} is None; it is required")
        return value


def check_count(value: object, name: str) -> int:
    # bool is an int subclass, and True tokens is a bug, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


class TokenPricing:
    """USD conversions of the raw token and search prices, shared by ``Model`` and
    ``LanguageModel``. A plain slot-free mixin, so each Struct keeps ``id`` first.
    Each property is ``None`` when the raw price is absent; the ``*_long_context`` ones
    also when it is 0, xAI's sentinel for "use the standard price of this kind"."""

    __slots__ = ()

    prompt_text_token_price: int | None
    cached_prompt_text_token_price: int | None
    prompt_image_token_price: int | None
    completion_text_token_price: int | None
    search_price: int | None
    prompt_text_token_price_long_context: int | None
    cached_prompt_text_token_price_long_context: int | None
    completion_text_token_price_long_context: int | None

    prompt_price_per_million = Price(
        "prompt_text_token_price",
        "USD per 1M prompt text tokens (``30000`` -> ``Decimal('3')``).",
    )
    cached_prompt_price_per_million = Price(
        "cached_prompt_text_token_price",
        "USD per 1M cached prompt text tokens (``7500`` -> ``Decimal('0.75')``).",
    )
    image_prompt_price_per_million = Price(
        "prompt_image_token_price",
        "USD per 1M prompt image tokens.",
    )
    completion_price_per_million = Price(
        "completion_text_token_price",
        "USD per 1M completion text tokens (``150000`` -> ``Decimal('15')``).",
    )
    prompt_price_per_million_long_context = Price(
        "prompt_text_token_price_long_context",
        "USD per 1M prompt text tokens in the long-context tier; None when the raw price "
        "is 0 or absent (the standard prompt price applies).",
        zero_is_none=True,
    )
    cached_prompt_price_per_million_long_context = Price(
        "cached_prompt_text_token_price_long_context",
        "USD per 1M cached prompt text tokens in the long-context tier; None when the raw "
        "price is 0 or absent (the standard cached price applies).",
        zero_is_none=True,
    )
    completion_price_per_million_long_context = Price(
        "completion_text_token_price_long_context",
        "USD per 1M completion text tokens in the long-context tier; None when the raw "
        "price is 0 or absent (the standard completion price applies).",
        zero_is_none=True,
    )
    search_price_usd = Price(
        "search_price",
        "USD per search (``250000000`` -> ``Decimal('0.025')``).",
        places=PER_UNIT_PLACES,
    )
