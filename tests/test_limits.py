"""Bodies the client will not read whole (``max_response_bytes``), and ``close()`` waking
calls that wait to retry. Real servers on 127.0.0.1; nothing waits for real beyond
a fraction of a second."""

from __future__ import annotations

import asyncio
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from aiohttp import web

import xai_models_async as xm
from tests.test_integration import leftover_tasks
from xai_models_async.testing import FakeXAIServer, Fault

MiB = 1024 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Serve one handler on every path of 127.0.0.1; returns the base URL."""
    runners: list[web.AppRunner] = []
    hits: list[str] = []

    async def start(handler: Handler) -> str:
        async def counted(request: web.Request) -> web.StreamResponse:
            hits.append(request.path)
            return await handler(request)

        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", counted)
        runner = web.AppRunner(app, handler_cancellation=True)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    start.hits = hits  # type: ignore[attr-defined]
    yield start
    for runner in runners:
        await runner.cleanup()


def gzip_bomb(mib: int) -> bytes:
    """``mib`` MiB of zeros, gzipped (about 1 KiB per MiB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\0" * MiB
    return b"".join([*(packer.compress(block) for _ in range(mib)), packer.flush()])


async def test_a_gzip_bomb_stops_at_the_limit(serve: Callable[[Handler], Awaitable[str]]
                                              ) -> None:
    bomb = gzip_bomb(1024)  # 1 GiB inflated, 1 MB on the wire

    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip"},
                            content_type="application/json")

    url = await serve(handler)
    tracemalloc.start()
    try:
        async with xm.AsyncClient("k", base_url=url) as client:
            with pytest.raises(xm.APIResponseValidationError,
                               match="larger than max_response_bytes=8,388,608") as info:
                await client.models.list()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * MiB  # read whole, it would be a GiB and more
    assert info.value.attempts == 1  # not retried: another attempt gets the same body
    assert len(serve.hits) == 1  # type: ignore[attr-defined]


async def test_a_declared_length_over_the_limit_is_refused_unread(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=b"[" + b"0," * (3 * MiB) + b"0]",
                            content_type="application/json")

    url = await serve(handler)
    async with xm.AsyncClient("k", base_url=url, max_response_bytes=MiB) as client:
        with pytest.raises(xm.APIResponseValidationError, match="Content-Length is 6,291,459"):
            await client.models.list()


async def test_a_streamed_body_is_cut_at_the_limit(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    sent = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b" " * (256 * 1024)
        for _ in range(800):  # 200 MiB, if anybody read it all
            await response.write(chunk)
            sent += len(chunk)
        return response

    url = await serve(handler)
    async with xm.AsyncClient("k", base_url=url, max_response_bytes=2 * MiB) as client:
        with pytest.raises(xm.APIResponseValidationError, match="more than 2,097,152 bytes"):
            await client.models.list()
    assert sent < 50 * MiB  # the server saw the client go away early


async def test_a_body_exactly_at_the_limit_is_read(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    body = b'{"object": "list", "data": []}'

    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    url = await serve(handler)
    async with xm.AsyncClient("k", base_url=url, max_response_bytes=len(body)) as client:
        assert await client.models.list() == []


async def test_an_error_body_is_kept_only_in_part(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    async def handler(_: web.Request) -> web.Response:
        return web.Response(status=500, text="<html>" + "x" * (5 * MiB) + "</html>")

    url = await serve(handler)
    async with xm.AsyncClient("k", base_url=url, retry=xm.RetryPolicy.none()) as client:
        with pytest.raises(xm.InternalServerError) as info:
            await client.models.list()
    assert isinstance(info.value.body, str)
    assert len(info.value.body) <= 64 * 1024
    assert len(info.value.message) <= 500


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "8"])
def test_max_response_bytes_is_validated(bad: object) -> None:
    with pytest.raises(ValueError, match="max_response_bytes"):
        xm.AsyncClient("k", max_response_bytes=bad)  # type: ignore[arg-type]


# -- close() while calls wait ---------------------------------------------------------


async def test_close_wakes_a_call_sleeping_before_a_retry() -> None:
    """The real asyncio.sleep: the server asks for 30 s, close() ends the wait at once."""
    async with FakeXAIServer() as server:
        server.inject(Fault.error(503, retry_after=30))
        client = xm.AsyncClient("k", base_url=server.url)
        call = asyncio.ensure_future(client.models.list())
        while server.request_count == 0:  # noqa: ASYNC110 - a server counter, no event
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.02)  # now in its 30 s sleep
        await client.close()
        with pytest.raises(xm.ClientClosedError, match="closed while the call waited"):
            await asyncio.wait_for(call, timeout=2)
        assert leftover_tasks() == set()
    assert server.request_count == 1


async def test_a_closed_client_refuses_calls_with_a_typed_error() -> None:
    client = xm.AsyncClient("k", base_url="http://127.0.0.1:9")
    await client.close()
    with pytest.raises(xm.ClientClosedError, match="create a new one"):
        await client.models.list()
