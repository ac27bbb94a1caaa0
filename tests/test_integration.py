"""The client against a real server on 127.0.0.1: what aioresponses cannot show.

Connection reuse, the pool bound, truncated bodies, resets, timeouts, cancellation, and
every row of the retry table end to end. Sleeps between retries are injected (instant);
the only real waiting is a few tens of milliseconds of server-side delay.

Note: aiohttp itself resends an idempotent request once when a connection drops before an
answer (RFC 9112 §9.3.1), so a single injected reset is invisible to the client; tests
inject resets twice to make one attempt of ours fail.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import nullcontext as _nullcontext
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import xai_models_async as xm
from tests.conftest import API_KEY, FakeSleep
from xai_models_async.testing import FakeXAIServer, Fault

LM_PATH = "/v1/language-models"


def leftover_tasks() -> set[asyncio.Task[Any]]:
    """Tasks of the client still alive (the server's handlers share this loop; skip them)."""
    def is_server(task: asyncio.Task[Any]) -> bool:
        code = getattr(task.get_coro(), "cr_code", None)
        filename = code.co_filename if code is not None else ""
        return "aiohttp/web" in filename or "testing/_server" in filename
    return {t for t in asyncio.all_tasks()
            if t is not asyncio.current_task() and not is_server(t)}


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    """Wait for a server-side counter; the server has no event to await."""
    async with asyncio.timeout(timeout) if hasattr(asyncio, "timeout") else _nullcontext():
        while not condition():  # noqa: ASYNC110 - polling a counter, bounded by timeout
            await asyncio.sleep(0.002)


def make_client(server: FakeXAIServer, **kwargs: Any) -> xm.AsyncClient:
    kwargs.setdefault("api_key", API_KEY)
    kwargs.setdefault("sleep", FakeSleep())
    return xm.AsyncClient(base_url=server.url, **kwargs)


async def test_all_eight_endpoints(server: FakeXAIServer) -> None:
    async with make_client(server) as c:
        models = await c.models.list()
        assert models
        assert all(isinstance(m, xm.Model) for m in models)
        assert isinstance(await c.models.get(models[0].id), xm.Model)
        lms = await c.language_models.list()
        assert {m.id for m in lms} >= {"grok-3", "grok-3-mini", "grok-2-vision-1212"}
        grok4 = await c.language_models.get("grok-4-0709")
        assert grok4.aliases == ("grok-4", "grok-4-latest")
        images = await c.image_generation_models.list()
        assert images[0].max_prompt_length == 1024
        assert (await c.image_generation_models.get(images[0].id)).id == images[0].id
        videos = await c.video_generation_models.list()
        assert (await c.video_generation_models.get(videos[0].id)).output_modalities == (
            "video",)
        catalog = await c.catalog()
        assert len(catalog.language_models) == len(lms)


async def test_keep_alive_reuses_one_connection(server: FakeXAIServer) -> None:
    async with make_client(server) as c:
        for _ in range(20):
            await c.language_models.get("grok-3")
    assert server.count(f"{LM_PATH}/grok-3") == 20
    assert server.connection_count == 1


async def test_pool_never_exceeds_max_connections(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(0.05), times=40)
    async with make_client(server, max_connections=8) as c:
        await asyncio.gather(*(c.language_models.list(cache_ttl=0, timeout=5.0 + i * 1e-3)
                               for i in range(40)))
    assert server.request_count == 40
    assert server.max_open_connections == 8


async def test_get_many_keeps_order_and_bound(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(0.02), times=100)
    ids = ["grok-3-mini", "grok-3", "grok-2-vision-1212", "grok-4-0709"] * 5
    async with make_client(server, max_connections=50) as c:
        got = await c.language_models.get_many(ids, concurrency=3)
    assert [m.id for m in got] == ids
    assert server.max_open_connections <= 3


async def test_truncated_body_is_retried(server: FakeXAIServer) -> None:
    server.inject(Fault.truncate(), path=LM_PATH)
    async with make_client(server) as c:
        assert len(await c.language_models.list()) >= 3
    assert server.count(LM_PATH) == 2


async def test_truncated_body_error_without_retries(server: FakeXAIServer) -> None:
    server.inject(Fault.truncate(), path=LM_PATH)
    async with make_client(server, retry=xm.RetryPolicy.none()) as c:
        with pytest.raises(xm.APIConnectionError, match="cut short") as info:
            await c.language_models.list()
    assert isinstance(info.value.__cause__, aiohttp.ClientPayloadError)


@pytest.mark.parametrize("kind", ["reset", "disconnect"])
async def test_dropped_connections(server: FakeXAIServer, kind: str) -> None:
    fault = Fault.reset() if kind == "reset" else Fault.disconnect()
    server.inject(fault, times=2)
    async with make_client(server, retry=xm.RetryPolicy.none()) as c:
        with pytest.raises(xm.APIConnectionError) as info:
            await c.models.list()
        assert not isinstance(info.value, xm.APITimeoutError)
        server.inject(fault, times=2)
    async with make_client(server) as c:
        assert await c.models.list()


async def test_timeout_per_attempt(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(2.0), times=1)
    async with make_client(server, timeout=0.1, retry=xm.RetryPolicy.none()) as c:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(xm.APITimeoutError):
            await c.models.list()
        assert loop.time() - started < 1.5
        assert await c.models.list()  # the pool still works


async def test_timeout_is_retried(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(2.0), times=1)
    async with make_client(server, timeout=0.1) as c:
        assert await c.models.list()
    assert server.count("/v1/models") == 2


async def test_non_json_2xx_is_validation_error_not_retried(server: FakeXAIServer) -> None:
    server.inject(Fault.non_json(), path=LM_PATH)
    async with make_client(server) as c:
        with pytest.raises(xm.APIResponseValidationError, match="not valid JSON") as info:
            await c.language_models.list()
    assert info.value.request_id
    assert server.count(LM_PATH) == 1


RETRIED = [408, 409, 429, 500, 502, 503, 504, 529]
NOT_RETRIED = [400, 401, 403, 404, 422, 501]


@pytest.mark.parametrize("status", RETRIED + NOT_RETRIED)
async def test_retry_table_end_to_end(server: FakeXAIServer, status: int) -> None:
    server.inject(Fault.error(status), path=LM_PATH)
    sleep = FakeSleep()
    async with make_client(server, sleep=sleep, retry=xm.RetryPolicy(max_retries=1)) as c:
        if status in RETRIED:
            assert await c.language_models.list()
            assert server.count(LM_PATH) == 2
            assert len(sleep.delays) == 1
        else:
            with pytest.raises(xm.APIStatusError) as info:
                await c.language_models.list()
            assert info.value.status_code == status
            assert info.value.request_id
            assert server.count(LM_PATH) == 1
            assert sleep.delays == []


async def test_retry_after_end_to_end(server: FakeXAIServer) -> None:
    server.inject(Fault.error(503, retry_after=3), path=LM_PATH)
    sleep = FakeSleep()
    async with make_client(server, sleep=sleep) as c:
        await c.language_models.list()
    assert sleep.delays == [3.0]


async def test_call_id_is_stable_across_retries(server: FakeXAIServer) -> None:
    server.inject(Fault.error(503), path=LM_PATH, times=2)
    async with make_client(server) as c:
        await c.language_models.list()
        await c.language_models.list(cache_ttl=0)
    ids = [r.headers["x-client-request-id"] for r in server.requests]
    assert len(ids) == 4
    assert ids[0] == ids[1] == ids[2] != ids[3]


async def test_wrong_key_against_the_server() -> None:
    async with FakeXAIServer(api_key="xai-right-key-123") as srv, \
            make_client(srv, api_key="xai-wrong-key-456") as c:
        with pytest.raises(xm.AuthenticationError) as info:
            await c.models.list()
    assert info.value.status_code == 400
    assert "xai-wrong-key-456" not in str(info.value)


async def test_concurrency_slot_is_free_during_retry_sleep(server: FakeXAIServer) -> None:
    """With concurrency=1, the second id must be fetched while the first sleeps."""
    server.inject(Fault.error(503), path=f"{LM_PATH}/grok-3")
    second_done = asyncio.Event()

    async def sleep(delay: float) -> None:
        await asyncio.wait_for(second_done.wait(), timeout=2.0)

    async with make_client(server, sleep=sleep) as c:
        task = asyncio.ensure_future(
            c.language_models.get_many(["grok-3", "grok-3-mini"], concurrency=1))
        await until(lambda: server.count(f"{LM_PATH}/grok-3-mini") > 0)
        second_done.set()
        got = await task
    assert [m.id for m in got] == ["grok-3", "grok-3-mini"]


async def test_get_many_return_exceptions(server: FakeXAIServer) -> None:
    async with make_client(server) as c:
        got = await c.language_models.get_many(["grok-3", "nope", "grok-3-mini"],
                                                return_exceptions=True)
    assert isinstance(got[0], xm.LanguageModel)
    assert got[0].id == "grok-3"
    assert isinstance(got[1], xm.NotFoundError)
    assert isinstance(got[2], xm.LanguageModel)


async def test_get_many_first_error_cancels_the_rest(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(5.0), path=f"{LM_PATH}/grok-3", times=1)
    async with make_client(server) as c:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(xm.NotFoundError):
            await c.language_models.get_many(["grok-3", "nope"])
        assert loop.time() - started < 2.0
        assert leftover_tasks() == set()


async def test_cancelling_get_many_leaves_nothing_behind(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(5.0), times=10)
    async with make_client(server) as c:
        task = asyncio.ensure_future(c.language_models.get_many(
            ["grok-3", "grok-3-mini", "grok-2-vision-1212", "grok-4-0709"]))
        await until(lambda: server.request_count >= 4)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert leftover_tasks() == set()
        server.clear_faults()
        assert (await c.language_models.get("grok-3")).id == "grok-3"  # pool still usable


async def test_cancelling_catalog_leaves_nothing_behind(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(5.0), times=4)
    async with make_client(server) as c:
        task = asyncio.ensure_future(c.catalog())
        await until(lambda: server.request_count >= 4)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert leftover_tasks() == set()


async def test_trace_configs_are_passed_through(server: FakeXAIServer) -> None:
    seen: list[str] = []

    async def on_start(session: Any, ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        seen.append(params.url.path)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with make_client(server, trace_configs=[trace]) as c:
        await c.models.list()
    assert seen == ["/v1/models"]


# --- redirects: the key must never reach another origin -------------------------------

async def _start(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


async def test_same_origin_redirect_is_followed(server: FakeXAIServer) -> None:
    app = web.Application()

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently("/v2/models")

    async def v2(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": []})

    app.router.add_get("/v1/models", moved)
    app.router.add_get("/v2/models", v2)
    runner, url = await _start(app)
    try:
        async with xm.AsyncClient(API_KEY, base_url=url) as c:
            assert await c.models.list() == []
    finally:
        await runner.cleanup()


async def test_cross_origin_redirect_is_refused_and_key_not_sent() -> None:
    stolen: list[str] = []
    evil = web.Application()

    async def capture(request: web.Request) -> web.Response:
        stolen.append(request.headers.get("Authorization", ""))
        return web.json_response({"object": "list", "data": []})

    evil.router.add_get("/{tail:.*}", capture)
    evil_runner, evil_url = await _start(evil)
    app = web.Application()

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound(evil_url + "/v1/models")

    app.router.add_get("/v1/models", moved)
    runner, url = await _start(app)
    try:
        async with xm.AsyncClient(API_KEY, base_url=url) as c:
            with pytest.raises(xm.APIStatusError, match="not followed") as info:
                await c.models.list()
        assert info.value.status_code == 302
    finally:
        await runner.cleanup()
        await evil_runner.cleanup()
    assert stolen == []


async def test_connection_refused_is_retried_then_typed() -> None:
    sock_server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = sock_server.sockets[0].getsockname()[1]
    sock_server.close()
    await sock_server.wait_closed()
    sleep = FakeSleep()
    async with xm.AsyncClient(API_KEY, base_url=f"http://127.0.0.1:{port}", sleep=sleep) as c:
        with pytest.raises(xm.APIConnectionError, match="cannot connect") as info:
            await c.models.list()
    assert info.value.attempts == 3
    assert len(sleep.delays) == 2


@pytest.mark.parametrize("own_session", [True, False])
async def test_headers_reach_the_server(server: FakeXAIServer, own_session: bool) -> None:
    async with aiohttp.ClientSession() as caller_session:
        session = None if own_session else caller_session
        async with make_client(server, session=session, headers={"X-Team": "t1"}) as c:
            await c.models.list()
            await c.models.list(cache_ttl=0)
    first, second = (r.headers for r in server.requests)
    for headers in (first, second):
        assert headers["authorization"] == f"Bearer {API_KEY}"
        assert headers["user-agent"].startswith(f"xai-models-async/{xm.__version__}")
        assert headers["x-team"] == "t1"
    assert first["x-client-request-id"] != second["x-client-request-id"]


async def test_failed_attempts_are_logged_at_debug(server: FakeXAIServer,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="xai_models_async")
    server.inject(Fault.truncate(), path=LM_PATH)
    async with make_client(server) as c:
        await c.language_models.list()
    lines = [r.getMessage() for r in caplog.records if r.name == "xai_models_async"]
    assert any(line.startswith(f"GET {LM_PATH} failed in") and "attempt 1" in line
               for line in lines)
    assert any(line.startswith(f"GET {LM_PATH} -> 200") and "attempt 2" in line
               for line in lines)
