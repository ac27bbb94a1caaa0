"""Price conversions and LanguageModel.estimate_cost: exact Decimal USD from raw integers.

Units (NOTES.md): token prices are USD cents per 100M tokens, so USD per 1M = raw / 10**4;
search_price is USD cents per 100M searches, so USD per search = raw / 10**10.

Long context follows xAI's OpenAPI file (tests/data/openapi_examples.json): the tier
starts *at* ``long_context_threshold`` (inclusive), a threshold of 0 means no tier, and a
``*_long_context`` price of 0 means the standard price of that kind applies.
"""

from __future__ import annotations

import gc
import importlib.util
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

import xai_models_async as xm
from tests.openapi_data import language_model_example, openapi_examples, openapi_schemas

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


def test_image_generation_token_prices_convert() -> None:
    body = (b'{"id": "grok-imagine-image", "fingerprint": "fp", "max_prompt_length": 1024,'
            b' "created": 1, "object": "model", "owned_by": "xai", "version": "1.0.0",'
            b' "prompt_text_token_price": 100000, "prompt_image_token_price": 100000,'
            b' "generated_image_token_price": 100000, "image_price": 200000000, "aliases": []}')
    model = msgspec.json.decode(body, type=xm.ImageGenerationModel)
    assert model.prompt_price_per_million == Decimal(10)
    assert model.image_prompt_price_per_million == Decimal(10)
    assert model.generated_image_price_per_million == Decimal(10)
    assert model.image_price == 200000000  # the raw integer is untouched
    assert type(model.image_price) is int
    assert model.image_price_usd == Decimal("0.02")


# -- image prices: USD ticks, 10**10 to the dollar ----------------------------------------
# ImagePricingTier.price_per_image is "in 1/100,000,000ths of a USD cent". image_price says
# "USD cents", but the OpenAPI file's own /v1/models example gives grok-imagine-image
# image_price 200000000, and xAI's pricing page lists it at $0.02 per image: ticks too.


@pytest.mark.parametrize(
    ("raw", "usd"),
    [
        (200000000, "0.02"),     # grok-imagine-image
        (700000000, "0.07"),
        (10**10, "1"),
        (1, "0.0000000001"),     # one tick
        (0, "0"),                # a real price of $0: there is no zero sentinel here
        (None, None),
    ],
)
def test_image_prices_are_usd_ticks(raw: int | None, usd: str | None) -> None:
    expected = None if usd is None else Decimal(usd)
    tier = xm.PricingTier(quality="medium", resolution="1k", price_per_image=raw)
    assert tier.price_per_image_usd == expected
    model = xm.Model(id="m", created=1, owned_by="xai", image_price=raw)
    assert model.image_price_usd == expected
    image = xm.ImageGenerationModel(
        id="m", fingerprint="fp", created=1, owned_by="xai", version="1",
        max_prompt_length=1024, aliases=(), image_price=raw,
    )
    assert image.image_price_usd == expected
    for value in (tier.price_per_image_usd, model.image_price_usd, image.image_price_usd):
        assert value is None or isinstance(value, Decimal)


def test_openapi_image_price_example_is_two_cents() -> None:
    models = openapi_examples()["GET /v1/models"]["data"]
    raw = next(m for m in models if m["id"] == "grok-imagine-image")
    model = msgspec.convert(raw, xm.Model)
    assert model.image_price == 200000000
    assert model.image_price_usd == Decimal("0.02")
    # The text-only models of the same example list no image price.
    assert msgspec.convert(models[0], xm.Model).image_price_usd is None


def test_pricing_tiers_convert_per_tier() -> None:
    # Values of our own, in the shape of the ImagePricingTier schema (which no example shows).
    body = {
        "id": "grok-imagine-image", "fingerprint": "fp", "max_prompt_length": 1024,
        "created": 1, "object": "model", "owned_by": "xai", "version": "1.0.0",
        "input_modalities": ["text", "image"], "output_modalities": ["image"],
        "image_price": 200000000, "aliases": [],
        "pricing": [
            {"quality": "low", "resolution": "1k", "price_per_image": 100000000},
            {"quality": "medium", "resolution": "1k", "price_per_image": 200000000},
            {"quality": "high", "resolution": "2k", "price_per_image": 700000000},
        ],
    }
    model = msgspec.convert(body, xm.ImageGenerationModel)
    assert [(t.quality, t.resolution, t.price_per_image_usd) for t in model.pricing] == [
        ("low", "1k", Decimal("0.01")),
        ("medium", "1k", Decimal("0.02")),
        ("high", "2k", Decimal("0.07")),
    ]
    # image_price is the default tier (medium, 1k): the same USD figure.
    assert model.image_price_usd == model.pricing[1].price_per_image_usd


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
        # Long context starts *at* the threshold ("at or above"): one below it the normal
        # prices, at it and past it the long ones.
        (LONG, (127_999, 0), {}, "0.255998"),
        (LONG, (128_000, 0), {}, "0.512"),
        (LONG, (128_001, 0), {}, "0.512004"),
        (LONG, (127_999, 1000), {}, "0.265998"),
        (LONG, (128_000, 1000), {}, "0.532"),
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
    assert not model.long_context_applies(127_999)
    assert model.long_context_applies(128_000)
    assert model.long_context_applies(128_001)
    assert not lm(GROK_3).long_context_applies(10**9)


