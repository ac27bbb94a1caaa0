"""Price conversions and LanguageModel.estimate_cost: exact Decimal USD from raw integers.

Units (NOTES.md): token prices are USD cents per 100M tokens, so USD per 1M = raw / 10**4;
search_price is USD cents per 100M searches, so USD per search = raw / 10**10.
"""

from __future__ import annotations

import gc
from decimal import Decimal
from typing import Any

import msgspec
import pytest

import xai_models_async as xm

GROK_3: dict[str, Any] = {
    "id": "grok-3", "fingerprint": "fp_898ae9f31c", "created": 1743724800, "object": "model",
    "owned_by": "xai", "version": "1.0", "input_modalities": ["text"],
    "output_modalities": ["text"], "prompt_text_token_price": 30000,
    "cached_prompt_text_token_price": 7500, "prompt_image_token_price": 0,
    "completion_text_token_price": 150000, "search_price": 250000000,
    "aliases": ["grok-3-latest", "grok-3-beta"],
}
# The reference's grok-2-vision-1212 example: no cached price, no search price.
VISION: dict[str, Any] = {
    "id": "grok-2-vision-1212", "fingerprint": "fp_daba7546e5", "created": 1733961600,
    "object": "model", "owned_by": "xai", "version": "0.1.0",
    "input_modalities": ["text", "image"], "output_modalities": ["text"],
    "prompt_text_token_price": 20000, "prompt_image_token_price": 20000,
    "completion_text_token_price": 100000, "aliases": [],
}
LONG: dict[str, Any] = {
    **GROK_3, "id": "grok-long", "prompt_text_token_price": 20000,
    "cached_prompt_text_token_price": 5000, "completion_text_token_price": 100000,
    "prompt_text_token_price_long_context": 40000,
    "cached_prompt_text_token_price_long_context": 10000,
    "completion_text_token_price_long_context": 200000,
    "long_context_threshold": 128000,
}


def lm(base: dict[str, Any], **changes: Any) -> xm.LanguageModel:
    data = {**base, **changes}
    for key in [k for k, v in changes.items() if v is None]:
        del data[key]  # None here means "the field is absent"
    return msgspec.json.decode(msgspec.json.encode(data), type=xm.LanguageModel)


# -- conversions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "raw", "usd"),
    [
        ("prompt_price_per_million", 30000, "3.00"),        # grok-3 prompt
        ("completion_price_per_million", 150000, "15.00"),  # grok-3 completion
        ("cached_prompt_price_per_million", 7500, "0.75"),
        ("image_prompt_price_per_million", 0, "0"),
        ("prompt_price_per_million", 3000, "0.30"),         # grok-3-mini
        ("cached_prompt_price_per_million", 750, "0.075"),
        ("completion_price_per_million", 5000, "0.50"),
        ("prompt_price_per_million", 1, "0.0001"),
        ("completion_price_per_million", 123456789, "12345.6789"),
        ("search_price_usd", 250000000, "0.025"),           # a search
        ("search_price_usd", 1, "0.0000000001"),
    ],
)
def test_price_conversion_table(field: str, raw: int, usd: str) -> None:
    raw_field = {
        "prompt_price_per_million": "prompt_text_token_price",
        "completion_price_per_million": "completion_text_token_price",
        "cached_prompt_price_per_million": "cached_prompt_text_token_price",
        "image_prompt_price_per_million": "prompt_image_token_price",
        "search_price_usd": "search_price",
    }[field]
    model = lm(GROK_3, **{raw_field: raw})
    value = getattr(model, field)
    assert isinstance(value, Decimal)
    assert value == Decimal(usd)
    assert getattr(model, raw_field) == raw  # the raw integer is untouched
    assert type(getattr(model, raw_field)) is int


def test_conversions_are_tidy_and_exact() -> None:
    model = lm(GROK_3)
    assert str(model.prompt_price_per_million) == "3"
    assert str(model.cached_prompt_price_per_million) == "0.75"
    assert str(model.search_price_usd) == "0.025"
    # Past Decimal's 28-digit context, division would round; the conversion does not.
    huge = 10**40 + 1
    converted = lm(GROK_3, completion_text_token_price=huge).completion_price_per_million
    assert converted == Decimal(f"{10**36}.0001")


