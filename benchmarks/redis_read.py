"""Workload (8) ``catalog-redis``: a catalog read served from a real Redis (issue 12).

Every variant is ``await client.catalog()`` on the library's ``AsyncClient`` against the
local bench server (2,000 language models in a full run), one client per variant, and
each sample is the mean time of one read:

* ``fresh``: no cache, so every read fetches and decodes the five lists. The reference
  (1.00x) for the others: what a read costs without any cache, in the same run.
* ``memory``: ``cache_ttl=60``, warm: a dict lookup per list.
* ``redis``: ``cache_ttl=60, cache=RedisCache(...)``, warm: per list one Redis GET and a
  msgspec MessagePack decode back into the Structs (``RedisCache`` has no memory tier).
* ``memory-stale`` / ``redis-stale``: ``stale_while_revalidate=3600``, every entry just
  past freshness (the client's clock is moved, never slept on). The timed read must
  return the stale catalog at once while one background refresh per list runs; three
  more stale reads follow during that refresh and must not start another (checked by
  counting HTTP requests: exactly one per list).

Every warm or stale read is checked to have sent no request of its own, so a cache that
silently failed (Redis down, a fill that timed out) cannot pass for a fast one.

The workload starts its own ``redis-server`` (127.0.0.1, free port, persistence off)
and is skipped with a reason when ``redis-server`` (``$XAI_BENCH_REDIS_SERVER`` or PATH)
or redis-py is missing.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import time
import uuid
from typing import Any

from benchmarks.clients import CONCURRENCY_LIMIT, blocked_imports

__all__ = ["BASELINE", "VARIANTS", "RedisBench", "unavailable_reason"]

#: Variant key -> how the results table names it.
VARIANTS: dict[str, str] = {
    "fresh": "(a) fresh fetch, no cache",
    "memory": "(a) memory cache, warm",
    "redis": "(a) RedisCache, warm",
    "memory-stale": "(a) memory, stale (SWR)",
    "redis-stale": "(a) RedisCache, stale (SWR)",
}
BASELINE = "fresh"
TTL = 60.0
SWR = 3600.0
#: Stale reads made while the refresh they started runs (besides the timed one).
_EXTRA_STALE_READS = 3
#: Generous, so that the fill (thousands of per-model entries in one pipeline) is not cut
#: off on a loaded machine; a read that succeeds takes the same time whatever it is.
_REDIS_TIMEOUT = 5.0


def _redis_server() -> str | None:
    override = os.environ.get("XAI_BENCH_REDIS_SERVER")
    if override is not None:
        # Set to "" or a missing path to rehearse a machine without redis-server.
        return override if override and os.access(override, os.X_OK) else None
    return shutil.which("redis-server")


def unavailable_reason() -> str | None:
    """Why the workload cannot run here (a line for the results table), or None."""
    if _redis_server() is None:
        return "skipped: redis-server not found (apt-get install redis-server)"
    if "redis" in blocked_imports():
        return "skipped: redis-py blocked by XAI_BENCH_BLOCK_IMPORTS"
    try:
        import redis.asyncio  # noqa: F401
    except ImportError:
        return "skipped: redis-py not installed (pip install 'xai-models-async[redis]')"
    return None


class _Counter:
    """Counts the client's HTTP requests (an aiohttp ``TraceConfig``, public API)."""

    def __init__(self) -> None:
        import aiohttp

        self.requests = 0
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._started)

    async def _started(self, *_: object) -> None:
        self.requests += 1