# -- long context: xAI's OpenAPI semantics -------------------------------------------------
# long_context_threshold: "Token count at or above which the long context prices apply.
# When 0, the model has no long context pricing tier." Each *_long_context price: "When 0,
# the standard [price of its kind] applies" (cached: "falls back to
# cached_prompt_text_token_price").

_LONG_PRICES = (
    "prompt_text_token_price_long_context",
    "cached_prompt_text_token_price_long_context",
    "completion_text_token_price_long_context",
)


@pytest.mark.parametrize(
    ("changes", "prompt", "applies"),
    [
        ({}, 0, False),
        ({}, 127_999, False),                              # one below
        ({}, 128_000, True),                               # exactly at: inclusive
        ({}, 128_001, True),
        ({"long_context_threshold": 0}, 0, False),         # 0: no tier at all
        ({"long_context_threshold": 0}, 10**9, False),
        ({"long_context_threshold": None}, 10**9, False),  # absent: no tier either
        ({"long_context_threshold": -1}, 10**9, False),
        ({"long_context_threshold": 1}, 0, False),
        ({"long_context_threshold": 1}, 1, True),
        # A tier whose long prices are all 0 (or absent) changes no price.
        (dict.fromkeys(_LONG_PRICES, 0), 10**9, False),
        (dict.fromkeys(_LONG_PRICES, None), 10**9, False),
        # One non-zero long price of any kind is enough.
        ({**dict.fromkeys(_LONG_PRICES, 0), _LONG_PRICES[0]: 1}, 128_000, True),
        ({**dict.fromkeys(_LONG_PRICES, 0), _LONG_PRICES[1]: 1}, 128_000, True),
        ({**dict.fromkeys(_LONG_PRICES, 0), _LONG_PRICES[2]: 1}, 128_000, True),
        ({**dict.fromkeys(_LONG_PRICES, 0), _LONG_PRICES[2]: 1}, 127_999, False),
    ],
)
def test_long_context_threshold_edges(
    changes: dict[str, Any], prompt: int, applies: bool
) -> None:
    model = lm(LONG, **changes)
    assert model.long_context_applies(prompt) is applies
    # estimate_cost agrees: the long prices are used exactly when long_context_applies.
    standard = lm(LONG, **dict.fromkeys(_LONG_PRICES, None))
    differs = model.estimate_cost(prompt, 1000, prompt // 2) != standard.estimate_cost(
        prompt, 1000, prompt // 2
    )
    assert differs is (applies and prompt > 0)


# LONG, billed for 200_000 prompt tokens (100_000 of them cached) and 1000 completion
# tokens: long prompt 40000, long cached 10000, long completion 200000; standard 20000,
# 5000 and 100000. Cost in raw units (USD * 10**10), then the USD.
@pytest.mark.parametrize("sentinel", [0, None], ids=["zero", "absent"])
@pytest.mark.parametrize(
    ("falls_back", "changes", "usd"),
    [
        ((), {}, "0.52"),  # 100k * 40000 + 100k * 10000 + 1000 * 200000
        # Each kind on its own: only that kind goes back to its standard price.
        (("prompt_text_token_price_long_context",), {}, "0.32"),         # 100k * 20000
        (("cached_prompt_text_token_price_long_context",), {}, "0.47"),  # 100k * 5000
        (("completion_text_token_price_long_context",), {}, "0.51"),     # 1000 * 100000
        # No cached price of either kind: cached tokens at the prompt price in effect.
        (("cached_prompt_text_token_price_long_context",),
         {"cached_prompt_text_token_price": None}, "0.82"),              # 100k * 40000
        (("cached_prompt_text_token_price_long_context", "prompt_text_token_price_long_context"),
         {"cached_prompt_text_token_price": None}, "0.42"),              # 100k * 20000
        # All three: no long price at all, so the standard prices throughout.
        (_LONG_PRICES, {}, "0.26"),
    ],
)
def test_zero_long_context_price_falls_back_per_kind(
    sentinel: int | None, falls_back: tuple[str, ...], changes: dict[str, Any], usd: str
) -> None:
    data = {**LONG, **changes, **dict.fromkeys(falls_back, sentinel)}
    model = lm({k: v for k, v in data.items() if v is not None})
    assert model.estimate_cost(200_000, 1000, 100_000) == Decimal(usd)