def test_long_context_price_properties() -> None:
    model = lm(LONG)
    assert model.prompt_price_per_million_long_context == Decimal(4)
    assert model.cached_prompt_price_per_million_long_context == Decimal(1)
    assert model.completion_price_per_million_long_context == Decimal(20)
    plain = lm(GROK_3)
    assert plain.prompt_price_per_million_long_context is None
    assert plain.cached_prompt_price_per_million_long_context is None
    assert plain.completion_price_per_million_long_context is None


def test_absent_prices_are_none() -> None:
    vision = lm(VISION)
    assert vision.cached_prompt_price_per_million is None
    assert vision.search_price_usd is None
    bare = msgspec.json.decode(
        b'{"id": "grok-3", "created": 1, "object": "model", "owned_by": "xai"}', type=xm.Model
    )
    assert bare.prompt_price_per_million is None
    assert bare.completion_price_per_million is None
    assert bare.search_price_usd is None


def test_models_endpoint_objects_convert_live_only_prices() -> None:
    body = (b'{"id": "grok-3", "created": 1, "object": "model", "owned_by": "xai",'
            b' "prompt_text_token_price": 30000, "search_price": 250000000,'
            b' "prompt_text_token_price_long_context": 60000}')
    model = msgspec.json.decode(body, type=xm.Model)
    assert model.prompt_price_per_million == Decimal(3)
    assert model.search_price_usd == Decimal("0.025")
    assert model.prompt_price_per_million_long_context == Decimal(6)


def test_image_generation_token_prices_convert_but_image_price_stays_raw() -> None:
    body = (b'{"id": "grok-imagine-image", "fingerprint": "fp", "max_prompt_length": 1024,'
            b' "created": 1, "object": "model", "owned_by": "xai", "version": "1.0.0",'
            b' "prompt_text_token_price": 100000, "prompt_image_token_price": 100000,'
            b' "generated_image_token_price": 100000, "image_price": 700, "aliases": []}')
    model = msgspec.json.decode(body, type=xm.ImageGenerationModel)
    assert model.prompt_price_per_million == Decimal(10)
    assert model.image_prompt_price_per_million == Decimal(10)
    assert model.generated_image_price_per_million == Decimal(10)
    assert model.image_price == 700  # raw: xAI's documents disagree on its unit
    assert type(model.image_price) is int


# -- estimate_cost --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "args", "kwargs", "usd"),
    [
        # grok-3: $3 / $15 per 1M, cached $0.75.
        (GROK_3, (1_000_000, 1_000_000), {}, "18"),
        (GROK_3, (1000, 500), {}, "0.0105"),
        (GROK_3, (1, 0), {}, "0.000003"),
        (GROK_3, (0, 0), {}, "0"),
        # 1000 prompt tokens of which 400 cached: 600 * 3 + 400 * 0.75 per 1M.
        (GROK_3, (1000, 0, 400), {}, "0.0021"),
        (GROK_3, (1000, 0, 1000), {}, "0.00075"),
        # Live search: $0.025 each.
        (GROK_3, (0, 0), {"searches": 2}, "0.05"),
        (GROK_3, (1000, 500), {"searches": 1}, "0.0355"),
        # No cached price: cached tokens cost the prompt price.
        (VISION, (1000, 0, 400), {}, "0.002"),
        # Image tokens are part of the prompt, at the image prompt price.
        ({**VISION, "prompt_image_token_price": 50000}, (1000, 0, 0, 600), {}, "0.0038"),
        ({**VISION, "prompt_image_token_price": 50000}, (1000, 0, 300, 600), {}, "0.0038"),
        # Long context: at the threshold still the normal prices, one past it the long ones.
        (LONG, (128_000, 0), {}, "0.256"),
        (LONG, (128_001, 0), {}, "0.512004"),
        (LONG, (128_000, 1000), {}, "0.266"),
        (LONG, (128_001, 1000), {}, "0.532004"),
        # Cached tokens count towards the threshold and get the long cached price.
        (LONG, (200_000, 1000, 100_000), {}, "0.52"),
        (LONG, (100_000, 0, 100_000), {}, "0.05"),
        # Only some long prices: the missing ones fall back to the normal price.
        ({**LONG, "completion_text_token_price_long_context": None,
          "cached_prompt_text_token_price_long_context": None},
         (200_000, 1000, 100_000), {}, "0.46"),
        # Long-context prices but no cached price at all: cached at the long prompt price.
        ({**LONG, "cached_prompt_text_token_price": None,
          "cached_prompt_text_token_price_long_context": None},
         (200_000, 0, 100_000), {}, "0.8"),
        # A threshold without long prices, or long prices without a threshold: normal.
        ({**GROK_3, "long_context_threshold": 10}, (1000, 0), {}, "0.003"),
        ({**LONG, "long_context_threshold": None}, (1_000_000, 0), {}, "2"),
    ],
    ids=lambda v: v.get("id") if isinstance(v, dict) else None,
)
def test_estimate_cost_table(
    model: dict[str, Any], args: tuple[int, ...], kwargs: dict[str, int], usd: str
) -> None:
    base = {k: v for k, v in model.items() if v is not None}
    cost = lm(base).estimate_cost(*args, **kwargs)
    assert isinstance(cost, Decimal)
    assert cost == Decimal(usd)


