"""FakeXAIServer: endpoints, live-service error shapes, faults, counters, catalogs, fixture.

The client is plain aiohttp on purpose: these tests pin the server's wire behaviour, which
the library's own integration tests then rely on.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import msgspec
import pytest
import pytest_asyncio
from yarl import URL

from tests.openapi_data import openapi_examples
from xai_models_async.testing import (
    FakeXAIServer,
    Fault,
    RecordedRequest,
    default_catalog,
    make_catalog,
)
from xai_models_async.types import EmbeddingModel

_PLUGIN = "xai_models_async.testing._pytest_plugin"
# Installed, the package registers the plugin through its pytest11 entry point; from a
# bare checkout it is loaded here. Registering it twice would be an error.
if not any(ep.value == _PLUGIN for ep in entry_points(group="pytest11")):
    pytest_plugins = [_PLUGIN]

KEY = "xai-test-key-0123456789yz"
AUTH = {"Authorization": f"Bearer {KEY}"}

LIST_PATHS = {
    "models": "/v1/models",
    "language_models": "/v1/language-models",
    "image_generation_models": "/v1/image-generation-models",
    "video_generation_models": "/v1/video-generation-models",
    "embedding_models": "/v1/embedding-models",
}


def _items(family: str, body: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = body["data"] if family == "models" else body["models"]
    return items


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeXAIServer]:
    async with FakeXAIServer() as srv:
        yield srv


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=AUTH) as sess:
        yield sess


async def _get(
    session: aiohttp.ClientSession, server: FakeXAIServer, path: str, **kwargs: Any
) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with session.get(URL(server.url + path, encoded=True), **kwargs) as resp:
        raw = await resp.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw
        return resp.status, body, resp


# ---------------------------------------------------------------------------- endpoints


@pytest.mark.parametrize("family", list(LIST_PATHS))
async def test_list_endpoints_serve_the_default_catalog(
    server: FakeXAIServer, session: aiohttp.ClientSession, family: str
) -> None:
    status, body, resp = await _get(session, server, LIST_PATHS[family])
    assert status == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert _items(family, body) == default_catalog()[family]
    if family == "models":
        assert body["object"] == "list"
        assert set(body) == {"object", "data"}
    else:
        assert set(body) == {"models"}


@pytest.mark.parametrize("family", list(LIST_PATHS))
async def test_get_endpoints_return_each_object(
    server: FakeXAIServer, session: aiohttp.ClientSession, family: str
) -> None:
    for model in default_catalog()[family]:
        status, body, _ = await _get(session, server, f"{LIST_PATHS[family]}/{model['id']}")
        assert (status, body) == (200, model)


def test_default_catalog_holds_the_reference_examples() -> None:
    catalog = default_catalog()
    assert [m["id"] for m in catalog["models"]] == [
        "grok-4-0709",
        "grok-code-fast-1",
        "grok-3",
        "grok-3-mini",
        "grok-2-image-1212",
        "grok-2-vision-1212",
    ]
    assert [m["id"] for m in catalog["language_models"]] == [
        "grok-3",
        "grok-3-mini",
        "grok-2-vision-1212",
        "grok-4-0709",
    ]
    assert [m["id"] for m in catalog["image_generation_models"]] == ["grok-imagine-image"]
    assert [m["id"] for m in catalog["video_generation_models"]] == ["grok-imagine-video"]
    # From the OpenAPI file (the reference page has no embedding endpoints).
    assert catalog["embedding_models"] == (
        openapi_examples()["GET /v1/embedding-models"]["models"])
    # The documents' own quirks are kept, not repaired.
    assert "search_price" not in catalog["language_models"][2]
    assert "image_price" not in catalog["image_generation_models"][0]
    assert "output_modalities" not in catalog["embedding_models"][0]
    # A fresh deep copy each call.
    catalog["language_models"][0]["aliases"].append("mutated")
    assert "mutated" not in default_catalog()["language_models"][0]["aliases"]


class _EmbeddingList(msgspec.Struct):
    models: list[EmbeddingModel]


async def _get_bytes(
    session: aiohttp.ClientSession, server: FakeXAIServer, path: str
) -> tuple[int, bytes]:
    async with session.get(URL(server.url + path, encoded=True)) as resp:
        return resp.status, await resp.read()


async def test_embedding_models_list_serves_the_openapi_example(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    status, raw = await _get_bytes(session, server, "/v1/embedding-models")
    assert status == 200
    assert json.loads(raw) == openapi_examples()["GET /v1/embedding-models"]
    (model,) = msgspec.json.decode(raw, type=_EmbeddingList).models
    assert model.id == "v1"
    assert model.fingerprint == "fp_df37966059"
    assert model.output_modalities == ()
    assert str(model.prompt_price_per_million) == "0.01"


async def test_embedding_models_get_serves_the_example_model(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    status, raw = await _get_bytes(session, server, "/v1/embedding-models/v1")
    assert status == 200
    model = msgspec.json.decode(raw, type=EmbeddingModel)
    listed = openapi_examples()["GET /v1/embedding-models"]["models"][0]
    assert json.loads(raw) == listed
    # The OpenAPI get example is the same model (other price, no fingerprint): one id
    # serves one object, so the fake answers the list's.
    got = msgspec.convert(openapi_examples()["GET /v1/embedding-models/{model_id}"],
                          EmbeddingModel)
    assert (model.id, model.created, model.owned_by, model.version, model.input_modalities,
            model.aliases) == (got.id, got.created, got.owned_by, got.version,
                               got.input_modalities, got.aliases)
    status, raw = await _get_bytes(session, server, "/v1/embedding-models/v2")
    assert status == 404
    assert json.loads(raw)["error"].startswith("The model v2 does not exist")


async def test_embedding_models_come_from_the_catalog(session: aiohttp.ClientSession) -> None:
    mine = {**openapi_examples()["GET /v1/embedding-models/{model_id}"], "id": "v2"}
    async with FakeXAIServer({"embedding_models": [mine]}) as srv:
        status, raw = await _get_bytes(session, srv, "/v1/embedding-models/v2")
        assert status == 200
        assert msgspec.json.decode(raw, type=EmbeddingModel).fingerprint is None
        assert srv.catalog["embedding_models"] == [mine]
    # A catalog without the key serves an empty list.
    async with FakeXAIServer({"models": []}) as srv:
        status, raw = await _get_bytes(session, srv, "/v1/embedding-models")
        assert (status, json.loads(raw)) == (200, {"models": []})


@pytest.mark.parametrize(
    "model_id",
    ["custom/alias", "what?x=1", "hash#tag", "with space", "grök-ü-模型", "a/b?c#d e%"],
)
@pytest.mark.parametrize("family", ["models", "language_models"])
async def test_id_is_one_percent_encoded_segment(
    session: aiohttp.ClientSession, family: str, model_id: str
) -> None:
    obj = {"id": model_id, "created": 1, "object": "model", "owned_by": "me"}
    async with FakeXAIServer({family: [obj]}) as srv:
        status, body, _ = await _get(
            session, srv, f"{LIST_PATHS[family]}/{quote(model_id, safe='')}"
        )
        assert (status, body) == (200, obj)
        # Unencoded, "/" splits the segment: that is another path, not this model.
        if "/" in model_id:
            status, _, _ = await _get(session, srv, f"{LIST_PATHS[family]}/{model_id}")
            assert status == 404
        assert srv.requests[0].path == f"{LIST_PATHS[family]}/{quote(model_id, safe='')}"


async def test_aliases_are_not_resolved(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    status, body, _ = await _get(session, server, "/v1/language-models/grok-3-latest")
    assert status == 404
    assert "grok-3-latest" in body["error"]


async def test_unknown_id_is_a_live_shaped_404(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    status, body, resp = await _get(session, server, "/v1/models/grok-x")
    assert status == 404
    assert body == {
        "code": "Some requested entity was not found",
        "error": f"The model grok-x does not exist or your team {server.team_id} "
        "does not have access to it.",
    }
    assert resp.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "path", ["/v1/nope", "/v2/models", "/", "/v1/models/", "/v1/models/grok-3/extra", "/v1"]
)
async def test_unknown_path_is_a_404_of_the_same_shape(
    server: FakeXAIServer, session: aiohttp.ClientSession, path: str
) -> None:
    status, body, resp = await _get(session, server, path)
    assert status == 404
    assert body["code"] == "Some requested entity was not found"
    assert path in body["error"]
    uuid.UUID(resp.headers["x-request-id"])


async def test_other_methods_get_405_json(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    async with session.post(server.url + "/v1/language-models/grok-3") as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == "GET"
        assert resp.headers["Content-Type"] == "application/json"
        body = await resp.json()
    assert set(body) == {"code", "error"}
    assert "POST" in body["error"]


# ---------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}, {"Authorization": KEY}],
)
async def test_missing_or_non_bearer_key_is_401(
    server: FakeXAIServer, headers: dict[str, str]
) -> None:
    async with aiohttp.ClientSession(headers=headers) as sess:
        status, body, resp = await _get(sess, server, "/v1/models")
    assert status == 401
    assert body["code"] == "Unauthenticated"
    assert body["error"].startswith("No API key provided.")
    uuid.UUID(resp.headers["x-request-id"])


async def test_wrong_key_is_400_with_the_key_masked() -> None:
    async with (
        FakeXAIServer(api_key=KEY) as srv,
        aiohttp.ClientSession(headers={"Authorization": "Bearer xai-wrong-key-98yz"}) as sess,
    ):
        status, body, _ = await _get(sess, srv, "/v1/language-models")
        assert status == 400
        assert body == {
            "code": "Client specified an invalid argument",
            "error": "Incorrect API key provided: xa***yz. "
            "You can obtain an API key from https://console.x.ai.",
        }
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer abc"}) as short:
            _, body, _ = await _get(short, srv, "/v1/models")
        assert "abc" not in body["error"]
        async with aiohttp.ClientSession(headers=AUTH) as right:
            status, _, _ = await _get(right, srv, "/v1/models")
        assert status == 200


async def test_any_key_is_accepted_without_api_key(server: FakeXAIServer) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer anything"}) as sess:
        status, _, _ = await _get(sess, server, "/v1/models")
    assert status == 200


async def test_every_response_has_a_fresh_uuid4_request_id(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    server.inject(Fault.error(503))
    ids = []
    for path in ["/v1/models", "/v1/models", "/v1/models/nope", "/v1/nope"]:
        _, _, resp = await _get(session, server, path)
        ids.append(uuid.UUID(resp.headers["x-request-id"]))
    assert all(i.version == 4 for i in ids)
    assert len(set(ids)) == len(ids)


# ---------------------------------------------------------------------------- faults


async def test_fault_error_has_live_shaped_body_and_retry_after(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    server.inject(Fault.error(429, retry_after=2))
    status, body, resp = await _get(session, server, "/v1/models")
    assert status == 429
    assert resp.headers["Retry-After"] == "2"
    assert set(body) == {"code", "error"}
    assert resp.headers["Content-Type"] == "application/json"
    uuid.UUID(resp.headers["x-request-id"])
    # Used up: the next request is normal.
    status, _, _ = await _get(session, server, "/v1/models")
    assert status == 200


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": {"message": "m", "type": "t", "code": 7}}, b'{"error":'),
        ("Incorrect%20API%20key", b"Incorrect%20API%20key"),
        (b"", b""),
    ],
)
async def test_fault_error_with_custom_body(
    server: FakeXAIServer, session: aiohttp.ClientSession, body: Any, expected: bytes
) -> None:
    server.inject(Fault.error(500, body))
    async with session.get(server.url + "/v1/models") as resp:
        assert resp.status == 500
        assert (await resp.read()).startswith(expected)


async def test_fault_headers_override_and_non_error_status(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    server.inject(Fault(200, headers={"X-Extra": "1", "Content-Type": "text/plain"}))
    status, body, resp = await _get(session, server, "/v1/models")
    assert status == 200
    assert resp.headers["X-Extra"] == "1"
    assert resp.headers["Content-Type"] == "text/plain"
    assert body["object"] == "list"


# aiohttp (3.14) itself retries an idempotent request once when the connection drops with
# ClientOSError/ServerDisconnectedError, so a dropped-connection fault must be injected
# twice to reach the caller.


async def test_fault_reset_aborts_before_headers(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    server.inject(Fault.reset(), times=2)
    with pytest.raises((aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)):
        await _get(session, server, "/v1/models")
    assert server.request_count == 2
    assert server.requests[0].connection_id != server.requests[1].connection_id


async def test_fault_disconnect_closes_without_answer(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    server.inject(Fault.disconnect(), times=2)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await _get(session, server, "/v1/models")
    assert server.request_count == 2


async def test_a_single_dropped_connection_is_retried_by_aiohttp(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    server.inject(Fault.reset())
    status, _, _ = await _get(session, server, "/v1/models")
    assert status == 200
    assert server.request_count == 2
    assert server.connection_count == 2


async def test_fault_truncate_raises_payload_error(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    server.inject(Fault.truncate())
    async with session.get(server.url + "/v1/language-models") as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()


async def test_fault_truncate_advertises_the_full_length(server: FakeXAIServer) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as sess:
        async with sess.get(server.url + "/v1/models/grok-3") as resp:
            full = await resp.read()
        server.inject(Fault.truncate())
        async with sess.get(server.url + "/v1/models/grok-3") as resp:
            assert resp.content_length == len(full)
            received = await resp.content.read(len(full) // 2)
            assert received == full[: len(full) // 2]
            with pytest.raises(aiohttp.ClientPayloadError):
                await resp.content.read()


async def test_fault_non_json_is_an_html_200(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    server.inject(Fault.non_json())
    async with session.get(server.url + "/v1/models") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        text = await resp.text()
    assert text.startswith("<html>")
    assert "bad gateway" in text.lower()


async def test_fault_slow_answers_normally_after_the_delay(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    server.inject(Fault.slow(0.05))
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, body, _ = await _get(session, server, "/v1/models")
    assert loop.time() - started >= 0.05
    assert status == 200
    assert body["object"] == "list"


async def test_fault_slow_drives_client_timeouts(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    server.inject(Fault.slow(5))
    with pytest.raises(asyncio.TimeoutError):
        await _get(session, server, "/v1/models", timeout=aiohttp.ClientTimeout(total=0.05))
    # The abandoned slow answer must not hold the server (or this test) up.
    status, _, _ = await _get(session, server, "/v1/models")
    assert status == 200


async def test_delay_combines_with_error(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    server.inject(Fault.error(503, delay=0.02))
    status, _, _ = await _get(session, server, "/v1/models")
    assert status == 503


@pytest.mark.parametrize(
    "make",
    [
        lambda: Fault(503, kind="reset"),
        lambda: Fault(body="x"),
        lambda: Fault(kind="explode"),  # type: ignore[arg-type]
        lambda: Fault(delay=-1),
        lambda: Fault(delay=float("nan")),
        lambda: Fault(99),
        lambda: Fault(503, body={1, 2}),  # type: ignore[arg-type]
        lambda: Fault(headers={"X": 1}),  # type: ignore[dict-item]
        lambda: Fault(kind="reset", headers={"X": "1"}),
        lambda: Fault.error(200),
        lambda: Fault.error(503, retry_after=-1),
    ],
)
def test_invalid_faults_fail_at_construction(make: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        make()


def test_fault_is_frozen_and_comparable() -> None:
    fault = Fault.error(503, retry_after=1.5)
    assert fault == Fault(503, headers={"Retry-After": "1.5"})
    assert fault.headers is not None
    with pytest.raises(AttributeError):
        fault.status = 500  # type: ignore[misc]
    with pytest.raises(TypeError):
        fault.headers["X"] = "y"  # type: ignore[index]
    assert Fault.slow(0.5) == Fault(delay=0.5)


async def test_inject_by_path_prefix_and_times(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    server.inject(Fault.error(503), path="/v1/language-models", times=2)

    async def status(path: str) -> int:
        return (await _get(session, server, path))[0]

    assert await status("/v1/models") == 200
    assert await status("/v1/image-generation-models") == 200
    assert await status("/v1/language-models/grok-3") == 503
    assert await status("/v1/language-models") == 503
    assert await status("/v1/language-models") == 200


async def test_inject_path_prefix_ends_at_a_slash(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    server.inject(Fault.error(503), path="/v1/models")
    # "/v1/models-x" is not under "/v1/models": it gets the normal unknown-path 404.
    assert (await _get(session, server, "/v1/models-x"))[0] == 404
    assert (await _get(session, server, "/v1/models/grok-3"))[0] == 503


async def test_rules_are_checked_in_insertion_order(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    server.inject(Fault.error(500), times=2)
    server.inject(Fault.error(502))
    server.inject(Fault.error(503), path="/v1/models")
    statuses = [(await _get(session, server, "/v1/models"))[0] for _ in range(5)]
    assert statuses == [500, 500, 502, 503, 200]


async def test_clear_faults(server: FakeXAIServer, session: aiohttp.ClientSession) -> None:
    server.inject(Fault.error(500), times=3)
    server.inject_rate(1.0, [Fault.error(502)])
    server.clear_faults()
    assert (await _get(session, server, "/v1/models"))[0] == 200


async def _rate_run(seed: int, n: int = 40) -> list[int]:
    async with (
        FakeXAIServer() as srv,
        aiohttp.ClientSession(headers=AUTH) as sess,
    ):
        srv.inject_rate(0.5, [Fault.error(500), Fault.error(503)], seed=seed)
        return [(await _get(sess, srv, "/v1/models"))[0] for _ in range(n)]


async def test_inject_rate_is_deterministic_per_seed() -> None:
    first = await _rate_run(seed=7)
    assert first == await _rate_run(seed=7)
    assert first != await _rate_run(seed=8)
    assert set(first) == {200, 500, 503}
    assert 8 <= first.count(200) <= 32


async def test_inject_rate_bounds_and_path(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    server.inject_rate(1.0, [Fault.error(503)], path="/v1/language-models")
    server.inject_rate(0.0, [Fault.error(500)])
    for _ in range(5):
        assert (await _get(session, server, "/v1/language-models"))[0] == 503
        assert (await _get(session, server, "/v1/models"))[0] == 200


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.inject("503"),
        lambda s: s.inject(Fault.error(503), times=0),
        lambda s: s.inject(Fault.error(503), path="v1/models"),
        lambda s: s.inject_rate(1.5, [Fault.error(503)]),
        lambda s: s.inject_rate(0.5, []),
    ],
)
def test_invalid_injections_are_rejected(call: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        call(FakeXAIServer())


# ---------------------------------------------------------------------------- counters


async def test_sequential_requests_reuse_one_connection(
    server: FakeXAIServer, session: aiohttp.ClientSession
) -> None:
    for _ in range(20):
        assert (await _get(session, server, "/v1/models"))[0] == 200
    assert server.request_count == 20
    assert server.count("/v1/models") == 20
    assert server.count("/v1/models/grok-3") == 0
    assert server.connection_count == 1
    assert server.max_open_connections == 1
    assert server.open_connections == 1
    assert {r.connection_id for r in server.requests} == {1}
    first = server.requests[0]
    assert isinstance(first, RecordedRequest)
    assert (first.method, first.path) == ("GET", "/v1/models")
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert all(name == name.lower() for name in first.headers)


async def test_pool_limit_bounds_open_connections(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(0.05), times=30)
    connector = aiohttp.TCPConnector(limit=8)
    async with aiohttp.ClientSession(headers=AUTH, connector=connector) as sess:
        results = await asyncio.gather(*(_get(sess, server, "/v1/models") for _ in range(30)))
    assert [r[0] for r in results] == [200] * 30
    assert server.request_count == 30
    assert server.max_open_connections == 8
    assert server.connection_count == 8


async def test_connections_are_counted_at_socket_level(server: FakeXAIServer) -> None:
    async with aiohttp.ClientSession(
        headers=AUTH, connector=aiohttp.TCPConnector(force_close=True)
    ) as sess:
        for _ in range(3):
            await _get(sess, server, "/v1/models")
    # A connection opened without any request is still a connection.
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    for _ in range(100):
        if server.connection_count == 4:
            break
        await asyncio.sleep(0.001)
    assert server.connection_count == 4
    assert server.request_count == 3
    assert [r.connection_id for r in server.requests] == [1, 2, 3]
    writer.close()
    await writer.wait_closed()
    for _ in range(100):
        if server.open_connections == 0:
            break
        await asyncio.sleep(0.001)
    assert server.open_connections == 0


async def test_reset_counters(server: FakeXAIServer, session: aiohttp.ClientSession) -> None:
    await _get(session, server, "/v1/models")
    server.reset_counters()
    assert (server.request_count, server.connection_count, server.requests) == (0, 0, [])
    assert server.max_open_connections == server.open_connections == 1
    await _get(session, server, "/v1/models")
    assert server.request_count == 1
    assert server.requests[0].connection_id == 1
    assert server.count("/v1/models") == 1


# ---------------------------------------------------------------------------- lifecycle


async def test_lifecycle() -> None:
    srv = FakeXAIServer()
    with pytest.raises(RuntimeError):
        _ = srv.url
    await srv.start()
    try:
        assert srv.url == f"http://127.0.0.1:{srv.port}"
        assert not srv.url.endswith("/")
        with pytest.raises(RuntimeError):
            await srv.start()
        async with aiohttp.ClientSession(headers=AUTH) as sess:
            await _get(sess, srv, "/v1/models")
            assert srv.open_connections == 1
            await srv.close()
            assert srv.open_connections == 0
    finally:
        await srv.close()
    await srv.close()
    with pytest.raises(RuntimeError):
        await srv.start()


async def test_close_does_not_wait_for_a_slow_fault() -> None:
    async with FakeXAIServer() as srv, aiohttp.ClientSession(headers=AUTH) as sess:
        srv.inject(Fault.slow(30))
        task = asyncio.ensure_future(_get(sess, srv, "/v1/models"))
        for _ in range(1000):
            if srv.request_count:
                break
            await asyncio.sleep(0.001)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await srv.close()
        assert loop.time() - started < 2
        with pytest.raises(aiohttp.ClientError):
            await task


# ---------------------------------------------------------------------------- catalogs


@pytest.mark.parametrize(
    ("catalog", "message"),
    [
        ([], "must be a mapping"),
        ({"language-models": []}, "unknown key"),
        ({"models": {"id": "x"}}, "must be a list"),
        ({"models": ["grok-3"]}, "must be an object"),
        ({"language_models": [{"object": "model"}]}, 'missing "id"'),
        ({"models": [{"id": 3}]}, 'invalid "id"'),
        ({"models": [{"id": ""}]}, 'invalid "id"'),
        ({"models": [{"id": "a"}, {"id": "a"}]}, "repeats the id"),
        ({"models": [{"id": "a", "x": object()}]}, "not JSON-encodable"),
    ],
)
def test_catalog_is_validated_at_construction(catalog: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FakeXAIServer(catalog)


def test_catalog_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read catalog file"):
        FakeXAIServer(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        FakeXAIServer(str(bad))
    wrong = tmp_path / "wrong.json"
    wrong.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must be a mapping"):
        FakeXAIServer(wrong)


async def test_json_file_catalog(tmp_path: Path, session: aiohttp.ClientSession) -> None:
    catalog = make_catalog(3, seed=1)
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    async with FakeXAIServer(path) as srv:
        _, body, _ = await _get(session, srv, "/v1/language-models")
        assert body["models"] == catalog["language_models"]
        # Families left out of a catalog are served as empty lists.
        _, body, _ = await _get(session, srv, "/v1/video-generation-models")
        assert body == {"models": []}
        assert srv.catalog == catalog


async def test_catalog_is_copied_and_can_be_swapped(session: aiohttp.ClientSession) -> None:
    catalog = default_catalog()
    async with FakeXAIServer(catalog) as srv:
        catalog["models"].clear()
        _, body, _ = await _get(session, srv, "/v1/models")
        assert len(body["data"]) == 6
        srv.set_catalog(make_catalog(2))
        _, body, _ = await _get(session, srv, "/v1/models")
        assert [m["id"] for m in body["data"]] == ["grok-bench-00000", "grok-bench-00001"]


def test_make_catalog() -> None:
    catalog = make_catalog(500, seed=3)
    language = catalog["language_models"]
    assert len(language) == len(catalog["models"]) == 500
    assert language[42]["id"] == "grok-bench-00042"
    assert len({m["id"] for m in language}) == 500
    assert [m["id"] for m in catalog["models"]] == [m["id"] for m in language]
    assert all(
        m["created"] == lm["created"] and m["object"] == "model"
        for m, lm in zip(catalog["models"], language, strict=True)
    )
    assert any(m["aliases"] for m in language)
    assert any("capabilities" in m for m in language)
    assert any("long_context_threshold" in m for m in language)
    assert any("image" in m["input_modalities"] for m in language)
    assert make_catalog(500, seed=3) == catalog
    assert make_catalog(500, seed=4) != catalog
    assert make_catalog(0)["models"] == []
    assert catalog["embedding_models"] == []
    with pytest.raises(ValueError, match=">= 0"):
        make_catalog(-1)


async def test_large_catalog_is_served(session: aiohttp.ClientSession) -> None:
    async with FakeXAIServer(make_catalog(2000)) as srv:
        _, body, _ = await _get(session, srv, "/v1/language-models")
        assert len(body["models"]) == 2000
        status, body, _ = await _get(session, srv, "/v1/language-models/grok-bench-01999")
        assert (status, body["id"]) == (200, "grok-bench-01999")


# ---------------------------------------------------------------------------- plugin


async def test_xai_server_fixture(xai_server: FakeXAIServer) -> None:
    assert xai_server.url.startswith("http://127.0.0.1:")
    async with aiohttp.ClientSession(headers=AUTH) as sess:
        status, body, _ = await _get(sess, xai_server, "/v1/models/grok-3")
    assert (status, body["id"]) == (200, "grok-3")
    assert xai_server.request_count == 1


def test_plugin_imports_without_the_server() -> None:
    code = (
        "import sys, xai_models_async.testing._pytest_plugin as p; "
        "assert 'xai_models_async.testing._server' not in sys.modules; "
        "assert hasattr(p, 'xai_server')"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
