"""Single-flight and the TTL cache, counted on the server side of a real local server.

No test waits for real beyond a few ms: TTLs run on an injected clock, and ``Fault.slow``
only holds a request in flight while waiters are cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import pytest

import xai_models_async as xm
from tests.conftest import client_for
from tests.test_integration import leftover_tasks, until
from xai_models_async._flight import SingleFlight
from xai_models_async.testing import FakeXAIServer, Fault, make_catalog

GROK3 = "/v1/language-models/grok-3"
LANG = "/v1/language-models"


class Clock:
    """An injectable monotonic clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds




# -- single-flight --------------------------------------------------------------------


async def test_a_thousand_concurrent_gets_send_one_request(server: FakeXAIServer) -> None:
    async with client_for(server) as client:
        results = await asyncio.gather(
            *(client.language_models.get("grok-3") for _ in range(1000))
        )
        assert server.count(GROK3) == 1
        assert server.request_count == 1
        assert all(r is results[0] for r in results)
        assert results[0].id == "grok-3"
        # Without a cache, a later call is a new request (the shared one is forgotten).
        await client.language_models.get("grok-3")
        assert server.count(GROK3) == 2


async def test_concurrent_lists_and_different_ids(server: FakeXAIServer) -> None:
    async with client_for(server) as client:
        lists = await asyncio.gather(*(client.language_models.list() for _ in range(100)))
        ids = ["grok-3", "grok-3-mini", "grok-4-0709"] * 50
        models = await asyncio.gather(*(client.language_models.get(i) for i in ids))
    assert server.count(LANG) == 1
    # Each caller gets its own list object (mutating it changes nobody else's).
    assert len({id(lst) for lst in lists}) == 100
    assert [m.id for m in models] == ids
    assert server.count(GROK3) == 1
    assert server.count("/v1/language-models/grok-3-mini") == 1
    assert server.count("/v1/language-models/grok-4-0709") == 1
    assert server.request_count == 4


async def test_errors_are_shared_and_not_kept(server: FakeXAIServer) -> None:
    server.inject(Fault.error(503), path=GROK3)
    async with client_for(server, cache_ttl=60) as client:
        results = await asyncio.gather(
            *(client.language_models.get("grok-3") for _ in range(100)),
            return_exceptions=True,
        )
        assert server.count(GROK3) == 1
        assert all(isinstance(r, xm.InternalServerError) for r in results)
        assert all(r is results[0] for r in results)
        assert results[0].status_code == 503  # type: ignore[union-attr]
        # An error is neither cached nor remembered: the next call asks again.
        model = await client.language_models.get("grok-3")
        assert model.id == "grok-3"
        assert server.count(GROK3) == 2


async def test_a_404_is_shared_too(server: FakeXAIServer) -> None:
    async with client_for(server) as client:
        results = await asyncio.gather(
            *(client.language_models.get("grok-x") for _ in range(10)),
            return_exceptions=True,
        )
    assert server.count("/v1/language-models/grok-x") == 1
    assert all(isinstance(r, xm.NotFoundError) for r in results)


async def test_a_cancelled_follower_just_stops_waiting(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(0.2), path=GROK3)
    async with client_for(server) as client:
        leader = asyncio.create_task(client.language_models.get("grok-3"))
        await until(lambda: server.count(GROK3) == 1)
        follower = asyncio.create_task(client.language_models.get("grok-3"))
        await asyncio.sleep(0)
        follower.cancel()
        model = await leader
        assert model.id == "grok-3"
        assert follower.cancelled()
        assert server.count(GROK3) == 1
        assert leftover_tasks() == set()


async def test_a_cancelled_leader_lets_its_followers_call_again(server: FakeXAIServer) -> None:
    """Go's rule: the leader's cancellation aborts its request; the followers are woken,
    the first becomes the new leader, and nobody else sees a CancelledError."""
    server.inject(Fault.slow(0.2), path=GROK3)
    async with client_for(server) as client:
        leader = asyncio.create_task(client.language_models.get("grok-3"))
        await until(lambda: server.count(GROK3) == 1)
        followers = [asyncio.create_task(client.language_models.get("grok-3"))
                     for _ in range(5)]
        await asyncio.sleep(0)
        leader.cancel()
        models = await asyncio.gather(*followers)
        assert leader.cancelled()
        assert all(m is models[0] for m in models)  # the new leader's one request
        assert server.count(GROK3) == 2
        await until(lambda: server.open_connections <= 1)  # the aborted one was dropped
        assert leftover_tasks() == set()


