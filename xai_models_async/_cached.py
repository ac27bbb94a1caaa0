"""The cache layer of the pipeline: fresh hits, stale answers, and fills shared by the
whole fleet when the cache is.

An entry is fresh for ``cache_ttl`` seconds (RFC 5861's semantics after that). Within
``stale_while_revalidate`` seconds past freshness, it is returned at once and one
background refresh per key replaces it. Within ``stale_if_error`` seconds, a refresh
that fails after its retries with a failure of the service (a connection error, a
timeout, HTTP 408, 429 or 5xx, a body that does not decode) returns the stale value
instead of raising, with a WARNING. The backend keeps entries for the longer of the two
windows past freshness. Background refreshes belong to the layer: ``close()`` cancels
and awaits them.

With a :class:`~xai_models_async._cache.Coordinated` cache (``RedisCache``), a miss is
filled by one process in the fleet: the others wait for its answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, TypeVar, cast

from xai_models_async._cache import Cache, CacheEntry, Coordinated
from xai_models_async._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    XAIError,
)
from xai_models_async._flight import SingleFlight

__all__ = ["CacheLayer"]

logger = logging.getLogger("xai_models_async")

T = TypeVar("T")

# How often a caller waits for another process's fill before fetching itself.
_WAIT_ROUNDS = 3
# What a stale answer may stand in for: the service failing, not an answer such as a 404.
_STALE_STATUSES = frozenset({408, 429})

Fetch = Callable[[], Awaitable[Any]]
Index = Callable[[Any], Mapping[str, Any]]


class CacheLayer:
    """Answers from ``cache`` under ``scope``-prefixed keys, else from a fetch."""

    def __init__(
        self,
        cache: Cache,
        *,
        scope: str,
        stale_while_revalidate: float,
        stale_if_error: float,
        now: Callable[[], float],
        flights: SingleFlight,
    ) -> None:
        self._cache = cache
        self._coordinated = isinstance(cache, Coordinated)
        self._scope = scope
        self._swr = stale_while_revalidate
        self._sie = stale_if_error
        # Kept by the backend past freshness, for whichever stale window is longer.
        self._keep = max(stale_while_revalidate, stale_if_error)
        self._now = now
        self._flights = flights
        self._generation = 0
        self._refreshes: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    async def call(
        self,
        key: str,
        ttl: float,
        flight: Hashable,
        fetch: Fetch,
        *,
        index: Index | None,
        stale: list[APIError] | None,
        shown: str,
    ) -> Any:
        """The answer for ``key``: fresh from the cache, stale (see the module), or from
        ``fetch()`` (shared by identical calls under ``flight``) and then stored for
        ``ttl`` seconds. ``shown`` names the request in log lines."""
        scoped = self._scope + key
        # From a shared cache, a read is a round trip and a decode: identical calls share
        # one. From memory it is a dict lookup, cheaper than any sharing.
        entry = await (self._flights.do(("read", scoped), self._get, scoped)
                       if self._coordinated else self._get(scoped))
        if entry is not None:
            now = self._now()
            if now < entry.fresh_until:
                return entry.value
            if now < entry.fresh_until + self._swr:
                self._revalidate(scoped, flight, (scoped, ttl, fetch, index))
                return entry.value
        try:
            return await self._flights.do(("fill", flight), self._fill, scoped, ttl, fetch,
                                          index, False)
        except APIError as error:
            if entry is None or not _may_serve_stale(error):
                raise
            age = self._now() - entry.fresh_until
            if age >= self._sie:
                raise
            logger.warning("GET %s failed, serving the cached answer (stale for %.0f s): %s",
                           shown, age, error)
            if stale is not None:
                stale.append(error)
            return entry.value

    async def clear(self) -> None:
        self._generation += 1  # answers in flight now must not be stored
        await self._cache.clear()

    async def close(self) -> None:
        self._closed = True
        refreshes = list(self._refreshes.values())
        for task in refreshes:
            task.cancel()
        if refreshes:
            await asyncio.wait(refreshes)

    async def _fill(self, scoped: str, ttl: float, fetch: Fetch, index: Index | None,
                    background: bool) -> Any:
        """Fetch and store; with a shared cache, only if no other process is filling the
        key already (else wait for its answer, or, in the background, leave it to it)."""
        token: str | None = None
        cache = cast(Coordinated, self._cache)
        if self._coordinated:
            for _ in range(_WAIT_ROUNDS):
                token = await cache.lock(scoped)
                if token is not None:
                    break
                if background:
                    return None  # another process is refreshing it
                entry = await cache.wait(scoped)
                if entry is not None and self._now() < entry.fresh_until:
                    return entry.value
        try:
            if token is not None:
                # Another process may have stored it between our miss and our lock.
                entry = await self._get(scoped)
                if entry is not None and self._now() < entry.fresh_until:
                    return entry.value
            generation = self._generation
            value = await fetch()
            if generation == self._generation:
                await self._store(scoped, value, ttl, index)
            return value
        finally:
            if token is not None:
                await cache.unlock(scoped, token)

    async def _store(self, scoped: str, value: Any, ttl: float, index: Index | None) -> None:
        fresh_until = self._now() + ttl
        keep = ttl + self._keep
        try:
            if index is not None:
                # The per-model entries first: an LRU backend then evicts them, not the
                # list they came from.
                entries = {self._scope + key: CacheEntry(model, fresh_until)
                           for key, model in index(value).items()}
                await self._cache.set_many(entries, keep)
            await self._cache.set(scoped, CacheEntry(value, fresh_until), keep)
        except Exception as exc:  # a broken backend must not break the API call
            logger.warning("cache set failed, not cached: %r", exc)

    async def _get(self, scoped: str) -> CacheEntry | None:
        try:
            entry = await self._cache.get(scoped)
        except Exception as exc:
            logger.warning("cache get failed, treating as a miss: %r", exc)
            return None
        return entry if isinstance(entry, CacheEntry) else None

    def _revalidate(self, scoped: str, flight: Hashable, args: tuple[Any, ...]) -> None:
        """One background refresh per key at a time."""
        if scoped in self._refreshes or self._closed:
            return
        task = asyncio.get_running_loop().create_task(self._refresh(flight, args))
        self._refreshes[scoped] = task
        task.add_done_callback(lambda _: self._refreshes.pop(scoped, None))

    async def _refresh(self, flight: Hashable, args: tuple[Any, ...]) -> None:
        await _after_queued_work()
        try:
            await self._flights.do(("refresh", flight), self._fill, *args, True)
        except XAIError as error:  # the stale value stays; the next read tries again
            logger.warning("background refresh failed, keeping the stale answer: %s", error)


async def _after_queued_work() -> None:
    """Return once the callbacks already queued in the loop have run. A stale answer goes
    out first, and its caller (``catalog()`` gathers five) moves on before the refresh
    sends its request: 1.1 ms -> 0.4 ms of client time for a stale 2,000-model catalog.
    A zero-delay timer runs after the loop's next batch of ready callbacks, where
    ``asyncio.sleep(0)`` would run within it. Only latency depends on that order."""
    loop = asyncio.get_running_loop()
    due = loop.create_future()
    timer = loop.call_later(0, _settle, due)
    try:
        await due
    finally:
        timer.cancel()


def _settle(due: asyncio.Future[None]) -> None:
    if not due.done():  # else cancelled already (the client closed)
        due.set_result(None)


def _may_serve_stale(error: APIError) -> bool:
    """Is this the service failing (a stale answer may stand in) rather than an answer?"""
    if isinstance(error, (APIConnectionError, APIResponseValidationError)):
        return True
    return isinstance(error, APIStatusError) and (
        error.status_code >= 500 or error.status_code in _STALE_STATUSES)
