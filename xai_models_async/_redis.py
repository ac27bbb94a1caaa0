"""A cache shared by many processes, on Redis: ``RedisCache`` (optional extra ``[redis]``).

What it adds to the in-memory cache:

* **Shared answers.** Every process pointed at the same Redis and ``prefix`` sees what any
  of them fetched. Entries are msgspec MessagePack in a small envelope (format version,
  type tag, ``fresh_until``, payload) and decode back into the library's own Struct classes
  only; nothing is ever unpickled or evaluated, so a value written by anyone else is at
  worst a miss.
* **Cross-process single-flight** (the ``Coordinated`` protocol): ``lock`` is
  ``SET <prefix>lock:<key> <token> NX PX <lock_timeout>``, ``unlock`` a compare-and-delete
  Lua script that also publishes the key on the channel ``<prefix>filled``, and ``wait``
  sleeps on that channel (one pub/sub connection per ``RedisCache``, read by one listener
  task that runs only while someone waits) for at most the lock's remaining lifetime.
* **Redis trouble never breaks an API call.** Each operation is bounded by ``timeout``; a
  failure is a miss (``get``), a no-op (``set``, ``set_many``, ``unlock``, ``clear``), a
  grant (``lock``: no coordination is possible, so go ahead and fetch) or an immediate
  return (``wait``). After a failure the cache skips Redis for ``retry_interval`` seconds
  (circuit open), then lets one operation try again; it logs one WARNING per interval at
  most, and one INFO line when Redis answers again.

The ``redis`` package is imported only when a ``RedisCache`` is built, so importing this
module never needs it. The pieces: the entry format is ``_redis_codec``, the client
``_redis_connect``, the deadlines and the circuit ``_redis_guard``, wake-ups ``_redis_wake``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from xai_models_async._cache import CacheEntry
from xai_models_async._config import check_seconds
from xai_models_async._redis_codec import EntryReader, encode_entry, ttl_ms
from xai_models_async._redis_connect import connect, disconnect
from xai_models_async._redis_guard import Guard, Skip, WrongType
from xai_models_async._redis_wake import Wakeups

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisCache"]

# Compare-and-delete, then wake the waiters of every process. Only the holder does either:
# an unlock with a stale token (the lock expired and someone else took it) does nothing.
_UNLOCK_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
"""

#: ``wait`` waits this much past the lock's remaining lifetime, so that the lock has
#: surely expired (Redis expires keys to the millisecond) when it gives up.
_EXPIRY_MARGIN = 0.025


