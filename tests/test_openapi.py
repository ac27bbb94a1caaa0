"""The Structs against xAI's OpenAPI file: its example bodies and its schemas.

tests/data/openapi_examples.json holds, hand-extracted from the file, every models
operation's example body and each model schema's ``required`` and ``properties`` names.
Where the file and the reference page differ, the live service follows the file; where
its examples contradict its schemas, a field is required only if every example has it.
"""

from __future__ import annotations

import gc
from typing import Any

import msgspec
import pytest

import xai_models_async as xm
from tests.conftest import spec_examples
from tests.openapi_data import openapi_examples, openapi_schemas
from xai_models_async import types
from xai_models_async.types import EmbeddingModel

# URL path -> (Struct, the list envelope's field, the OpenAPI schema, the reference page's
# example bodies as indexes into spec_examples(): list, get).
FAMILIES: dict[str, tuple[type[Any], str, str, tuple[int, int] | None]] = {
    "/v1/models": (xm.Model, "data", "Model", (0, 1)),
    "/v1/language-models": (xm.LanguageModel, "models", "LanguageModel", (2, 3)),
    "/v1/image-generation-models": (
        xm.ImageGenerationModel, "models", "ImageGenerationModel", (4, 5)),
    "/v1/video-generation-models": (
        xm.VideoGenerationModel, "models", "VideoGenerationModel", (6, 7)),
    # The reference page has no embedding endpoints.
    "/v1/embedding-models": (EmbeddingModel, "models", "EmbeddingModel", None),
}
NESTED = {"ImagePricingTier": xm.PricingTier, "ModelCapabilities": xm.Capabilities}


def _family(operation: str) -> tuple[str, bool]:
    """``"GET /v1/x/{model_id}"`` -> (``"/v1/x"``, is a get)."""
    method, path = operation.split(" ")
    assert method == "GET"
    base = path.removesuffix("/{model_id}")
    return base, base != path


def _objects(path: str) -> list[dict[str, Any]]:
    """Every example model object of a family, from both documents."""
    _, envelope, _, reference = FAMILIES[path]
    bodies = [(body, is_get) for op, body in openapi_examples().items()
              for base, is_get in [_family(op)] if base == path]
    if reference is not None:
        bodies += [(spec_examples()[reference[0]], False), (spec_examples()[reference[1]], True)]
    objects: list[dict[str, Any]] = []
    for body, is_get in bodies:
        objects.extend([body] if is_get else body[envelope])
    return objects


def _assert_reachable(obj: msgspec.Struct, raw: dict[str, Any]) -> None:
    """Every key of the example is an attribute holding the same value."""
    for key, value in raw.items():
        assert hasattr(obj, key), f"{type(obj).__name__} lacks {key}"
        # Through JSON, so that tuples compare with lists and Structs with dicts.
        got = msgspec.json.decode(msgspec.json.encode(getattr(obj, key)))
        assert got == value, key


def test_the_fixture_covers_every_models_operation() -> None:
    operations = {_family(op) for op in openapi_examples()}
    assert operations == {(path, is_get) for path in FAMILIES for is_get in (False, True)}


@pytest.mark.parametrize("operation", list(openapi_examples()))
def test_every_openapi_example_decodes(operation: str) -> None:
    path, is_get = _family(operation)
    struct, envelope, _, _ = FAMILIES[path]
    body = openapi_examples()[operation]
    raw = msgspec.json.encode(body)
    if is_get:
        obj = msgspec.json.decode(raw, type=struct)
        assert type(obj) is struct
        _assert_reachable(obj, body)
        return
    if envelope == "data":
        assert body["object"] == "list"
    items = msgspec.json.decode(raw, type=dict[str, Any])[envelope]
    decoded = msgspec.json.decode(msgspec.json.encode(items), type=list[struct])
    assert len(decoded) == len(body[envelope]) > 0
    for obj, raw_obj in zip(decoded, body[envelope], strict=True):
        assert type(obj) is struct
        _assert_reachable(obj, raw_obj)


@pytest.mark.parametrize("schema", [*(f[2] for f in FAMILIES.values()), *NESTED])
def test_every_schema_property_is_a_field(schema: str) -> None:
    struct = NESTED.get(schema) or next(f[0] for f in FAMILIES.values() if f[2] == schema)
    properties = set(openapi_schemas()[schema]["properties"])
    assert properties <= set(struct.__struct_fields__)


@pytest.mark.parametrize("path", list(FAMILIES))
def test_required_fields_are_those_every_example_has(path: str) -> None:
    struct, _, schema, _ = FAMILIES[path]
    objects = _objects(path)
    in_every_example = set.intersection(*(set(obj) for obj in objects))
    # "object" is always "model": it defaults instead.
    expected = set(openapi_schemas()[schema]["required"]) & in_every_example - {"object"}
    required = {f.name for f in msgspec.structs.fields(struct) if f.required}
    assert required == expected
    # So each example still decodes with any one optional field missing, too.
    for obj in objects:
        for key in set(obj) - required:
            rest = {k: v for k, v in obj.items() if k != key}
            msgspec.convert(rest, struct)
        for key in required & set(obj):
            rest = {k: v for k, v in obj.items() if k != key}
            with pytest.raises(msgspec.ValidationError, match=key):
                msgspec.convert(rest, struct)


