"""Many processes, one catalog (issue 12), against a real redis-server and the local fake
API: one fetch per endpoint for a whole fleet, a dead lock holder replaced, stale answers
while the API fails or refreshes, and Redis outages that never break a call.

The fleet tests start worker processes (tests/fleet_worker.py); the others run in this
process. Freshness runs on an injected clock where the test is about it; Redis's own
retention and the lock lifetime are real time, kept short.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

import xai_models_async as xm
from tests.redis_server import RedisServer, redis_prefix, redis_server, redis_url
from tests.test_integration import leftover_tasks, until
from xai_models_async.testing import FakeXAIServer, Fault, default_catalog

__all__ = ["redis_prefix", "redis_server", "redis_url"]  # fixtures, imported for use here

WORKER = Path(__file__).with_name("fleet_worker.py")
LISTS = ["/v1/models", "/v1/language-models", "/v1/image-generation-models",
         "/v1/video-generation-models", "/v1/embedding-models"]
CATALOG_SIZE = sum(len(models) for models in default_catalog().values())


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Worker:
    """A fleet_worker.py process, spoken to line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, *args: object) -> Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), *map(str, args),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            cwd=str(WORKER.parent.parent),
        )
        worker = cls(process)
        assert await worker.line() == "ready"
        return worker

    async def line(self, timeout: float = 30) -> str:
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        return raw.decode().strip()

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{text}\n".encode())

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.send("exit")
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()


@pytest_asyncio.fixture
async def fleet() -> AsyncIterator[list[Worker]]:
    workers: list[Worker] = []
    yield workers
    for worker in workers:
        if worker.process.returncode is None:
            worker.process.kill()
        await worker.process.wait()


async def test_a_fleet_fetches_each_list_once(redis_url: str, redis_prefix: str,
                                              fleet: list[Worker]) -> None:
    """8 processes x 50 concurrent catalog() on a cold cache: one request per list; again
    one per list after the entries expire."""
    ttl = 0.5
    async with FakeXAIServer() as server:
        fleet.extend(await asyncio.gather(*(
            Worker.start(server.url, redis_url, redis_prefix, ttl, 5, 50) for _ in range(8))))
        for wave in (1, 2):
            for worker in fleet:  # all at once: nothing awaited between the sends
                worker.send("go")
            results = await asyncio.gather(*(worker.line() for worker in fleet))
            assert results == [f"done {CATALOG_SIZE}"] * 8, results
            assert [server.count(path) for path in LISTS] == [wave] * 5
            assert server.request_count == 5 * wave
            await asyncio.sleep(ttl + 0.1)  # Redis drops the entries (retention = ttl)
        for worker in fleet:
            await worker.stop()


async def test_a_dead_lock_holder_is_replaced_within_the_lock_lifetime(
    redis_url: str, redis_prefix: str, fleet: list[Worker],
) -> None:
    lock_timeout = 1.0
    async with FakeXAIServer() as server:
        server.inject(Fault.slow(30), path="/v1/language-models")  # the holder hangs
        holder = await Worker.start(server.url, redis_url, redis_prefix, 60, lock_timeout, 1)
        waiter = await Worker.start(server.url, redis_url, redis_prefix, 60, lock_timeout, 5)
        fleet.extend([holder, waiter])
        holder.send("go")
        await until(lambda: server.count("/v1/language-models") == 1, timeout=10)
        waiter.send("go")
        await asyncio.sleep(0.2)  # the waiter finds the lock held and waits
        started = time.monotonic()
        holder.process.kill()  # mid-fetch, holding the lock
        assert await waiter.line(timeout=10) == f"done {CATALOG_SIZE}"
        assert time.monotonic() - started < lock_timeout + 1.0
        assert server.count("/v1/language-models") == 2  # the waiter fetched it itself
        await waiter.stop()


@pytest_asyncio.fixture
async def redis_cache(redis_url: str, redis_prefix: str) -> AsyncIterator[xm.RedisCache]:
    async with xm.RedisCache(redis_url, prefix=redis_prefix) as cache:
        yield cache


@pytest_asyncio.fixture(params=["memory", "redis"])
async def any_cache(request: pytest.FixtureRequest, redis_prefix: str
                    ) -> AsyncIterator[xm.Cache]:
    """The stale rules hold for the memory cache and Redis alike."""
    if request.param == "memory":
        yield xm.MemoryCache()
        return
    async with xm.RedisCache(request.getfixturevalue("redis_url"),
                             prefix=redis_prefix) as cache:
        yield cache


