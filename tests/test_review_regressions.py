"""Regressions for problems an independent review found (each failed before its fix)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any

import aiohttp
import msgspec
import pytest
from aiohttp import web

import xai_models_async as xm
from tests.test_integration import leftover_tasks, until
from xai_models_async._wire import parse_error_body, parse_retry_after
from xai_models_async.testing import FakeXAIServer, Fault, make_catalog

LM = "/v1/language-models"


async def test_cancelled_get_many_starts_no_worker_later() -> None:
    """A shared request outliving its batch used to spawn workers for the dead batch when
    it slept before a retry (it carried the batch's ticket)."""
    catalog = make_catalog(30)
    ids = [m["id"] for m in catalog["language_models"]]
    async with FakeXAIServer(catalog) as server:
        server.inject(Fault.error(503, delay=0.1), path=f"{LM}/{ids[0]}")
        gate = asyncio.Event()

        async def sleep(_: float) -> None:
            await gate.wait()

        async with xm.AsyncClient("k", base_url=server.url, sleep=sleep) as client:
            batch = asyncio.ensure_future(client.language_models.get_many(ids, concurrency=1))
            await until(lambda: server.request_count == 1)
            other = asyncio.ensure_future(client.language_models.get(ids[0]))  # joins
            await asyncio.sleep(0)
            batch.cancel()
            with pytest.raises(asyncio.CancelledError):
                await batch
            await until(lambda: server.request_count >= 1)
            before = server.request_count
            gate.set()  # the shared request now retries, and may call before_sleep
            assert (await other).id == ids[0]
            for _ in range(5):
                await asyncio.sleep(0.01)
            paths = [r.path for r in server.requests[before:]]
            assert all(p == f"{LM}/{ids[0]}" for p in paths), paths
            assert leftover_tasks() == set()


async def test_first_error_from_a_late_worker_is_raised_at_once() -> None:
    """The batch waited on a snapshot of its workers, missing one started during a sleep."""
    async with FakeXAIServer() as server:
        server.inject(Fault.error(503), path=f"{LM}/grok-3")
        gate = asyncio.Event()

        async def sleep(_: float) -> None:
            await gate.wait()  # would wait forever without the fix

        async with xm.AsyncClient("k", base_url=server.url, sleep=sleep) as client:
            with pytest.raises(xm.NotFoundError):
                await asyncio.wait_for(client.language_models.get_many(
                    ["grok-3", "no-such-model"], concurrency=1), timeout=2.0)
            assert [r.path for r in server.requests] == [f"{LM}/grok-3",
                                                         f"{LM}/no-such-model"]


@pytest.mark.parametrize("status", [200, 503])
async def test_absurdly_nested_bodies_are_typed_errors(status: int) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    parsed = parse_error_body(deep, 503, None)
    assert parsed.message
    async with FakeXAIServer() as server:
        server.inject(Fault(status=status, body=deep), path=LM)
        async with xm.AsyncClient("k", base_url=server.url,
                                  retry=xm.RetryPolicy.none()) as client:
            with pytest.raises(xm.APIError):
                await client.language_models.list()


async def test_an_app_session_with_raise_for_status_still_maps_statuses() -> None:
    async with FakeXAIServer() as server, \
            aiohttp.ClientSession(raise_for_status=True) as session, \
            xm.AsyncClient("k", base_url=server.url, session=session) as client:
        with pytest.raises(xm.NotFoundError):
            await client.language_models.get("grok-x")
        assert server.request_count == 1


def test_close_from_another_live_loop_is_refused_without_damage() -> None:
    async def scenario() -> None:
        async with FakeXAIServer() as server:
            client = xm.AsyncClient("k", base_url=server.url)
            await client.models.list()
            other_loop_error: list[BaseException] = []

            def close_elsewhere() -> None:
                try:
                    asyncio.run(client.close())
                except BaseException as exc:
                    other_loop_error.append(exc)

            await asyncio.get_running_loop().run_in_executor(None, close_elsewhere)
            assert isinstance(other_loop_error[0], xm.XAIError)
            assert not client.closed
            await client.close()  # the right loop still closes it
            assert client.closed

    asyncio.run(scenario())


async def test_deadline_counts_the_wait_for_a_slot() -> None:
    async with FakeXAIServer() as server:
        server.inject(Fault.slow(0.3), times=10)
        policy = xm.RetryPolicy(deadline=0.45)
        async with xm.AsyncClient("k", base_url=server.url, max_connections=1,
                                  retry=policy, timeout=5.0) as client:
            loop = asyncio.get_running_loop()
            started = loop.time()
            results = await asyncio.gather(
                client.language_models.list(), client.models.list(),
                client.image_generation_models.list(), client.video_generation_models.list(),
                return_exceptions=True,
            )
            elapsed = loop.time() - started
    assert sum(isinstance(r, xm.APITimeoutError) for r in results) >= 2
    assert elapsed < 1.2  # not 4 x 0.3 s queued one after another


async def test_deadline_error_keeps_the_last_failure() -> None:
    now = [0.0]

    async def sleep(delay: float) -> None:
        now[0] += delay + 0.1  # the sleep ends past the deadline

    async with FakeXAIServer() as server:
        server.inject(Fault.error(503), times=5)
        policy = xm.RetryPolicy(deadline=0.55, jitter=0, max_retries=5)
        async with xm.AsyncClient("k", base_url=server.url, retry=policy, sleep=sleep,
                                  clock=lambda: now[0]) as client:
            with pytest.raises(xm.APITimeoutError) as info:
                await client.models.list()
    assert isinstance(info.value.__cause__, xm.InternalServerError)
    assert "HTTP 503" in str(info.value)
    assert info.value.attempts == 1


@pytest.mark.parametrize("key", ["xai-SECRETSECRETSECRET", "sk-proxy-SECRET123"])
@pytest.mark.parametrize("kind", ["ok200", "err400"])
async def test_an_echoed_key_is_masked_in_errors(key: str, kind: str) -> None:
    async def echo(request: web.Request) -> web.Response:
        sent = request.headers["Authorization"].split()[1]
        if request.match_info["kind"] == "ok200":
            return web.Response(status=200, text=f"<html>proxy page for {sent}</html>")
        return web.json_response({"error": f"Incorrect API key provided: {sent}"}, status=400)

    app = web.Application()
    app.router.add_get("/v1/language-models/{kind}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with xm.AsyncClient(key, base_url=url) as client:
            with pytest.raises(xm.APIError) as info:
                await client.language_models.get(kind)
    finally:
        await runner.cleanup()
    err: Any = info.value
    assert key not in str(err)
    assert key not in repr(err.args)
    assert key.encode() not in msgspec.json.encode(
        err.body if not isinstance(err.body, bytes) else err.body.decode())


def test_retry_after_dates_without_a_zone_are_gmt(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        now = datetime(2026, 11, 30, 0, 0, 0, tzinfo=timezone.utc).timestamp()
        assert parse_retry_after({"Retry-After": "Mon Nov 30 00:00:30 2026"}, now) == 30
        gmt = format_datetime(datetime(2026, 11, 30, 0, 0, 30, tzinfo=timezone.utc),
                              usegmt=True).replace("GMT", "-0000")
        assert parse_retry_after({"Retry-After": gmt}, now) == 30
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


async def test_error_headers_are_case_insensitive() -> None:
    async with FakeXAIServer() as server, xm.AsyncClient("k", base_url=server.url) as client:
        with pytest.raises(xm.NotFoundError) as info:
            await client.language_models.get("grok-x")
    headers = info.value.headers
    assert headers.get("X-Request-Id") == headers.get("x-request-id") == info.value.request_id
    assert headers.get("CONTENT-TYPE", "").startswith("application/json")


# --- nits ----------------------------------------------------------------------------

def test_non_string_key_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="api_key"):
        xm.AsyncClient(api_key=123)  # type: ignore[arg-type]


def test_credentials_in_the_base_url_are_refused_without_echo() -> None:
    with pytest.raises(ValueError, match="user name or password") as info:
        xm.AsyncClient("k", base_url="https://me:hunter2@api.x.ai")
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize("field", ["total", "connect", "sock_read"])
@pytest.mark.parametrize("value", [0, -1])
def test_client_timeouts_that_mean_never_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        xm.AsyncClient("k", timeout=aiohttp.ClientTimeout(**{field: value}))


async def test_lone_surrogate_id_is_a_value_error() -> None:
    async with xm.AsyncClient("k", base_url="http://127.0.0.1:9") as client:
        with pytest.raises(ValueError, match="Unicode"):
            await client.language_models.get("\ud800")


async def test_close_during_a_retry_sleep_is_a_clear_error() -> None:
    async with FakeXAIServer() as server:
        server.inject(Fault.error(503))
        slept = asyncio.Event()
        resume = asyncio.Event()

        async def sleep(_: float) -> None:
            slept.set()
            await resume.wait()

        client = xm.AsyncClient("k", base_url=server.url, sleep=sleep)
        task = asyncio.ensure_future(client.models.list())
        await slept.wait()
        await client.close()
        resume.set()
        with pytest.raises(xm.ClientClosedError, match="closed while") as info:
            await task
    assert isinstance(info.value.__cause__, xm.InternalServerError)  # what it retried
    assert server.request_count == 1


def test_invalid_utf8_in_a_json_error_body_keeps_the_message() -> None:
    body = b'{"code":"x","error":"caf\xe9 is not a model"}'
    parsed = parse_error_body(body, 404, None)
    assert parsed.message == "caf\ufffd is not a model"
    assert parsed.code == "x"