class RedisCache:
    """A ``Cache`` (and ``Coordinated``) on Redis, shared by every process that uses the
    same Redis database and ``prefix``.

    ``RedisCache("redis://[:password@]host:6379/0")`` builds a ``redis.asyncio`` client that
    it owns (closed by ``close()``), with socket and connect timeouts of ``timeout`` and one
    immediate retry on a fresh connection (a pooled one may have died with a Redis
    restart). ``RedisCache(client)`` uses an existing ``redis.asyncio.Redis`` instead (it
    must keep ``decode_responses=False``) and never closes it. Needs the ``redis`` extra:
    ``pip install 'xai-models-async[redis]'``.

    * ``prefix`` (default ``"xai-models:"``) starts every key: entries are
      ``<prefix><key>``, locks ``<prefix>lock:<key>`` (so keys must not start with
      ``lock:``; the client's never do), wake-ups go to the channel ``<prefix>filled``.
      ``clear()`` deletes entries under the prefix only (SCAN + UNLINK), and leaves locks.
    * ``timeout`` (0.25 s) bounds every Redis round trip, waiting for a pooled connection
      included; Redis trouble never raises (see the module docstring): ``get`` misses,
      writes are skipped, ``lock`` grants, ``wait`` returns None at once.
    * ``lock_timeout`` (10 s) is how long a fill lock lives if its holder never unlocks
      (it died): make it longer than a fetch takes with its retries.
    * ``retry_interval`` (5 s): after a failure Redis is skipped for this long, then one
      operation probes it. One WARNING per interval at most; INFO when it works again.
    * ``max_connections`` (32): this cache keeps at most ``max_connections - 1`` round trips
      in flight, plus one pub/sub connection while anyone waits; a burst of calls queues
      (within ``timeout``) instead of opening a connection each.
    * ``clock`` (default ``time.monotonic``) times the circuit; injectable for tests.

    Safe to share among any number of ``AsyncClient``s of one event loop, and among
    processes. Use one ``RedisCache`` per event loop: ``redis.asyncio`` clients are bound
    to the loop they first ran on. Close it with ``await cache.close()`` or
    ``async with RedisCache(...) as cache:``; once closed it behaves as if Redis were down
    (misses and no-ops, no exception).

    Values must be model Structs of ``xai_models_async.types`` (any ``msgspec.Struct``
    class named in its ``__all__``) or lists of one such type; ``set`` raises
    ``TypeError`` for anything else, and ``ValueError`` for a NaN or infinite ``ttl``
    (``ttl <= 0`` deletes the entry). Anything under a key that is not such an entry
    (corrupt, foreign, another format version, an unknown type) reads as a miss, logged
    once per kind of key and reason, and the next ``set`` overwrites it.
    """

    __slots__ = (
        "_channel",
        "_guard",
        "_lock_ms",
        "_lock_timeout",
        "_max_connections",
        "_owns_client",
        "_prefix",
        "_reader",
        "_redis",
        "_retry_interval",
        "_timeout",
        "_unlock_script",
        "_wake",
        "_where",
    )

    def __init__(
        self,
        redis: str | redis.asyncio.Redis,
        *,
        prefix: str = "xai-models:",
        timeout: float = 0.25,
        lock_timeout: float = 10.0,
        retry_interval: float = 5.0,
        max_connections: int = 32,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str, got {type(prefix).__name__}")
        if not prefix:
            raise ValueError("prefix must not be empty: clear() deletes every key under it")
        self._timeout = check_seconds(timeout, "timeout", positive=True)
        self._lock_timeout = check_seconds(lock_timeout, "lock_timeout", positive=True)
        if self._lock_timeout < 0.001:
            raise ValueError(f"lock_timeout must be at least 0.001 s, got {lock_timeout!r}")
        self._retry_interval = check_seconds(retry_interval, "retry_interval")
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise TypeError(f"max_connections must be an int, got {max_connections!r}")
        if max_connections < 2:
            # One is the pub/sub listener's while anyone waits; the others run commands.
            raise ValueError(f"max_connections must be >= 2, got {max_connections}")
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, got {clock!r}")
        connection = connect(redis, self._timeout)
        client = connection.client
        self._redis: Any = client
        self._where = connection.where
        self._owns_client = connection.owned
        self._prefix = prefix
        self._channel = prefix + "filled"
        self._lock_ms = max(1, math.ceil(self._lock_timeout * 1000))
        self._unlock_script: Any = client.register_script(_UNLOCK_LUA)  # no I/O until used
        self._max_connections = max_connections
        self._guard = Guard(
            timeout=self._timeout,
            retry_interval=self._retry_interval,
            clock=clock or time.monotonic,
            where=self._where,
            errors=connection.errors,
            response_error=connection.response_error,
            concurrency=max_connections - 1,
        )
        self._reader = EntryReader(prefix)
        self._wake = Wakeups(client, self._channel, self._timeout, self._guard)

    # --- configuration (read-only) -----------------------------------------------------

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def timeout(self) -> float:
        return self._timeout

    @property
    def lock_timeout(self) -> float:
        return self._lock_timeout

    @property
    def retry_interval(self) -> float:
        return self._retry_interval

    @property
    def max_connections(self) -> int:
        return self._max_connections

    @property
    def closed(self) -> bool:
        return self._guard.closed

    def __repr__(self) -> str:
        return (
            f"RedisCache({self._where}, prefix={self._prefix!r}, timeout={self._timeout}, "
            f"lock_timeout={self._lock_timeout}, retry_interval={self._retry_interval}, "
            f"max_connections={self._max_connections})"
        )

    # --- the Cache protocol --------------------------------------------------------------

    async def get(self, key: str) -> CacheEntry | None:
        """The entry under ``key``, or None: missing, unreadable, or Redis in trouble."""
        try:
            data = await self._guard.call(self._redis.get, self._prefix + key)
        except WrongType:
            self._reader.report(key, "the key holds another Redis type")
            return None
        except Skip:
            return None
        return None if data is None else self._reader.read(key, data)

    async def set(self, key: str, entry: CacheEntry, ttl: float) -> None:
        """Store ``entry`` under ``key`` for ``ttl`` seconds (``ttl <= 0``: delete it)."""
        data = encode_entry(entry)
        ms = ttl_ms(ttl)
        with contextlib.suppress(Skip):
            if ms:
                await self._guard.call(self._redis.set, self._prefix + key, data, px=ms)
            else:
                await self._guard.call(self._redis.unlink, self._prefix + key)

    async def set_many(self, entries: Mapping[str, CacheEntry], ttl: float) -> None:
        """Store every entry for ``ttl`` seconds in one round trip (a pipeline)."""
        encoded = [(self._prefix + key, encode_entry(entry)) for key, entry in entries.items()]
        ms = ttl_ms(ttl)
        if not encoded:
            return
        pipe = self._redis.pipeline(transaction=False)
        for name, data in encoded:
            if ms:
                pipe.set(name, data, px=ms)
            else:
                pipe.unlink(name)
        with contextlib.suppress(Skip):
            await self._guard.call(pipe.execute)

    async def clear(self) -> None:
        """Delete every entry under the prefix (SCAN + UNLINK, each round trip bounded by
        ``timeout``); locks are left to their holders. Not atomic: an entry set meanwhile
        may survive."""
        match = _glob_escape(self._prefix) + "*"
        locks = (self._prefix + "lock:").encode()
        cursor = 0
        with contextlib.suppress(Skip):
            while True:
                cursor, names = await self._guard.call(
                    self._redis.scan, cursor, match=match, count=1000
                )
                doomed = [name for name in names if not name.startswith(locks)]
                if doomed:
                    await self._guard.call(self._redis.unlink, *doomed)
                if not cursor:
                    break

    # --- the Coordinated protocol -------------------------------------------------------

    async def lock(self, key: str) -> str | None:
        """A token if this caller may fill ``key`` (it holds the lock for ``lock_timeout``
        at most, or Redis is in trouble and nobody can coordinate), None while another
        holder has it."""
        token = secrets.token_hex(16)
        try:
            taken = await self._guard.call(
                self._redis.set, self._lock_key(key), token, nx=True, px=self._lock_ms
            )
        except Skip:
            return token
        return token if taken else None

    async def unlock(self, key: str, token: str) -> None:
        """Release ``key``'s lock if ``token`` holds it, and then wake its waiters in every
        process; with any other token, do nothing."""
        with contextlib.suppress(Skip):
            await self._guard.call(
                self._unlock_script, keys=[self._lock_key(key)], args=[token, self._channel, key]
            )

    async def wait(self, key: str) -> CacheEntry | None:
        """Wait until ``key``'s lock is released (woken within milliseconds through
        pub/sub) or expires, then return the entry under ``key`` (None if none). Returns
        at once when no lock is held, and None at once when Redis is in trouble."""
        if not self._guard.usable():
            return None
        wake = self._wake.join(key)
        try:
            # Subscribed before looking at the lock, so an unlock in between is not missed.
            if not await self._wake.subscribed():
                return None
            data, pttl = await self._guard.call(self._peek, key)
            if isinstance(pttl, int) and pttl > 0:
                await asyncio.wait({wake.future}, timeout=pttl / 1000 + _EXPIRY_MARGIN)
                data = await self._guard.call(self._redis.get, self._prefix + key)
        except WrongType:
            self._reader.report(key, "the key holds another Redis type")
            return None
        except Skip:
            return None
        finally:
            self._wake.leave(key, wake)
        return None if data is None else self._reader.read(key, data)

    # --- lifetime -------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop the listener, wake every waiter (they return None) and close the client if
        this cache built it. Idempotent."""
        self._guard.closed = True
        tasks: set[asyncio.Future[Any]] = {*self._wake.stop(), *self._guard.orphans}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        if self._owns_client:
            self._owns_client = False
            await disconnect(self._redis, self._timeout)

    async def __aenter__(self) -> RedisCache:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- internals --------------------------------------------------------------------------

    def _lock_key(self, key: str) -> str:
        return f"{self._prefix}lock:{key}"

    async def _peek(self, key: str) -> list[Any]:
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(self._prefix + key)
        pipe.pttl(self._lock_key(key))
        return cast("list[Any]", await pipe.execute())


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis MATCH pattern."""
    return "".join("\\" + c if c in "\\*?[]" else c for c in text)