class RedisBench:
    """One ``redis-server`` for the whole run, and one round of every variant at a time."""

    def __init__(self, base_url: str, models: int, reads: int) -> None:
        self._base_url = base_url
        self._models = models
        self._reads = reads
        self._server: Any = None  # tests.redis_process.RedisServer, once started
        self.url = ""
        #: Facts for the report, e.g. the stored size of the language-model list entry.
        self.facts: dict[str, int] = {}

    def start(self) -> None:
        from tests.redis_process import RedisServer  # the one the tests start, too

        executable = _redis_server()
        if executable is None:
            raise RuntimeError("redis-server not found")
        self._server = RedisServer(executable=executable)
        self._server.start()
        self.url = self._server.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    async def round(self) -> dict[str, float | str]:
        """One sample per variant (seconds per read), or why that variant failed."""
        results: dict[str, float | str] = {}
        for variant in VARIANTS:
            try:
                results[variant] = await self._measure(variant)
            except Exception as exc:  # one variant failing keeps the others' numbers
                results[variant] = f"failed: {type(exc).__name__}: {exc}"
        return results

    # --- variants ------------------------------------------------------------------------

    async def _measure(self, variant: str) -> float:
        import xai_models_async as xm

        counter = _Counter()
        offset = [0.0]
        kwargs: dict[str, Any] = {}
        cache: Any = None
        if variant != "fresh":
            kwargs["cache_ttl"] = TTL
        clock = (lambda: time.time() + offset[0]) if variant.endswith("stale") else None
        if variant.startswith("redis"):
            cache = _signalling(xm.RedisCache)(
                self.url, prefix=f"xai-bench:{uuid.uuid4().hex[:12]}:", timeout=_REDIS_TIMEOUT)
        elif variant == "memory-stale":
            cache = _signalling(xm.MemoryCache)(clock=clock)
        if cache is not None:
            kwargs["cache"] = cache
        if clock is not None:
            kwargs["stale_while_revalidate"] = SWR
            kwargs["clock"] = clock
        client = xm.AsyncClient(
            api_key="bench", base_url=self._base_url, max_connections=CONCURRENCY_LIMIT,
            retry=xm.RetryPolicy.none(), trace_configs=[counter.trace], **kwargs,
        )
        try:
            async with client:
                # The fill (or, uncached, the first connections): untimed.
                self._check(await client.catalog())
                lists = counter.requests
                if variant.startswith("redis") and "redis-entry" not in self.facts:
                    self.facts.update(await _entry_sizes(self.url, cache.prefix))
                self._check(await client.catalog())  # warm: decoders built, pool open
                if variant.endswith("stale"):
                    return await self._stale_reads(client, cache, counter, offset, lists)
                before = counter.requests
                gc.collect()
                started = time.perf_counter()
                for _ in range(self._reads):
                    self._check(await client.catalog())
                elapsed = time.perf_counter() - started
                sent = counter.requests - before
                expected = lists * self._reads if variant == "fresh" else 0
                if sent != expected:
                    raise RuntimeError(f"{sent} HTTP requests during the reads, expected "
                                       f"{expected}: the cache did not serve them")
                return elapsed / self._reads
        finally:
            if cache is not None:
                await cache.clear()
                if variant.startswith("redis"):
                    await cache.close()

    async def _stale_reads(
        self, client: Any, cache: Any, counter: _Counter, offset: list[float], lists: int
    ) -> float:
        total = 0.0
        for _ in range(self._reads):
            offset[0] += TTL + 1.0  # every entry is now stale, well within the SWR window
            before = counter.requests
            stored = cache.stored
            gc.collect()
            started = time.perf_counter()
            catalog = await client.catalog()
            total += time.perf_counter() - started
            self._check(catalog)
            # Dropped outside the timed read: binding the next read's result to the same
            # name freed this catalog (2,000 models, about 1 ms) inside the timing.
            del catalog
            for _ in range(_EXTRA_STALE_READS):
                self._check(await client.catalog())
            # Each refresh stores its list once; wait for all of them to land.
            await asyncio.wait_for(cache.stored_at_least(stored + lists), _REDIS_TIMEOUT * 2)
            sent = counter.requests - before
            if sent != lists:
                raise RuntimeError(f"stale reads sent {sent} HTTP requests, expected one "
                                   f"background refresh per list ({lists})")
        return total / self._reads

    def _check(self, catalog: Any) -> None:
        # Cheap proof that every read returned the whole catalog.
        if catalog.errors or len(catalog.language_models) != self._models:
            raise RuntimeError(f"catalog read returned {len(catalog.language_models)} "
                               f"language models (expected {self._models}), "
                               f"errors {sorted(catalog.errors)}")


class _StoreSignal:
    """Mixed into a cache class (public subclassing, no private attribute): counts the
    entries stored with ``set`` (one per list fetched; per-model entries go through
    ``set_many``), so a stale read can wait for the refreshes it started to land."""

    stored = 0
    _landed: asyncio.Event | None = None

    async def set(self, key: str, entry: Any, ttl: float) -> None:
        await super().set(key, entry, ttl)  # type: ignore[misc]
        self.stored += 1
        if self._landed is not None:
            self._landed.set()

    async def stored_at_least(self, count: int) -> None:
        while self.stored < count:
            self._landed = asyncio.Event()
            await self._landed.wait()


def _signalling(base: type) -> type:
    return type(f"Signalling{base.__name__}", (_StoreSignal, base), {})


async def _entry_sizes(url: str, prefix: str) -> dict[str, int]:
    """Stored size of the language-model list entry: what each Redis read moves."""
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    try:
        async for name in redis.scan_iter(match=prefix + "*language_models:list"):
            return {"redis-entry": int(await redis.strlen(name))}
    finally:
        await redis.aclose()
    return {}
