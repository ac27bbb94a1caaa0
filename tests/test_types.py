"""Every example body of the reference decodes, with every value reachable and typed."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

import xai_models_async as xm
from tests.conftest import spec_examples
from xai_models_async._endpoints import ENDPOINTS

LIST_KINDS = ["models", "language_models", "image_generation_models",
              "video_generation_models"]


def _pairs() -> list[tuple[str, str, dict[str, Any]]]:
    examples = spec_examples()
    assert len(examples) == 8
    out = []
    for i, kind in enumerate(LIST_KINDS):
        out.append((kind, "list", examples[2 * i]))
        out.append((kind, "get", examples[2 * i + 1]))
    return out


def _assert_reachable(obj: msgspec.Struct, raw: dict[str, Any]) -> None:
    """Every key of the example is an attribute with the same value (lists as tuples)."""
    for key, value in raw.items():
        assert hasattr(obj, key), f"{type(obj).__name__} lacks {key}"
        got = getattr(obj, key)
        expected = tuple(value) if isinstance(value, list) else value
        assert got == expected, (key, got, expected)


@pytest.mark.parametrize(("kind", "op", "body"), _pairs(),
                         ids=[f"{k}-{o}" for k, o, _ in _pairs()])
def test_every_spec_example_decodes(kind: str, op: str, body: dict[str, Any]) -> None:
    endpoint = ENDPOINTS[kind]
    raw = msgspec.json.encode(body)
    if op == "list":
        items = endpoint.decode_list(raw)
        raw_items = body[endpoint.envelope_field]
        assert len(items) == len(raw_items)
        for item, raw_item in zip(items, raw_items, strict=True):
            assert isinstance(item, endpoint.item_type)
            _assert_reachable(item, raw_item)
    else:
        item = endpoint.item_decoder.decode(raw)
        assert isinstance(item, endpoint.item_type)
        _assert_reachable(item, body)


def test_unknown_fields_are_ignored() -> None:
    body = spec_examples()[3] | {"brand_new_field": {"x": [1, 2]}, "another": None}
    model = msgspec.json.decode(msgspec.json.encode(body), type=xm.LanguageModel)
    assert model.id == "grok-4-0709"


def test_live_only_fields_decode() -> None:
    body = spec_examples()[3] | {
        "prompt_text_token_price_long_context": 40000,
        "cached_prompt_text_token_price_long_context": 10000,
        "completion_text_token_price_long_context": 200000,
        "long_context_threshold": 128000,
        "capabilities": {"reasoning_effort": ["low", "high"], "default_reasoning_effort": "low"},
    }
    model = msgspec.json.decode(msgspec.json.encode(body), type=xm.LanguageModel)
    assert model.long_context_threshold == 128000
    assert model.capabilities == xm.Capabilities(
        reasoning_effort=("low", "high"), default_reasoning_effort="low"
    )
    image = spec_examples()[5] | {
        "pricing": [{"quality": "hd", "resolution": "1024x1024", "price_per_image": 700}],
        "image_price": 700,
    }
    img = msgspec.json.decode(msgspec.json.encode(image), type=xm.ImageGenerationModel)
    assert img.pricing == (xm.PricingTier(quality="hd", resolution="1024x1024",
                                          price_per_image=700),)
    # /v1/models objects: every extra field "may be absent or null" (NOTES.md).
    nulls = {"id": "grok-3", "created": 1, "object": "model", "owned_by": "xai",
             "aliases": None, "context_length": None, "pricing": None, "capabilities": None,
             "prompt_text_token_price": None, "image_price": None,
             "long_context_threshold": None}
    model2 = msgspec.json.decode(msgspec.json.encode(nulls), type=xm.Model)
    assert model2.aliases == ()
    assert model2.pricing == ()
    assert model2.prompt_price_per_million is None
    full = nulls | {"aliases": ["grok-3-latest"], "context_length": 131072,
                    "pricing": [{"price_per_image": 7}],
                    "capabilities": {"reasoning_effort": ["low"]}}
    model3 = msgspec.json.decode(msgspec.json.encode(full), type=xm.Model)
    assert model3.aliases == ("grok-3-latest",)
    assert model3.context_length == 131072
    assert model3.pricing[0].price_per_image == 7


def test_missing_optional_fields_default() -> None:
    body = {"id": "m", "created": 1, "owned_by": "xai"}
    model = msgspec.json.decode(msgspec.json.encode(body), type=xm.Model)
    assert model.object == "model"
    assert model.aliases == ()
    assert model.prompt_text_token_price is None


def test_structs_are_immutable() -> None:
    model = xm.Model(id="m", created=1, owned_by="xai")
    with pytest.raises(AttributeError):
        model.id = "other"  # type: ignore[misc]


def test_wrong_type_names_the_path() -> None:
    body = b'{"models": [{"id": "x", "created": "yesterday"}]}'
    with pytest.raises(msgspec.ValidationError, match=r"\$\.models\[0\]"):
        ENDPOINTS["language_models"].decode_list(body)
