"""Catalog: offline queries (find, names, aliases, modalities, cheapest), and
``client.catalog()`` against the local fake server (details, return_exceptions)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import aiohttp
import msgspec
import pytest

import xai_models_async as xm
from tests.conftest import client_for
from xai_models_async.testing import FakeXAIServer, Fault, default_catalog

TYPES: dict[str, type[Any]] = {
    "models": xm.Model,
    "language_models": xm.LanguageModel,
    "image_generation_models": xm.ImageGenerationModel,
    "video_generation_models": xm.VideoGenerationModel,
}


def build(data: dict[str, list[dict[str, Any]]]) -> xm.Catalog:
    return xm.Catalog(**{
        kind: tuple(msgspec.convert(obj, TYPES[kind]) for obj in data.get(kind, ()))
        for kind in TYPES
    })


def language(model_id: str, prompt: int, completion: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": model_id, "fingerprint": "fp", "created": 1, "object": "model",
        "owned_by": "xai", "version": "1", "input_modalities": ["text"],
        "output_modalities": ["text"], "prompt_text_token_price": prompt,
        "prompt_image_token_price": 0, "completion_text_token_price": completion,
        "aliases": [], **extra,
    }


def cheapest_id(catalog: xm.Catalog, *args: Any, **kwargs: Any) -> str | None:
    model = catalog.cheapest(*args, **kwargs)
    return None if model is None else model.id


@pytest.fixture
def catalog() -> xm.Catalog:
    return build(default_catalog())


# -- find / names / aliases -----------------------------------------------------------


def test_find_by_id_and_alias(catalog: xm.Catalog) -> None:
    grok4 = catalog.find("grok-4-latest")
    assert isinstance(grok4, xm.LanguageModel)
    assert grok4.id == "grok-4-0709"
    assert catalog.find("grok-4") is grok4
    assert catalog.find("grok-4-0709") is grok4
    assert catalog.find("grok-imagine-video").id == "grok-imagine-video"


def test_find_prefers_typed_lists_and_kind_restricts(catalog: xm.Catalog) -> None:
    # grok-3 is in /v1/models and /v1/language-models: the richer typed object wins.
    assert isinstance(catalog.find("grok-3"), xm.LanguageModel)
    assert isinstance(catalog.find("grok-3", kind="models"), xm.Model)
    # Only /v1/models lists grok-code-fast-1.
    assert isinstance(catalog.find("grok-code-fast-1"), xm.Model)
    with pytest.raises(xm.NotFoundError):
        catalog.find("grok-code-fast-1", kind="language_models")
    with pytest.raises(ValueError, match="kind"):
        catalog.find("grok-3", kind="nope")  # type: ignore[arg-type]


def test_an_id_beats_another_models_alias() -> None:
    catalog = build({"language_models": [
        language("a", 1, 1, aliases=["b"]),
        language("b", 2, 2),
    ]})
    assert catalog.find("b").id == "b"
    assert catalog.aliases() == {"b": "b"}


def test_find_miss_suggests_close_names(catalog: xm.Catalog) -> None:
    with pytest.raises(xm.NotFoundError) as info:
        catalog.find("grok-4-lates")
    assert "grok-4-latest" in info.value.suggestions
    assert "grok-4-latest" in str(info.value)
    with pytest.raises(xm.NotFoundError) as info:
        catalog.find("zzzzzzzz")
    assert info.value.suggestions == ()


@pytest.mark.parametrize("name", ["", "   ", None, 3])
def test_find_rejects_empty_names(catalog: xm.Catalog, name: Any) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        catalog.find(name)


def test_names_aliases_and_contains(catalog: xm.Catalog) -> None:
    names = catalog.names()
    assert isinstance(names, frozenset)
    assert {"grok-3", "grok-3-latest", "grok-3-beta", "grok-4", "grok-code-fast-1",
            "grok-imagine-image", "grok-imagine-video"} <= names
    assert catalog.aliases() == {
        "grok-3-latest": "grok-3", "grok-3-beta": "grok-3",
        "grok-3-mini-latest": "grok-3-mini", "grok-3-mini-beta": "grok-3-mini",
        "grok-4": "grok-4-0709", "grok-4-latest": "grok-4-0709",
    }
    assert "grok-3-latest" in catalog
    assert "grok-x" not in catalog
    assert 3 not in catalog


def test_len_iter_and_immutability(catalog: xm.Catalog) -> None:
    assert len(catalog) == 6 + 4 + 1 + 1 == len(list(catalog))
    first = next(iter(catalog))
    assert isinstance(first, xm.LanguageModel)
    with pytest.raises(AttributeError):
        catalog.models = ()  # type: ignore[misc]
    # Lists are accepted and stored as tuples, so the catalog cannot change under its index.
    listed = xm.Catalog(language_models=list(catalog.language_models))  # type: ignore[arg-type]
    assert isinstance(listed.language_models, tuple)
    assert listed == xm.Catalog(language_models=catalog.language_models)


# -- modalities -----------------------------------------------------------------------


def test_with_input_and_output(catalog: xm.Catalog) -> None:
    assert [m.id for m in catalog.with_input("image")] == [
        "grok-2-vision-1212", "grok-imagine-video"
    ]
    assert [m.id for m in catalog.with_input("text", "image")] == [
        "grok-2-vision-1212", "grok-imagine-video"
    ]
    assert [m.id for m in catalog.with_output("video")] == ["grok-imagine-video"]
    assert [m.id for m in catalog.with_output("text")] == [
        "grok-3", "grok-3-mini", "grok-2-vision-1212", "grok-4-0709"
    ]
    assert catalog.with_output("audio") == []
    with pytest.raises(ValueError, match="modality"):
        catalog.with_input()
    with pytest.raises(ValueError, match="modality"):
        catalog.with_output("")


# -- cheapest -------------------------------------------------------------------------


def test_cheapest_by_headline_price(catalog: xm.Catalog) -> None:
    # grok-3-mini: $0.30 + $0.50 per 1M, the lowest prompt + completion.
    assert cheapest_id(catalog) == "grok-3-mini"
    assert cheapest_id(catalog, "image") == "grok-2-vision-1212"
    assert cheapest_id(catalog, None, None) == "grok-3-mini"
    # Language models never output images; generation models are not ranked.
    assert catalog.cheapest(output="image") is None
    assert xm.Catalog().cheapest() is None


def test_cheapest_depends_on_the_workload() -> None:
    catalog = build({"language_models": [
        language("cheap-prompt", 10_000, 100_000),   # $1 in, $10 out
        language("cheap-output", 50_000, 20_000),    # $5 in, $2 out
    ]})
    assert cheapest_id(catalog) == "cheap-output"
    assert cheapest_id(catalog, prompt_tokens=100_000, completion_tokens=100) == "cheap-prompt"
    assert cheapest_id(catalog, completion_tokens=1000) == "cheap-output"


def test_cheapest_counts_cached_and_long_context_prices() -> None:
    catalog = build({"language_models": [
        language("cache-friendly", 30_000, 10_000, cached_prompt_text_token_price=1_000),
        language("flat", 20_000, 10_000),
        language("long-expensive", 5_000, 10_000, long_context_threshold=1000,
                 prompt_text_token_price_long_context=100_000),
    ]})
    assert cheapest_id(catalog, prompt_tokens=500) == "long-expensive"
    # Past the threshold the long-context price applies; a mostly cached prompt favours
    # the cheap cached price.
    assert cheapest_id(catalog, prompt_tokens=10_000, cached_prompt_tokens=9_000) == (
        "cache-friendly")
    assert cheapest_id(catalog, prompt_tokens=10_000) == "flat"


def test_cheapest_ties_are_deterministic() -> None:
    catalog = build({"language_models": [
        language("b", 20_000, 10_000), language("a", 20_000, 10_000),
        language("c", 10_000, 20_000),
    ]})
    # Equal headline price 30000: lower prompt price first, then id.
    assert cheapest_id(catalog) == "c"
    pair = build({"language_models": [
        language("b", 20_000, 10_000), language("a", 20_000, 10_000),
    ]})
    assert cheapest_id(pair) == "a"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"cached_prompt_tokens": 5}, ValueError),         # a part of a missing prompt
        ({"prompt_tokens": 5, "cached_prompt_tokens": 6}, ValueError),
        ({"prompt_tokens": -1}, ValueError),
        ({"prompt_tokens": True}, TypeError),
        ({"completion_tokens": 1.5}, TypeError),
    ],
)
def test_cheapest_validates_the_workload(
    catalog: xm.Catalog, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        catalog.cheapest(**kwargs)
    with pytest.raises(error):  # even when nothing qualifies
        xm.Catalog().cheapest(**kwargs)


# -- client.catalog() -----------------------------------------------------------------

LIST_PATHS = ["/v1/models", "/v1/language-models", "/v1/image-generation-models",
              "/v1/video-generation-models", "/v1/embedding-models"]
TYPED_GETS = ["/v1/language-models/grok-3", "/v1/language-models/grok-3-mini",
              "/v1/language-models/grok-2-vision-1212", "/v1/language-models/grok-4-0709",
              "/v1/image-generation-models/grok-imagine-image",
              "/v1/video-generation-models/grok-imagine-video",
              "/v1/embedding-models/v1"]




async def test_catalog_fetches_each_list_once(server: FakeXAIServer) -> None:
    async with client_for(server) as client:
        catalog = await client.catalog()
    assert [server.count(p) for p in LIST_PATHS] == [1, 1, 1, 1, 1]
    assert server.request_count == 5
    assert (len(catalog.models), len(catalog.language_models),
            len(catalog.image_generation_models), len(catalog.video_generation_models),
            len(catalog.embedding_models)) == (6, 4, 1, 1, 1)
    assert catalog.errors == {}
    assert catalog.find("grok-3-latest").id == "grok-3"


async def test_catalog_details_merges_the_richer_get_objects(server: FakeXAIServer) -> None:
    richer = {**server.catalog["language_models"][0], "long_context_threshold": 131072,
              "capabilities": {"reasoning_effort": ["low", "high"]}}
    server.inject(Fault(200, richer), path="/v1/language-models/grok-3")
    async with client_for(server) as client:
        catalog = await client.catalog(details=True)
    assert [server.count(p) for p in LIST_PATHS] == [1, 1, 1, 1, 1]
    assert [server.count(p) for p in TYPED_GETS] == [1] * 7
    assert server.count("/v1/models/grok-3") == 0  # /v1/models/{id} adds nothing
    grok3 = catalog.find("grok-3", kind="language_models")
    assert isinstance(grok3, xm.LanguageModel)
    assert grok3.long_context_threshold == 131072
    assert grok3.capabilities == xm.Capabilities(reasoning_effort=("low", "high"))
    # Order is the list's.
    assert [m.id for m in catalog.language_models] == [
        "grok-3", "grok-3-mini", "grok-2-vision-1212", "grok-4-0709"]


async def test_catalog_details_concurrency_is_bounded() -> None:
    data = default_catalog()
    data["language_models"] = [
        language(f"m-{i:02d}", 1000, 1000) for i in range(24)
    ]
    in_flight = SimpleNamespace(now=0, peak=0)

    def is_get(params: Any) -> bool:
        return params.url.path.count("/") == 3  # /v1/<kind>/<id>, not a list

    async def started(_session: object, _ctx: object, params: Any) -> None:
        if is_get(params):
            in_flight.now += 1
            in_flight.peak = max(in_flight.peak, in_flight.now)

    async def ended(_session: object, _ctx: object, params: Any) -> None:
        if is_get(params):
            in_flight.now -= 1

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(started)
    trace.on_request_end.append(ended)
    trace.on_request_exception.append(ended)
    async with FakeXAIServer(data) as server:
        # Hold the gets a moment so that they overlap.
        server.inject(Fault.slow(0.005), path="/v1/language-models", times=25)
        async with client_for(server, trace_configs=[trace]) as client:
            catalog = await client.catalog(details=True, concurrency=3)
        assert server.count("/v1/language-models/m-23") == 1
    assert len(catalog.language_models) == 24
    assert in_flight.peak == 3


async def test_catalog_return_exceptions_for_a_list(server: FakeXAIServer) -> None:
    server.inject(Fault.error(503), path="/v1/video-generation-models")
    async with client_for(server) as client:
        catalog = await client.catalog(return_exceptions=True)
        assert set(catalog.errors) == {"video_generation_models"}
        error = catalog.errors["video_generation_models"]
        assert isinstance(error, xm.APIStatusError)
        assert error.status_code == 503
        assert catalog.video_generation_models == ()
        assert len(catalog.language_models) == 4

        server.inject(Fault.error(503), path="/v1/video-generation-models")
        with pytest.raises(xm.APIStatusError) as info:
            await client.catalog()
        assert info.value.status_code == 503


async def test_catalog_return_exceptions_for_a_detail_get(server: FakeXAIServer) -> None:
    server.inject(Fault.error(404), path="/v1/language-models/grok-3-mini")
    async with client_for(server) as client:
        catalog = await client.catalog(details=True, return_exceptions=True)
        assert set(catalog.errors) == {"language_models:grok-3-mini"}
        assert isinstance(catalog.errors["language_models:grok-3-mini"], xm.NotFoundError)
        # The listed object stays in place.
        assert catalog.find("grok-3-mini").id == "grok-3-mini"
        assert len(catalog.language_models) == 4

        server.inject(Fault.error(404), path="/v1/language-models/grok-3-mini")
        with pytest.raises(xm.NotFoundError):
            await client.catalog(details=True)


async def test_catalog_prices_from_the_server(server: FakeXAIServer) -> None:
    async with client_for(server) as client:
        catalog = await client.catalog()
    grok3 = catalog.find("grok-3-latest")
    assert isinstance(grok3, xm.LanguageModel)
    assert grok3.prompt_price_per_million == Decimal("3.00")
    assert grok3.completion_price_per_million == Decimal("15.00")
    assert grok3.search_price_usd == Decimal("0.025")
    assert catalog.cheapest() == catalog.find("grok-3-mini")


async def test_concurrent_catalog_calls_share_requests(server: FakeXAIServer) -> None:
    async with client_for(server) as client:
        catalogs = await asyncio.gather(*(client.catalog() for _ in range(50)))
    assert all(c == catalogs[0] for c in catalogs)
    assert [server.count(p) for p in LIST_PATHS] == [1, 1, 1, 1, 1]


def test_local_not_found_does_not_pretend_to_be_an_http_answer() -> None:
    catalog = xm.Catalog(language_models=(), models=())
    with pytest.raises(xm.NotFoundError) as info:
        catalog.find("grok-x")
    err = info.value
    assert err.from_server is False
    assert err.status_code == 404
    assert err.request_id is None
    assert "HTTP" not in str(err)
    assert str(err).startswith("find ")
