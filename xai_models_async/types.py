"""The typed objects the xAI Models API returns, as immutable msgspec Structs.

Response bytes decode straight into these classes (one ``msgspec.json.Decoder`` per type,
built once at import). The rules that shaped them:

* A field is required only where every example body in xAI's reference and OpenAPI file
  has it; every other documented or live-only field defaults to ``None`` (lists to an
  empty tuple), so a body from the live service that drops a field still decodes.
* Unknown fields are ignored: xAI adds fields often, and a new one must never break a
  deployed client.
* Raw integers are kept exactly as sent. Every raw price is in USD "ticks" (10**-10 USD,
  a hundred-millionth of a cent) per unit: token prices are documented as USD cents per
  100 million tokens, ``search_price`` as USD cents per 100 million searches, which is the
  same thing. The ``*_per_million`` properties convert token prices to ``decimal.Decimal``
  USD per 1M tokens, ``search_price_usd`` to USD per search, exactly (no float anywhere,
  trailing zeros dropped: ``30000`` -> ``Decimal('3')``, ``7500`` -> ``Decimal('0.75')``).
* ``image_price`` and ``PricingTier.price_per_image`` are USD ticks per image as well:
  ``image_price_usd`` and ``price_per_image_usd`` convert them (``200000000`` ->
  ``Decimal('0.02')``). See ``PricingTier.price_per_image_usd`` for the evidence; the
  field descriptions that say "USD cents" are wrong.
* Zero sentinels, as xAI's OpenAPI file defines them: ``long_context_threshold`` 0 (or
  absent) means the model has no long-context tier, and a ``*_long_context`` price of 0
  (or absent) means the standard price of that kind applies. The ``*_long_context`` USD
  properties are ``None`` then.

``LanguageModel.estimate_cost`` prices one request's usage. It follows the usage object
of xAI's (OpenAI-compatible) chat API: ``prompt_tokens`` counts every prompt token;
``cached_prompt_tokens`` (``prompt_tokens_details.cached_tokens``) and ``image_tokens``
(``prompt_tokens_details.image_tokens``) are parts of it, so ``cached + image <= prompt``.
Cached tokens are billed at the cached price (the prompt price when the model has none),
image tokens at the image prompt price, the rest at the prompt text price; a prompt of
``long_context_threshold`` tokens or more switches each kind to its non-zero
long-context price.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

from xai_models_async._prices import (
    PER_UNIT_PLACES,
    Price,
    TokenPricing,
    check_count,
    shift,
)

__all__ = [
    "Capabilities",
    "EmbeddingModel",
    "ImageGenerationModel",
    "LanguageModel",
    "Model",
    "PricingTier",
    "VideoGenerationModel",
]

class _Struct(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Base options: immutable, keyword-only (so required fields may follow optional ones),
    and untracked by the GC since instances only hold scalars, strings and tuples."""


class PricingTier(_Struct, frozen=True, kw_only=True):
    """One row of a ``pricing`` list (image generation: per quality and resolution)."""

    quality: str | None = None
    resolution: str | None = None
    price_per_image: int | None = None

    price_per_image_usd = Price(
        "price_per_image",
        """USD per image, exact (``200000000`` -> ``Decimal('0.02')``); None when absent.

        xAI's OpenAPI file gives ``price_per_image`` "in 1/100,000,000ths of a USD cent",
        i.e. USD ticks: 1 USD = 10**10. ``image_price`` is in the same unit, although its
        description says "USD cents": the file's own ``/v1/models`` example gives
        grok-imagine-image ``image_price: 200000000``, and xAI's pricing page lists that
        model at $0.02 per image, which is 200000000 ticks (as cents it would be
        $2,000,000). Usage objects report ``cost_in_usd_ticks`` in the same unit.
        """,
        places=PER_UNIT_PLACES,
    )


class Capabilities(_Struct, frozen=True, kw_only=True):
    """The ``capabilities`` object: reasoning-effort levels a model accepts, if any."""

    reasoning_effort: tuple[str, ...] = ()
    default_reasoning_effort: str | None = None


_IMAGE_PRICE_DOC = """USD per image at the default tier (medium quality, 1k), exact
(``200000000`` -> ``Decimal('0.02')``); None when absent. ``image_price`` is in USD ticks
(10**-10 USD) like ``PricingTier.price_per_image``, whatever its description says: see
``PricingTier.price_per_image_usd`` for the evidence."""