def test_estimate_cost_keywords_and_exactness() -> None:
    model = lm(GROK_3)
    cost = model.estimate_cost(
        prompt_tokens=10**30, completion_tokens=10**30 + 1, cached_prompt_tokens=10**29
    )
    # (9e29 * 30000 + 1e29 * 7500 + (1e30 + 1) * 150000) / 1e10, with no rounding at all.
    expected = (9 * 10**29 * 30000 + 10**29 * 7500 + (10**30 + 1) * 150000)
    assert str(cost).endswith(".000015")  # the last completion token, not rounded away
    assert cost == Decimal(f"{expected // 10**10}.{expected % 10**10:010d}")
    # Summing many small costs stays exact (a float sum would drift).
    assert sum((model.estimate_cost(1, 0) for _ in range(10_000)), Decimal(0)) == Decimal(
        "0.03"
    )


def test_long_context_applies() -> None:
    model = lm(LONG)
    assert not model.long_context_applies(128_000)
    assert model.long_context_applies(128_001)
    assert not lm(GROK_3).long_context_applies(10**9)


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((True, 0), {}, TypeError),
        ((0, False), {}, TypeError),
        ((1.0, 0), {}, TypeError),
        (("10", 0), {}, TypeError),
        ((None, 0), {}, TypeError),
        ((Decimal(10), 0), {}, TypeError),
        ((10, 0, True), {}, TypeError),
        ((10, 0, 0, 1.5), {}, TypeError),
        ((10, 0), {"searches": True}, TypeError),
        ((-1, 0), {}, ValueError),
        ((0, -1), {}, ValueError),
        ((10, 0, -1), {}, ValueError),
        ((10, 0, 0, -1), {}, ValueError),
        ((10, 0), {"searches": -1}, ValueError),
        ((10, 0, 11), {}, ValueError),      # cached is part of prompt
        ((10, 0, 0, 11), {}, ValueError),   # image is part of prompt
        ((10, 0, 6, 5), {}, ValueError),    # together too
    ],
)
def test_estimate_cost_validation(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        lm(GROK_3).estimate_cost(*args, **kwargs)


def test_searches_need_a_search_price() -> None:
    with pytest.raises(ValueError, match="search_price"):
        lm(VISION).estimate_cost(10, 10, searches=1)
    assert lm(VISION).estimate_cost(10, 10, searches=0) == Decimal("0.00012")


# -- the Structs' rules still hold -------------------------------------------------------


def test_structs_stay_frozen_untracked_and_lenient() -> None:
    model = lm(GROK_3, brand_new_field={"x": 1})
    assert model.prompt_text_token_price == 30000
    with pytest.raises(AttributeError):
        model.prompt_text_token_price = 1  # type: ignore[misc]
    assert not gc.is_tracked(model)
    with pytest.raises(TypeError):
        xm.LanguageModel("grok-3")  # type: ignore[misc]  # keyword-only
    # Only what every example carries is required: the vision example decodes.
    assert lm(VISION).cached_prompt_text_token_price is None
