"""The cache behind a small protocol: entries, the in-memory default, and the seam a
cache shared by many processes adds (single-flight within a process lives in ``_flight``;
freshness and stale answers are decided by ``_pipeline``)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import msgspec

__all__ = ["Cache", "CacheEntry", "Coordinated", "MemoryCache"]

class CacheEntry(msgspec.Struct, frozen=True, gc=False):
    """One cached answer: the decoded ``value`` (a model Struct, or a list of them) and
    ``fresh_until``, the wall-clock time (``time.time()`` seconds) when it stops being
    fresh. A backend keeps an entry for the ``ttl`` it is given, which is longer than its
    freshness when stale answers may still be served (stale-while-revalidate,
    stale-if-error)."""

    value: Any
    fresh_until: float


@runtime_checkable
class Coordinated(Protocol):
    """What a cache shared by many processes adds, so that one process in the fleet fills
    a missing key while the others wait for it (cross-process single-flight).

    None of these may raise (cancellation aside): a backend in trouble answers as if it
    had no coordination at all (``lock`` grants, ``wait`` returns at once).
    """

    async def lock(self, key: str) -> str | None:
        """Try to become the one filler of ``key``: a token, or None while another
        process holds the lock. The lock expires by itself after the backend's lock
        lifetime, so a filler that dies frees it."""
        ...

    async def unlock(self, key: str, token: str) -> None:
        """Release the lock if ``token`` still holds it, and wake every waiter of
        ``key`` in every process (whether the fill succeeded or not)."""
        ...

    async def wait(self, key: str) -> CacheEntry | None:
        """Wait until ``key``'s lock is released or expires, then return the entry
        stored under ``key`` (None if none). Returns at once when no lock is held;
        never waits longer than the lock's remaining lifetime."""
        ...


@runtime_checkable
class Cache(Protocol):
    """Where ``AsyncClient(cache_ttl=...)`` keeps list and get results.

    Implement these coroutines to plug in another backend (:class:`RedisCache` is one).
    Values are :class:`CacheEntry` objects; ``get`` returns None on a miss or once ``ttl``
    seconds have passed since ``set`` (the client decides freshness from the entry, the
    backend only how long to keep it). ``set_many`` stores many entries at once (one round
    trip for a remote store); ``clear`` forgets every entry.

    Keys look like ``"<scope>:language_models:list"`` or
    ``"<scope>:language_models:get:grok-3"``, where the client's ``<scope>`` is a hash of
    its base URL and API key: which models a key may use depends on its team, so clients
    with different keys can share one backend safely. A backend must tolerate concurrent
    calls from one event loop, and should never raise: the client treats an exception as
    a miss (logged), but a backend knows best how to fail quietly.
    """

    async def get(self, key: str) -> CacheEntry | None: ...

    async def set(self, key: str, entry: CacheEntry, ttl: float) -> None: ...

    async def set_many(self, entries: Mapping[str, CacheEntry], ttl: float) -> None: ...

    async def clear(self) -> None: ...


class MemoryCache:
    """The default in-memory cache: each entry kept for its ``ttl``, least recently used
    entries evicted past ``maxsize`` (16,384: room for a cached list of every kind and each
    listed model, which are stored only as references). Safe under concurrency within one
    event loop (no await inside an update). ``clock`` (default ``time.monotonic``) is
    injectable so tests never wait."""

    __slots__ = ("_clock", "_data", "_maxsize")

    def __init__(self, maxsize: int = 16384, *, clock: Callable[[], float] | None = None) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"maxsize must be an int >= 1, got {maxsize!r}")
        self._maxsize = maxsize
        self._clock = clock or time.monotonic
        self._data: OrderedDict[str, tuple[float, CacheEntry]] = OrderedDict()

    async def get(self, key: str) -> CacheEntry | None:
        found = self._data.get(key)
        if found is None:
            return None
        expires, entry = found
        if self._clock() >= expires:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return entry

    async def set(self, key: str, entry: CacheEntry, ttl: float) -> None:
        self._put(key, entry, self._clock() + ttl, ttl)
        self._evict()

    async def set_many(self, entries: Mapping[str, CacheEntry], ttl: float) -> None:
        expires = self._clock() + ttl
        for key, entry in entries.items():
            self._put(key, entry, expires, ttl)
        self._evict()

    async def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def _put(self, key: str, entry: CacheEntry, expires: float, ttl: float) -> None:
        if ttl <= 0:
            # Expired on arrival: also drop an older entry, or it would still be served.
            self._data.pop(key, None)
            return
        self._data[key] = (expires, entry)
        self._data.move_to_end(key)

    def _evict(self) -> None:
        while len(self._data) > self._maxsize:
            self._data.popitem(last=False)