def test_openapi_example_without_a_tier_bills_standard_prices() -> None:
    # The OpenAPI file's "latest": threshold 0 and every long-context price 0. The old
    # reading (threshold 0 = "every prompt is long", 0 = a price of $0) billed it as free.
    model = lm(language_model_example("latest"))
    assert model.long_context_threshold == 0
    assert not model.long_context_applies(0)
    assert not model.long_context_applies(1000)
    assert not model.long_context_applies(10**9)
    cost = model.estimate_cost(1_000_000, 1_000_000)
    assert cost == model.prompt_price_per_million + model.completion_price_per_million
    assert cost == Decimal("3.75")  # $1.25 + $2.50
    assert model.estimate_cost(1_000_000, 0, 1_000_000) == Decimal("0.2")  # cached $0.20
    assert model.prompt_price_per_million_long_context is None
    assert model.cached_prompt_price_per_million_long_context is None
    assert model.completion_price_per_million_long_context is None


def test_openapi_example_with_a_tier() -> None:
    # The OpenAPI file's "grok-420-reasoning": a tier from 128000 tokens, long prompt
    # 40000 and completion 160000, long cached 0 (so the cached standard 2000 applies).
    model = lm(language_model_example("grok-420-reasoning"))
    assert not model.long_context_applies(127_999)
    assert model.long_context_applies(128_000)
    assert model.estimate_cost(127_999, 0) == Decimal("0.255998")
    # 64000 * 40000 + 64000 * 2000 + 1000 * 160000 raw units.
    assert model.estimate_cost(128_000, 1000, 64_000) == Decimal("0.2848")
    assert model.prompt_price_per_million_long_context == Decimal(4)
    assert model.cached_prompt_price_per_million_long_context is None
    assert model.completion_price_per_million_long_context == Decimal(16)


@pytest.mark.parametrize(
    ("field", "prop"),
    [
        ("prompt_text_token_price_long_context", "prompt_price_per_million_long_context"),
        ("cached_prompt_text_token_price_long_context",
         "cached_prompt_price_per_million_long_context"),
        ("completion_text_token_price_long_context",
         "completion_price_per_million_long_context"),
    ],
)
@pytest.mark.parametrize(("raw", "usd"), [(0, None), (None, None), (1, "0.0001"),
                                          (40000, "4")])
def test_long_context_usd_is_none_for_zero(
    field: str, prop: str, raw: int | None, usd: str | None
) -> None:
    expected = None if usd is None else Decimal(usd)
    assert getattr(lm(LONG, **{field: raw}), prop) == expected
    model = xm.Model(id="m", created=1, owned_by="xai", **{field: raw})
    assert getattr(model, prop) == expected
    # A standard price of 0 is a real price of $0, not "absent".
    assert lm(LONG, prompt_text_token_price=0).prompt_price_per_million == Decimal(0)


def test_docstrings_quote_the_openapi_rules() -> None:
    def words(text: str | None) -> str:
        return " ".join((text or "").split())

    described = openapi_schemas()["LanguageModel"]["descriptions"]
    threshold_rule = words(described["long_context_threshold"])
    assert threshold_rule in words(xm.LanguageModel.long_context_applies.__doc__)
    cost_doc = words(xm.LanguageModel.estimate_cost.__doc__)
    assert threshold_rule in cost_doc
    for field in _LONG_PRICES:
        zero_rule = described[field].splitlines()[-1]
        assert zero_rule.startswith("When 0,")
        assert words(zero_rule) in cost_doc, field


# -- typing: prices every body carries are Decimal, not Decimal | None ---------------------

_SNIPPET = """\
from decimal import Decimal

import xai_models_async as xm
from xai_models_async.types import EmbeddingModel


def fine(lm: xm.LanguageModel) -> Decimal:
    total: Decimal = lm.prompt_price_per_million * 2
    total += lm.completion_price_per_million - lm.image_prompt_price_per_million
    return total


def fine_too(em: EmbeddingModel) -> Decimal:
    return em.prompt_price_per_million * 2 + em.image_prompt_price_per_million


def model_prices_may_be_absent(m: xm.Model) -> Decimal:
    return m.prompt_price_per_million * 2  # error


def cached_price_may_be_absent(lm: xm.LanguageModel) -> Decimal:
    return lm.cached_prompt_price_per_million * 2  # error


def long_price_may_be_absent(lm: xm.LanguageModel) -> Decimal:
    return lm.prompt_price_per_million_long_context * 2  # error
"""


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_user_code_passes_mypy_strict(tmp_path: Path) -> None:
    source = tmp_path / "user_code.py"
    source.write_text(_SNIPPET)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
         "--no-error-summary", "--show-error-codes", source.name],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )
    error_lines = {
        int(line.split(":")[1]) for line in result.stdout.splitlines() if ": error:" in line
    }
    expected = {n for n, line in enumerate(_SNIPPET.splitlines(), 1) if "# error" in line}
    # The three Optional prices are still flagged (so mypy really checked the file), and
    # nothing else: the LanguageModel arithmetic passes --strict.
    assert error_lines == expected, result.stdout + result.stderr
    assert result.returncode == 1


def test_required_price_on_a_hand_built_none_fails_loudly() -> None:
    # Struct __init__ does not validate types; a None must not pass as a Decimal.
    model = msgspec.structs.replace(lm(GROK_3), prompt_text_token_price=None)
    with pytest.raises(TypeError, match="prompt_text_token_price"):
        _ = model.prompt_price_per_million


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