class Model(_Struct, TokenPricing, frozen=True, kw_only=True):
    """An object of ``GET /v1/models`` and ``GET /v1/models/{id}``.

    Only ``id``, ``created`` and ``owned_by`` are required (``object`` defaults to
    ``"model"``); the live service sometimes adds aliases, prices, context length, a
    ``pricing`` list and ``capabilities``. Every price here may be absent, so each USD
    property is ``Decimal | None``. The prices mean what they mean on ``LanguageModel``
    (a ``long_context_threshold`` or ``*_long_context`` price of 0: no such tier or price).
    """

    id: str
    created: int
    object: str = "model"
    owned_by: str
    if TYPE_CHECKING:
        aliases: tuple[str, ...] = ()
    else:
        # The live service may send null here (NOTES.md); decode it, then make it ().
        aliases: tuple[str, ...] | None = ()
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
    if TYPE_CHECKING:
        pricing: tuple[PricingTier, ...] = ()
    else:
        pricing: tuple[PricingTier, ...] | None = ()
    capabilities: Capabilities | None = None

    image_price_usd = Price("image_price", _IMAGE_PRICE_DOC, places=PER_UNIT_PLACES)

    def __post_init__(self) -> None:
        if self.aliases is None:
            msgspec.structs.force_setattr(self, "aliases", ())
        if self.pricing is None:
            msgspec.structs.force_setattr(self, "pricing", ())


class _Versioned(_Struct, frozen=True, kw_only=True):
    """The fields every typed model object starts with (not ``/v1/models`` objects)."""

    id: str
    fingerprint: str
    created: int
    object: str = "model"
    owned_by: str
    version: str


class LanguageModel(_Versioned, TokenPricing, frozen=True, kw_only=True):
    """An object of ``GET /v1/language-models`` and ``GET /v1/language-models/{id}``.

    Every example body carries the prompt, image prompt and completion prices, so their
    USD properties are ``Decimal``, never None; the others are ``Decimal | None``. xAI's
    OpenAPI file also requires ``search_price``, the cached price, the long-context prices
    and the threshold, but its own ``/v1/language-models/{id}`` example omits them: they
    stay optional.
    """

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

    prompt_price_per_million = TokenPricing.prompt_price_per_million.required()
    image_prompt_price_per_million = TokenPricing.image_prompt_price_per_million.required()
    completion_price_per_million = TokenPricing.completion_price_per_million.required()

    def estimate_cost(
        self,
        prompt_tokens: int,
        completion_tokens: int,
        cached_prompt_tokens: int = 0,
        image_tokens: int = 0,
        *,
        searches: int = 0,
    ) -> Decimal:
        """The USD cost of one request's usage, exact (``Decimal``).

        ``prompt_tokens`` is every prompt token, as in the API's ``usage.prompt_tokens``;
        ``cached_prompt_tokens`` and ``image_tokens`` are the parts of it that were served
        from the prompt cache and that came from images (``cached + image <= prompt``,
        else ``ValueError``). They are billed at the cached price (the prompt price when
        the model lists none) and the image prompt price; the remaining prompt tokens at
        the prompt text price. ``searches`` are live searches, at ``search_price``.

        Long context follows xAI's OpenAPI file. ``long_context_threshold``: "Token count
        at or above which the long context prices apply. When 0, the model has no long
        context pricing tier." ``prompt_text_token_price_long_context``: "When 0, the
        standard prompt_text_token_price applies at all context lengths."
        ``completion_text_token_price_long_context``: "When 0, the standard
        completion_text_token_price applies." ``cached_prompt_text_token_price_long_context``:
        "When 0, falls back to cached_prompt_text_token_price." So when
        :meth:`long_context_applies` to ``prompt_tokens`` (cached and image tokens
        included), each kind with a non-zero long-context price is billed at it, and each
        kind whose long-context price is 0 or absent at its standard price; cached tokens
        without any cached price at the prompt price in effect. Image prompt tokens have
        no long-context price.

        Counts must be ``int`` (``TypeError`` otherwise, ``bool`` included) and ``>= 0``
        (``ValueError``). ``grok-3`` with 1M prompt and 1M completion tokens costs
        ``Decimal('18')``.
        """
        prompt = check_count(prompt_tokens, "prompt_tokens")
        completion = check_count(completion_tokens, "completion_tokens")
        cached = check_count(cached_prompt_tokens, "cached_prompt_tokens")
        image = check_count(image_tokens, "image_tokens")
        search_count = check_count(searches, "searches")
        if cached + image > prompt:
            raise ValueError(
                "cached_prompt_tokens and image_tokens are parts of prompt_tokens: "
                f"{cached} + {image} > {prompt}"
            )
        prompt_price = self.prompt_text_token_price
        cached_price = self.cached_prompt_text_token_price
        completion_price = self.completion_text_token_price
        if self.long_context_applies(prompt):
            # `or`: a long-context price of 0 or None keeps the standard price of its kind.
            prompt_price = self.prompt_text_token_price_long_context or prompt_price
            cached_price = self.cached_prompt_text_token_price_long_context or cached_price
            completion_price = self.completion_text_token_price_long_context or completion_price
        if cached_price is None:
            cached_price = prompt_price
        # Every raw price is USD cents per 100M units: sum exactly in that unit, then shift.
        total = (
            (prompt - cached - image) * prompt_price
            + cached * cached_price
            + image * self.prompt_image_token_price
            + completion * completion_price
        )
        if search_count:
            if self.search_price is None:
                raise ValueError(f"model {self.id!r} lists no search_price")
            total += search_count * self.search_price
        return shift(total, PER_UNIT_PLACES)

    def long_context_applies(self, prompt_tokens: int) -> bool:
        """Whether a prompt of ``prompt_tokens`` (cached and image tokens included) is
        billed at long-context prices, as :meth:`estimate_cost` bills it.

        xAI's OpenAPI file: ``long_context_threshold`` is the "Token count at or above
        which the long context prices apply. When 0, the model has no long context
        pricing tier." So this is True when ``long_context_threshold > 0`` (absent counts
        as 0), ``prompt_tokens >= long_context_threshold``, and the tier changes a price:
        at least one ``*_long_context`` price is non-zero. With all three 0 or absent,
        every kind falls back to its standard price, the prompt is billed exactly as a
        short one would be, and this is False.
        """
        prompt = check_count(prompt_tokens, "prompt_tokens")
        threshold = self.long_context_threshold
        if threshold is None or threshold <= 0:
            return False
        return prompt >= threshold and bool(
            self.prompt_text_token_price_long_context
            or self.cached_prompt_text_token_price_long_context
            or self.completion_text_token_price_long_context
        )


