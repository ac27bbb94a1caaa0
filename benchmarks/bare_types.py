"""Baseline (b)'s types: plain msgspec Structs a user would write for the same JSON.

They mirror ``xai_models_async.types`` field for field (tuples, ``frozen``, ``gc=False``) on
purpose: the decode comparison must isolate what the library adds *around* msgspec, not
differences in Struct design. Nothing here imports the library, so the baseline still runs
while the library is broken or half-written.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "BareCapabilities",
    "BareEmbeddingList",
    "BareEmbeddingModel",
    "BareImageGenerationModel",
    "BareImageList",
    "BareLanguageList",
    "BareLanguageModel",
    "BareModel",
    "BareModelList",
    "BarePricingTier",
    "BareVideoGenerationModel",
    "BareVideoList",
]


class _Base(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    pass


class BareCapabilities(_Base, frozen=True, kw_only=True):
    reasoning_effort: tuple[str, ...] = ()
    default_reasoning_effort: str | None = None


class BarePricingTier(_Base, frozen=True, kw_only=True):
    quality: str | None = None
    resolution: str | None = None
    price_per_image: int | None = None


class BareLanguageModel(_Base, frozen=True, kw_only=True):
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
    capabilities: BareCapabilities | None = None


class BareModel(_Base, frozen=True, kw_only=True):
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
    pricing: tuple[BarePricingTier, ...] = ()
    capabilities: BareCapabilities | None = None


class BareImageGenerationModel(_Base, frozen=True, kw_only=True):
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
    pricing: tuple[BarePricingTier, ...] = ()


class BareVideoGenerationModel(_Base, frozen=True, kw_only=True):
    id: str
    fingerprint: str
    created: int
    object: str = "model"
    owned_by: str
    version: str
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...]
    aliases: tuple[str, ...]


class BareEmbeddingModel(_Base, frozen=True, kw_only=True):
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


class BareLanguageList(_Base, frozen=True):
    models: list[BareLanguageModel]


class BareModelList(_Base, frozen=True):
    data: list[BareModel]


class BareImageList(_Base, frozen=True):
    models: list[BareImageGenerationModel]


class BareVideoList(_Base, frozen=True):
    models: list[BareVideoGenerationModel]


class BareEmbeddingList(_Base, frozen=True):
    models: list[BareEmbeddingModel]