@pytest.mark.parametrize("stale_if_error", [3600.0, 0.0])
async def test_stale_if_error_serves_the_last_catalog_flagged(
    any_cache: xm.Cache, stale_if_error: float,
) -> None:
    cache = any_cache
    clock = Clock()
    async with FakeXAIServer() as server, xm.AsyncClient(
        "k", base_url=server.url, cache=cache, cache_ttl=10, stale_if_error=stale_if_error,
        retry=xm.RetryPolicy(max_retries=1), sleep=no_wait, clock=clock,
    ) as client:
        first = await client.catalog()
        assert not first.is_stale
        server.inject_rate(1.0, [Fault.error(503)])  # every request fails from now on
        clock.now += 11  # stale
        if stale_if_error:
            for _ in range(3):
                again = await client.catalog()
                assert again.is_stale
                assert set(again.stale) == {
                    "models", "language_models", "image_generation_models",
                    "video_generation_models", "embedding_models"}
                assert all(isinstance(e, xm.InternalServerError) for e in again.stale.values())
                assert again.language_models == first.language_models
            clock.now += stale_if_error  # past the window: the error again
        with pytest.raises(xm.InternalServerError):
            await client.catalog()


async def test_stale_while_revalidate_answers_at_once_and_refreshes_once(
    any_cache: xm.Cache,
) -> None:
    cache = any_cache
    clock = Clock()
    async with FakeXAIServer() as server, xm.AsyncClient(
        "k", base_url=server.url, cache=cache, cache_ttl=10, stale_while_revalidate=300,
        clock=clock,
    ) as client:
        old = await client.language_models.list()
        catalog = server.catalog
        catalog["language_models"][0]["prompt_text_token_price"] = 12345
        server.set_catalog(catalog)
        server.inject(Fault.slow(0.3), path="/v1/language-models")
        clock.now += 11  # stale, within the revalidate window
        started = time.perf_counter()
        reads = await asyncio.gather(*(client.language_models.list() for _ in range(20)))
        elapsed = time.perf_counter() - started
        assert elapsed < 0.2  # not the 0.3 s refresh: the stale answer came at once
        assert all(r == old for r in reads)
        await until(lambda: server.count("/v1/language-models") == 2)
        await asyncio.sleep(0.35)  # the refresh lands
        fresh = await client.language_models.list()
        assert fresh[0].prompt_text_token_price == 12345
        assert server.count("/v1/language-models") == 2  # one refresh for all 20 reads
    assert leftover_tasks() == set()