async def test_cancelling_every_waiter_aborts_the_request(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(0.2), path=GROK3)
    clock = Clock()
    async with client_for(server, cache_ttl=60, clock=clock) as client:
        waiters = [asyncio.create_task(client.language_models.get("grok-3")) for _ in range(3)]
        await until(lambda: server.count(GROK3) == 1)
        assert server.open_connections == 1
        for waiter in waiters:
            waiter.cancel()
        results = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        # The shared request was cancelled and has unwound by the time the last waiter's
        # cancellation completed: no task is left behind.
        assert leftover_tasks() == set()
        # The server sees its connection dropped before the slow answer was sent.
        await until(lambda: server.open_connections == 0)
        # Nothing was cached from the aborted request; a new call is a new request.
        model = await client.language_models.get("grok-3")
        assert model.id == "grok-3"
        assert server.count(GROK3) == 2


async def test_a_caller_after_abandonment_gets_a_fresh_request(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(0.2), path=GROK3)
    async with client_for(server) as client:
        waiter = asyncio.create_task(client.language_models.get("grok-3"))
        await until(lambda: server.count(GROK3) == 1)
        waiter.cancel()
        # Joins right away, while the abandoned request may still be unwinding.
        newcomer = asyncio.create_task(client.language_models.get("grok-3"))
        with pytest.raises(asyncio.CancelledError):
            await waiter
        model = await newcomer
    assert model.id == "grok-3"
    assert server.count(GROK3) == 2


async def test_calls_with_different_overrides_do_not_share(server: FakeXAIServer) -> None:
    async with client_for(server) as client:
        await asyncio.gather(
            client.language_models.get("grok-3"),
            client.language_models.get("grok-3", timeout=5),
        )
    assert server.count(GROK3) == 2


# -- SingleFlight on its own ------------------------------------------------------------


async def test_singleflight_shares_outcomes_without_unretrieved_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flights = SingleFlight()
    calls = 0
    gate = asyncio.Event()

    async def failing() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        raise ValueError("boom")

    waiters = [asyncio.create_task(flights.do("k", failing)) for _ in range(5)]
    await asyncio.sleep(0)
    # Cancel some followers; the leader and the other follower still share the error.
    for waiter in waiters[1:4]:
        waiter.cancel()
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert calls == 1
    assert [type(r) for r in results] == [ValueError] + [asyncio.CancelledError] * 3 + [
        ValueError]
    assert results[0] is results[4]
    assert len(flights) == 0
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        import gc

        gc.collect()
        await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text


async def test_singleflight_last_waiter_cancels_and_waits_for_the_task() -> None:
    flights = SingleFlight()
    events: list[str] = []

    async def slow() -> int:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            events.append("cancelled")
            await asyncio.sleep(0)  # unwinding takes a step or two
            events.append("unwound")
            raise
        return 1

    waiter = asyncio.create_task(flights.do("k", slow))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert events == ["cancelled", "unwound"]
    assert len(flights) == 0


# -- TTL cache ------------------------------------------------------------------------


async def test_cache_is_off_by_default(server: FakeXAIServer) -> None:
    async with client_for(server) as client:
        await client.language_models.list()
        await client.language_models.list()
        await client.language_models.get("grok-3")
    assert server.count(LANG) == 2
    assert server.count(GROK3) == 1


async def test_ttl_expiry_refetches_with_an_injected_clock(server: FakeXAIServer) -> None:
    clock = Clock()
    async with client_for(server, cache_ttl=60, clock=clock) as client:
        first = await client.language_models.list()
        clock.advance(59.9)
        assert await client.language_models.list() == first
        assert server.count(LANG) == 1
        # Stale entries are refreshed, with the server's current data.
        catalog = server.catalog
        catalog["language_models"][0]["prompt_text_token_price"] = 99
        server.set_catalog(catalog)
        clock.advance(0.1)
        refreshed = await client.language_models.list()
        assert server.count(LANG) == 2
        assert refreshed[0].prompt_text_token_price == 99
        # ... and cached again for another full TTL.
        clock.advance(59)
        await client.language_models.list()
        assert server.count(LANG) == 2


async def test_expiry_under_concurrency_sends_one_request(server: FakeXAIServer) -> None:
    clock = Clock()
    async with client_for(server, cache_ttl=10, clock=clock) as client:
        await client.language_models.get("grok-3")
        clock.advance(11)
        await asyncio.gather(*(client.language_models.get("grok-3") for _ in range(200)))
    assert server.count(GROK3) == 2


