"""The typed objects the xAI Models API returns, as immutable msgspec Structs.

Response bytes decode straight into these classes (one ``msgspec.json.Decoder`` per type,
built once at import). The rules that shaped them:

* A field is required only where every example body in xAI's reference has it; every other
  documented or live-only field defaults to ``None`` (lists to an empty tuple), so a body
  from the live service that drops a field still decodes.
* Unknown fields are ignored: xAI adds fields often, and a new one must never break a
  deployed client.
* Raw integers are kept exactly as sent. Prices are USD cents per 100 million tokens (or
  searches); the ``*_per_million`` properties convert them to ``decimal.Decimal`` USD.
  ``image_price`` is kept raw: xAI's documents disagree on its unit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

__all__ = [
    "Capabilities",
    "ImageGenerationModel",
    "LanguageModel",
    "Model",
    "PricingTier",
    "VideoGenerationModel",
]

# USD cents per 100M tokens -> USD per 1M tokens: / 100 (cents) / 100 (100M -> 1M).
_TOKEN_PRICE_DIVISOR = Decimal(10_000)
# USD cents per 100M searches -> USD per search.
_SEARCH_PRICE_DIVISOR = Decimal(100) * Decimal(100_000_000)


def _usd_per_million(raw: int | None) -> Decimal | None:
    return None if raw is None else Decimal(raw) / _TOKEN_PRICE_DIVISOR


class _Struct(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Base options: immutable, keyword-only (so required fields may follow optional ones),
    and untracked by the GC since instances only hold scalars, strings and tuples."""


class PricingTier(_Struct, frozen=True, kw_only=True):
    """One row of a ``pricing`` list (image generation: per quality and resolution)."""

    quality: str | None = None
    resolution: str | None = None
    price_per_image: int | None = None


class Capabilities(_Struct, frozen=True, kw_only=True):
    """The ``capabilities`` object: reasoning-effort levels a model accepts, if any."""

    reasoning_effort: tuple[str, ...] = ()
    default_reasoning_effort: str | None = None


class _TokenPricing:
    """USD conversions of the raw token and search prices, shared by ``Model`` and
    ``LanguageModel``. A plain slot-free mixin, so each Struct keeps ``id`` first."""

    __slots__ = ()

    prompt_text_token_price: int | None
    cached_prompt_text_token_price: int | None
    prompt_image_token_price: int | None
    completion_text_token_price: int | None
    search_price: int | None

    @property
    def prompt_price_per_million(self) -> Decimal | None:
        """USD per 1M prompt text tokens (``30000`` -> ``Decimal('3')``)."""
        return _usd_per_million(self.prompt_text_token_price)

    @property
    def cached_prompt_price_per_million(self) -> Decimal | None:
        """USD per 1M cached prompt text tokens."""
        return _usd_per_million(self.cached_prompt_text_token_price)

    @property
    def image_prompt_price_per_million(self) -> Decimal | None:
        """USD per 1M prompt image tokens."""
        return _usd_per_million(self.prompt_image_token_price)

    @property
    def completion_price_per_million(self) -> Decimal | None:
        """USD per 1M completion text tokens (``150000`` -> ``Decimal('15')``)."""
        return _usd_per_million(self.completion_text_token_price)

    @property
    def search_price_usd(self) -> Decimal | None:
        """USD per search (``250000000`` -> ``Decimal('0.025')``)."""
        if self.search_price is None:
            return None
        return Decimal(self.search_price) / _SEARCH_PRICE_DIVISOR


class Model(_Struct, _TokenPricing, frozen=True, kw_only=True):
    """An object of ``GET /v1/models`` and ``GET /v1/models/{id}``.

    Only ``id``, ``created``, ``object`` and ``owned_by`` are guaranteed; the live service
    sometimes adds aliases, prices, context length, a ``pricing`` list and ``capabilities``.
    """

    id: str
    created: int
    object: str = "model"
    owned_by: str
    aliases: tuple[str, ...] = ()
    prompt_text_token_price: int | None = None
    cached_prompt_text_token_price: int | None = None
    prompt_image_token_price: int | None = None
    completion_text_token_price: int | None = None
    search_price: int | None = None
    prompt_text_token_price_long_context: int | None = None
    cached_prompt_text_token_price_long_context: int | None = None
    completion_text_token_price_long_context: int | None = None
    long_context_threshold: int | None = None
    image_price: int | None = None
    context_length: int | None = None
    pricing: tuple[PricingTier, ...] = ()
    capabilities: Capabilities | None = None


class LanguageModel(_Struct, _TokenPricing, frozen=True, kw_only=True):
    """An object of ``GET /v1/language-models`` and ``GET /v1/language-models/{id}``."""

    id: str
    fingerprint: str
    created: int
    object: str = "model"
    owned_by: str
    version: str
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...]
    prompt_text_token_price: int
    prompt_image_token_price: int
    completion_text_token_price: int
    aliases: tuple[str, ...]
    cached_prompt_text_token_price: int | None = None
    search_price: int | None = None
    prompt_text_token_price_long_context: int | None = None
    cached_prompt_text_token_price_long_context: int | None = None
    completion_text_token_price_long_context: int | None = None
    long_context_threshold: int | None = None
    capabilities: Capabilities | None = None


class ImageGenerationModel(_Struct, frozen=True, kw_only=True):
    """An object of ``GET /v1/image-generation-models`` and ``.../{id}``.

    xAI's examples carry token prices that its field list does not name, and omit
    ``image_price`` and the modalities that it calls required; both kinds are optional here.
    """

    id: str
    fingerprint: str
    created: int
    object: str = "model"
    owned_by: str
    version: str
    max_prompt_length: int
    aliases: tuple[str, ...]
    input_modalities: tuple[str, ...] = ()
    output_modalities: tuple[str, ...] = ()
    image_price: int | None = None
    prompt_text_token_price: int | None = None
    prompt_image_token_price: int | None = None
    generated_image_token_price: int | None = None
    pricing: tuple[PricingTier, ...] = ()


class VideoGenerationModel(_Struct, frozen=True, kw_only=True):
    """An object of ``GET /v1/video-generation-models`` and ``.../{id}``."""

    id: str
    fingerprint: str
    created: int
    object: str = "model"
    owned_by: str
    version: str
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...]
    aliases: tuple[str, ...]


AnyModel = Model | LanguageModel | ImageGenerationModel | VideoGenerationModel


def to_builtins(obj: Any) -> Any:
    """Plain dicts/lists of a Struct (or list of Structs), as ``msgspec.to_builtins`` gives."""
    return msgspec.to_builtins(obj)