class ImageGenerationModel(_Versioned, frozen=True, kw_only=True):
    """An object of ``GET /v1/image-generation-models`` and ``.../{id}``.

    xAI's examples carry token prices that its field list does not name, and omit
    ``image_price`` and the modalities that it calls required; both kinds are optional here.
    """

    max_prompt_length: int
    aliases: tuple[str, ...]
    input_modalities: tuple[str, ...] = ()
    output_modalities: tuple[str, ...] = ()
    image_price: int | None = None
    prompt_text_token_price: int | None = None
    prompt_image_token_price: int | None = None
    generated_image_token_price: int | None = None
    pricing: tuple[PricingTier, ...] = ()

    prompt_price_per_million = Price(
        "prompt_text_token_price",
        "USD per 1M prompt text tokens (same unit as the language models' prices).",
    )
    image_prompt_price_per_million = Price(
        "prompt_image_token_price",
        "USD per 1M prompt image tokens (an image given as input).",
    )
    generated_image_price_per_million = Price(
        "generated_image_token_price",
        "USD per 1M generated image tokens.",
    )
    image_price_usd = Price("image_price", _IMAGE_PRICE_DOC, places=PER_UNIT_PLACES)


class EmbeddingModel(_Struct, frozen=True, kw_only=True):
    """An object of ``GET /v1/embedding-models`` and ``GET /v1/embedding-models/{id}``
    (schema ``EmbeddingModel`` of xAI's OpenAPI file; the reference page has no such
    endpoint).

    The file requires every field, but its own examples omit ``output_modalities`` (both)
    and ``fingerprint`` (the get example): those two are optional here.

    The schema describes the two prices as "USD cents per million token", unlike every
    other token price of the API ("per 100 million"). They are taken to be in the same
    unit as the language models' prices, as xAI's gRPC definition (``xai-org/xai-proto``,
    ``models.proto``) words both messages' prices identically: "in 1/100 USD cents per one
    million tokens", i.e. USD cents per 100M tokens. ``100`` -> ``Decimal('0.01')`` USD
    per 1M tokens.
    """

    id: str
    fingerprint: str | None = None
    created: int
    object: str = "model"
    owned_by: str
    version: str
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...] = ()
    prompt_text_token_price: int
    prompt_image_token_price: int
    aliases: tuple[str, ...]

    prompt_price_per_million = TokenPricing.prompt_price_per_million.required()
    image_prompt_price_per_million = TokenPricing.image_prompt_price_per_million.required()


class VideoGenerationModel(_Versioned, frozen=True, kw_only=True):
    """An object of ``GET /v1/video-generation-models`` and ``.../{id}``."""

    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...]
    aliases: tuple[str, ...]


AnyModel = (
    Model | LanguageModel | ImageGenerationModel | VideoGenerationModel | EmbeddingModel
)