async def test_get_is_answered_from_a_cached_list(server: FakeXAIServer) -> None:
    async with client_for(server, cache_ttl=60, clock=Clock()) as client:
        listed = await client.language_models.list()
        model = await client.language_models.get("grok-3")
        assert model is listed[0]
        assert [await client.language_models.get(m.id) for m in listed] == listed
        assert server.count(LANG) == 1
        assert server.count(GROK3) == 0
        assert server.request_count == 1
        # Other kinds are separate: the language list says nothing about /v1/models.
        await client.models.get("grok-3")
        assert server.count("/v1/models/grok-3") == 1


async def test_resolve_uses_the_cached_list(server: FakeXAIServer) -> None:
    async with client_for(server, cache_ttl=60, clock=Clock()) as client:
        assert (await client.language_models.resolve("grok-4-latest")).id == "grok-4-0709"
        assert (await client.language_models.resolve("grok-3")).id == "grok-3"
        assert (await client.image_generation_models.resolve("grok-imagine-image")).id == (
            "grok-imagine-image")
        assert (await client.video_generation_models.resolve("grok-imagine-video")).id == (
            "grok-imagine-video")
        with pytest.raises(xm.NotFoundError) as info:
            await client.language_models.resolve("grok-3-lates")
        assert "grok-3-latest" in info.value.suggestions
    assert server.count(LANG) == 1


async def test_per_call_cache_ttl(server: FakeXAIServer) -> None:
    clock = Clock()
    async with client_for(server, clock=clock) as client:
        await client.language_models.get("grok-3", cache_ttl=30)
        await client.language_models.get("grok-3", cache_ttl=30)
        assert server.count(GROK3) == 1
        clock.advance(31)
        await client.language_models.get("grok-3", cache_ttl=30)
        assert server.count(GROK3) == 2
    async with client_for(server, cache_ttl=60, clock=clock) as client:
        await client.language_models.list()
        await client.language_models.list(cache_ttl=0)  # 0 bypasses the cache
        assert server.count(LANG) == 2
        with pytest.raises(ValueError, match="cache_ttl"):
            await client.language_models.list(cache_ttl=-1)
        with pytest.raises(TypeError, match="cache_ttl"):
            await client.language_models.list(cache_ttl="60")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ttl", "error"), [(-1, ValueError), (float("nan"), ValueError),
                       (float("inf"), ValueError), ("60", TypeError), (True, TypeError)]
)
def test_client_validates_cache_ttl(ttl: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="cache_ttl"):
        xm.AsyncClient(api_key="k", cache_ttl=ttl)


async def test_cache_clear(server: FakeXAIServer) -> None:
    async with client_for(server, cache_ttl=60, clock=Clock()) as client:
        await client.language_models.list()
        await client.language_models.get("grok-3")
        await client.cache_clear()
        await client.language_models.get("grok-3")
        await client.language_models.list()
    assert server.count(LANG) == 2
    assert server.count(GROK3) == 1


async def test_cached_lists_are_not_changed_by_callers(server: FakeXAIServer) -> None:
    async with client_for(server, cache_ttl=60, clock=Clock()) as client:
        first = await client.language_models.list()
        first.clear()
        again = await client.language_models.list()
    assert len(again) == 4
    assert server.count(LANG) == 1