async def test_a_stale_catalog_goes_out_before_its_refreshes_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The refreshes wait for the work already queued in the loop, so the stale answer's
    caller pays for none of their requests (the benchmark's catalog-redis rows measure
    the time); closing at once cancels them without an error from their timers."""
    started: list[str] = []

    async def on_start(_: object, __: object, params: aiohttp.TraceRequestStartParams) -> None:
        started.append(params.url.path)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    clock = Clock()
    async with FakeXAIServer() as server:
        client = xm.AsyncClient("k", base_url=server.url, cache_ttl=10,
                                stale_while_revalidate=300, clock=clock,
                                trace_configs=[trace])
        await client.catalog()
        assert sorted(started) == sorted(LISTS)
        clock.now += 11
        started.clear()
        assert not (await client.catalog()).is_stale  # stale for freshness, not an error
        assert started == []  # answered; no refresh has sent its request yet
        await until(lambda: len(started) == len(LISTS))
        clock.now += 11
        started.clear()
        await client.catalog()
        await client.close()
        assert started == []  # the refreshes were cancelled before they began
    assert leftover_tasks() == set()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_close_cancels_a_background_refresh(redis_cache: xm.RedisCache) -> None:
    clock = Clock()
    async with FakeXAIServer() as server:
        client = xm.AsyncClient("k", base_url=server.url, cache=redis_cache, cache_ttl=10,
                                stale_while_revalidate=300, clock=clock)
        await client.models.list()
        server.inject(Fault.slow(30), path="/v1/models")
        clock.now += 11
        await client.models.list()  # stale: starts a refresh that hangs
        await until(lambda: server.count("/v1/models") == 2)
        await asyncio.wait_for(client.close(), timeout=2)
        assert leftover_tasks() == set()


async def test_redis_outage_never_breaks_a_call(redis_server: RedisServer, redis_prefix: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="xai_models_async")
    breaker = Clock()
    async with FakeXAIServer() as server, \
            xm.RedisCache(redis_server.url, prefix=redis_prefix, retry_interval=5,
                          clock=breaker) as cache, \
            xm.AsyncClient("k", base_url=server.url, cache=cache, cache_ttl=60) as client:
        await client.language_models.get("grok-3")
        await client.language_models.get("grok-3")
        assert server.count("/v1/language-models/grok-3") == 1  # shared through Redis
        redis_server.stop(kill=True)
        for _ in range(1000):
            assert (await client.language_models.get("grok-3")).id == "grok-3"
        assert server.count("/v1/language-models/grok-3") == 1001  # straight to the API
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert 1 <= len(warnings) <= 3, [r.getMessage() for r in warnings]
        redis_server.start()  # empty, on the same port
        breaker.now += 6  # past retry_interval: the next call tries Redis again
        await client.language_models.get("grok-3")  # refills Redis
        before = server.count("/v1/language-models/grok-3")
        for _ in range(10):
            await client.language_models.get("grok-3")
        assert server.count("/v1/language-models/grok-3") == before  # hits resume


class _Evil:
    def __reduce__(self) -> tuple[Any, ...]:
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


@pytest.mark.parametrize("payload", [
    b"\x00garbage\xff",
    pickle.dumps(_Evil()),
    b'{"id": "grok-3", "object": "model"}',
])
async def test_a_foreign_value_is_a_miss_and_is_overwritten(
    redis_cache: xm.RedisCache, redis_url: str, redis_prefix: str, payload: bytes,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import redis.asyncio

    monkeypatch.chdir(tmp_path)
    async with FakeXAIServer() as server, xm.AsyncClient(
        "k", base_url=server.url, cache=redis_cache, cache_ttl=60,
    ) as client:
        await client.language_models.list()
        raw = redis.asyncio.Redis.from_url(redis_url)
        try:
            (key,) = [k async for k in raw.scan_iter(f"{redis_prefix}*:language_models:list")]
            await raw.set(key, payload)
            models = await client.language_models.list()
            assert [m.id for m in models][:1] == ["grok-3"]
            assert server.count("/v1/language-models") == 2  # a miss: fetched again
            assert (await raw.get(key)) != payload  # overwritten with a real entry
            await client.language_models.list()
            assert server.count("/v1/language-models") == 2  # and read back from Redis
        finally:
            await raw.aclose()
    assert not (tmp_path / "PWNED").exists()


async def no_wait(_: float) -> None:
    pass


async def test_the_readme_app_shares_one_catalog_among_its_workers(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The README's "Many processes" app as printed there (only the Redis URL and prefix
    swapped for the test server's): four copies of it, as four workers would build it,
    answer 20 concurrent requests each with one fetch per list between them."""
    from aiohttp.test_utils import TestClient, TestServer

    from tests.test_readme import readme_block

    block = readme_block("RedisCache(", "create_app")
    code = block.code.replace('"redis://127.0.0.1:6379/0"', repr(redis_url))
    code = code.replace('prefix="xai-models:"', f"prefix={redis_prefix!r}")
    assert code != block.code, "the README's Redis URL or prefix changed: update this test"
    async with FakeXAIServer() as server:
        monkeypatch.setenv("XAI_API_KEY", "k")
        monkeypatch.setenv("XAI_BASE_URL", server.url)
        workers = []
        for n in range(4):
            namespace: dict[str, Any] = {"__name__": f"readme_app_{n}"}
            exec(compile(code, f"README.md:{block.line}", "exec"), namespace)
            workers.append(TestClient(TestServer(await namespace["create_app"]())))
        for worker in workers:
            await worker.start_server()
        try:
            async def ask(worker: TestClient[Any, Any]) -> Any:
                response = await worker.get("/models")
                assert response.status == 200
                return await response.json()

            answers = await asyncio.gather(*(ask(w) for w in workers for _ in range(20)))
        finally:
            for worker in workers:
                await worker.close()
        assert all(a == answers[0] and not a["stale"] for a in answers)
        assert "grok-3" in answers[0]["models"]
        assert [server.count(path) for path in LISTS] == [1] * 5
    assert leftover_tasks() == set()