# -- bodies of our own with every schema field, where the examples leave some out -------


def test_a_full_embedding_model_decodes() -> None:
    body = {
        "id": "v2", "fingerprint": "fp_0123456789", "created": 1725148800, "object": "model",
        "owned_by": "xai", "version": "0.2.0", "input_modalities": ["text", "image"],
        "output_modalities": ["embedding"], "prompt_text_token_price": 2000,
        "prompt_image_token_price": 4000, "aliases": ["v2-latest"], "later_field": [1],
    }
    model = msgspec.json.decode(msgspec.json.encode(body), type=EmbeddingModel)
    del body["later_field"]  # unknown fields are ignored
    _assert_reachable(model, body)
    assert set(openapi_schemas()["EmbeddingModel"]["properties"]) <= set(body)


def test_a_full_image_generation_model_decodes() -> None:
    body = {
        "id": "grok-imagine-image", "fingerprint": "fp_ca78641a52", "max_prompt_length": 1024,
        "created": 1738961600, "object": "model", "owned_by": "xai", "version": "1.0.0",
        "input_modalities": ["text", "image"], "output_modalities": ["image"],
        "image_price": 200000000, "aliases": ["grok-imagine"],
        "pricing": [{"quality": "high", "resolution": "2k", "price_per_image": 700000000}],
    }
    model = msgspec.json.decode(msgspec.json.encode(body), type=xm.ImageGenerationModel)
    _assert_reachable(model, body)
    assert set(openapi_schemas()["ImageGenerationModel"]["properties"]) <= set(body)


def test_a_full_models_object_decodes() -> None:
    body = {
        **openapi_examples()["GET /v1/models"]["data"][1],
        "cached_prompt_text_token_price_long_context": 4000, "image_price": 0,
        "pricing": [{"quality": "low", "resolution": "1k", "price_per_image": 100000000}],
    }
    model = msgspec.json.decode(msgspec.json.encode(body), type=xm.Model)
    _assert_reachable(model, body)
    assert set(openapi_schemas()["Model"]["properties"]) <= set(body)


# -- EmbeddingModel --------------------------------------------------------------------


def test_embedding_examples_keep_their_gaps() -> None:
    listed = msgspec.convert(
        openapi_examples()["GET /v1/embedding-models"]["models"][0], EmbeddingModel
    )
    got = msgspec.convert(openapi_examples()["GET /v1/embedding-models/{model_id}"],
                          EmbeddingModel)
    assert listed.fingerprint == "fp_df37966059"
    assert got.fingerprint is None           # the get example has none
    assert listed.output_modalities == got.output_modalities == ()  # neither has them
    assert (listed.object, got.object) == ("model", "model")


def test_embedding_prices_convert_like_language_model_prices() -> None:
    # Same unit as the language models' (xai-proto's models.proto words both alike:
    # "1/100 USD cents per one million tokens"), whatever the OpenAPI text says.
    listed = msgspec.convert(
        openapi_examples()["GET /v1/embedding-models"]["models"][0], EmbeddingModel
    )
    got = msgspec.convert(openapi_examples()["GET /v1/embedding-models/{model_id}"],
                          EmbeddingModel)
    assert listed.prompt_price_per_million == msgspec.convert(
        {**openapi_examples()["GET /v1/language-models"]["models"][0],
         "prompt_text_token_price": 100}, xm.LanguageModel,
    ).prompt_price_per_million
    assert str(listed.prompt_price_per_million) == "0.01"
    assert str(got.prompt_price_per_million) == "0.001"
    assert str(got.image_prompt_price_per_million) == "0"


def test_embedding_model_follows_the_struct_rules() -> None:
    model = msgspec.convert(openapi_examples()["GET /v1/embedding-models/{model_id}"],
                            EmbeddingModel)
    with pytest.raises(AttributeError):
        model.id = "v2"  # type: ignore[misc]
    assert not gc.is_tracked(model)
    with pytest.raises(TypeError):
        EmbeddingModel("v1")  # type: ignore[misc]  # keyword-only
    assert EmbeddingModel.__struct_config__.frozen
    assert not EmbeddingModel.__struct_config__.gc


def test_embedding_model_is_exported_from_types() -> None:
    assert "EmbeddingModel" in types.__all__
    assert set(types.__all__) <= set(vars(types))
    model = msgspec.convert(openapi_examples()["GET /v1/embedding-models/{model_id}"],
                            EmbeddingModel)
    assert isinstance(model, types.AnyModel)