class DictCache:
    """A custom backend, recording its calls (no expiry: the tests' clock stands still)."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[xm.CacheEntry, float]] = {}
        self.calls: list[tuple[str, str]] = []

    async def get(self, key: str) -> xm.CacheEntry | None:
        self.calls.append(("get", key))
        hit = self.data.get(key)
        return None if hit is None else hit[0]

    async def set(self, key: str, entry: xm.CacheEntry, ttl: float) -> None:
        self.calls.append(("set", key))
        self.data[key] = (entry, ttl)

    async def set_many(self, entries: Mapping[str, xm.CacheEntry], ttl: float) -> None:
        self.calls.append(("set_many", str(len(entries))))
        for key, entry in entries.items():
            self.data[key] = (entry, ttl)

    async def clear(self) -> None:
        self.calls.append(("clear", ""))
        self.data.clear()


async def test_a_custom_cache_backend_plugs_in(server: FakeXAIServer) -> None:
    backend = DictCache()
    assert isinstance(backend, xm.Cache)
    async with client_for(server, cache_ttl=45, cache=backend) as client:
        await client.language_models.list()
        by_suffix = {key.split(":", 1)[1]: entry for key, entry in backend.data.items()}
        assert by_suffix["language_models:list"][1] == 45
        assert "language_models:get:grok-3" in by_suffix  # indexed from the list
        assert (await client.language_models.get("grok-3")).id == "grok-3"
        assert server.count(GROK3) == 0
        await client.language_models.list()
        assert server.count(LANG) == 1
        await client.cache_clear()
        assert backend.data == {}
        assert ("clear", "") in backend.calls
        await client.language_models.list()
        assert server.count(LANG) == 2


def test_a_non_cache_is_rejected() -> None:
    with pytest.raises(TypeError, match="Cache"):
        xm.AsyncClient(api_key="k", cache=object())  # type: ignore[arg-type]


# -- MemoryCache on its own -------------------------------------------------------------


def entry(value: Any) -> xm.CacheEntry:
    return xm.CacheEntry(value, fresh_until=0.0)


async def test_memory_cache_ttl_lru_and_overwrite() -> None:
    clock = Clock()
    cache = xm.MemoryCache(maxsize=2, clock=clock)
    assert isinstance(cache, xm.Cache)
    await cache.set("a", entry(1), 10)
    await cache.set("b", entry(2), 10)
    assert await cache.get("a") == entry(1)  # a is now the most recently used
    await cache.set("c", entry(3), 10)       # evicts b
    assert await cache.get("b") is None
    assert await cache.get("a") == entry(1)
    assert len(cache) == 2
    clock.advance(10)
    assert await cache.get("a") is None  # expires exactly at ttl
    assert len(cache) == 1               # and is dropped
    await cache.set("c", entry(4), 5)
    assert await cache.get("c") == entry(4)
    # A non-positive TTL stores nothing and drops what was there.
    await cache.set("c", entry(5), 0)
    assert await cache.get("c") is None
    await cache.set_many({"d": entry(1), "e": entry(2), "f": entry(3)}, 5)
    assert len(cache) == 2  # set_many evicts too
    assert await cache.get("f") == entry(3)
    await cache.clear()
    assert len(cache) == 0


@pytest.mark.parametrize("maxsize", [0, -1, True, 1.5, "3"])
def test_memory_cache_validates_maxsize(maxsize: Any) -> None:
    with pytest.raises(ValueError, match="maxsize"):
        xm.MemoryCache(maxsize)


async def test_concurrent_writers_and_readers_stay_consistent() -> None:
    clock = Clock()
    cache = xm.MemoryCache(maxsize=50, clock=clock)

    async def worker(n: int) -> None:
        for i in range(200):
            key = f"k{(n * 7 + i) % 80}"
            await cache.set(key, entry((key, i)), 5)
            found = await cache.get(key)
            assert found is None or found.value[0] == key
            await asyncio.sleep(0)

    await asyncio.gather(*(worker(n) for n in range(20)))
    assert len(cache) <= 50


async def test_a_shared_backend_keeps_api_keys_apart(server: FakeXAIServer) -> None:
    backend = DictCache()
    async with xm.AsyncClient("xai-team-a-key", base_url=server.url, cache_ttl=60,
                              cache=backend) as team_a, \
            xm.AsyncClient("xai-team-b-key", base_url=server.url, cache_ttl=60,
                           cache=backend) as team_b:
        await team_a.language_models.list()
        await team_b.language_models.list()
    assert server.count(LANG) == 2  # team b was not answered from team a's entry
    assert not any("xai-team" in key for key in backend.data)  # keys never hold the key


class BrokenCache(DictCache):
    async def get(self, key: str) -> xm.CacheEntry | None:
        raise ConnectionError("cache backend down")

    async def set(self, key: str, entry: xm.CacheEntry, ttl: float) -> None:
        raise ConnectionError("cache backend down")

    async def set_many(self, entries: Mapping[str, xm.CacheEntry], ttl: float) -> None:
        raise ConnectionError("cache backend down")


async def test_a_broken_backend_is_a_miss_not_a_failure(server: FakeXAIServer) -> None:
    async with client_for(server, cache_ttl=60, cache=BrokenCache()) as client:
        assert await client.language_models.list()
        assert (await client.language_models.get("grok-3")).id == "grok-3"
    assert server.count(LANG) == 1


async def test_a_list_larger_than_the_cache_still_caches_itself() -> None:
    catalog = make_catalog(20)
    async with FakeXAIServer(catalog) as srv, \
            client_for(srv, cache_ttl=60, cache=xm.MemoryCache(maxsize=10)) as client:
        await client.language_models.list()
        await client.language_models.list()
    assert srv.count(LANG) == 1


async def test_cache_clear_beats_an_answer_in_flight(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(0.05), path=LANG)
    async with client_for(server, cache_ttl=60) as client:
        in_flight = asyncio.ensure_future(client.language_models.list())
        while server.count(LANG) == 0:  # noqa: ASYNC110 - server counter, no event exists
            await asyncio.sleep(0.002)
        await client.cache_clear()
        await in_flight
        await client.language_models.list()
    assert server.count(LANG) == 2
