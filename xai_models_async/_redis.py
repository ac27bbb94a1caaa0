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
module never needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import secrets
import sys
import time
import types as _pytypes
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

from xai_models_async import types as _model_types
from xai_models_async._cache import CacheEntry

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisCache"]

logger = logging.getLogger("xai_models_async")

T = TypeVar("T")

_INSTALL_HINT = (
    "RedisCache needs the redis package (redis-py >= 5): "
    "pip install 'xai-models-async[redis]'"
)

# --- encoding ---------------------------------------------------------------------------

#: First element of every envelope: tells our entries from anything else under the prefix.
_MAGIC = "xai-models-async"
#: Bump when the envelope or the payload encoding changes meaning; older or newer
#: versions then read as misses (and are overwritten by the next ``set``).
_FORMAT_VERSION = 1
_LIST = "list"  # the tag of an empty list; a list of X is "list:X"
_EMPTY_ARRAY = b"\x90"  # MessagePack's empty array


def _struct_classes(module: _pytypes.ModuleType) -> dict[str, type[msgspec.Struct]]:
    """Every ``msgspec.Struct`` subclass that ``module.__all__`` names, by that name.

    The set of types a cached entry may hold is derived, never listed by hand, so a model
    class added to ``xai_models_async.types`` is cacheable at once.
    """
    found: dict[str, type[msgspec.Struct]] = {}
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name, None)
        if isinstance(obj, type) and issubclass(obj, msgspec.Struct) and obj.__name__ == name:
            found[name] = obj
    return found


_CLASSES: dict[str, type[msgspec.Struct]] = _struct_classes(_model_types)
_TAG_OF: dict[type, str] = {cls: name for name, cls in _CLASSES.items()}
_DECODERS: dict[str, msgspec.msgpack.Decoder[Any]] = {}
_ENCODER = msgspec.msgpack.Encoder()


class _Envelope(msgspec.Struct, array_like=True, frozen=True):
    magic: str
    version: int
    tag: str
    fresh_until: float
    payload: msgspec.Raw


class _Head(msgspec.Struct, array_like=True, frozen=True):
    """The part of an envelope every format version shares (trailing items ignored)."""

    magic: str
    version: int


_ENVELOPE_DECODER = msgspec.msgpack.Decoder(_Envelope)
_HEAD_DECODER = msgspec.msgpack.Decoder(_Head)


def _tag_of(value: object) -> str:
    """The type tag of a cacheable value; TypeError for anything else."""
    tag = _TAG_OF.get(type(value))
    if tag is not None:
        return tag
    if type(value) is list:
        items = cast("list[object]", value)
        if not items:
            return _LIST
        first = type(items[0])
        tag = _TAG_OF.get(first)
        if tag is not None and all(type(item) is first for item in items):
            return f"{_LIST}:{tag}"
    raise TypeError(
        "RedisCache stores a model Struct of xai_models_async.types, or a list of them of "
        f"one type, got {_describe_value(value)}"
    )


def _describe_value(value: object) -> str:
    if type(value) is list:
        kinds = sorted({type(item).__name__ for item in cast("list[object]", value)})
        return f"a list of {', '.join(kinds)}"
    return type(value).__name__


def encode_entry(entry: CacheEntry) -> bytes:
    """An entry as the bytes stored in Redis: ``[magic, version, tag, fresh_until, value]``."""
    if not isinstance(entry, CacheEntry):
        raise TypeError(f"expected a CacheEntry, got {type(entry).__name__}")
    fresh_until = entry.fresh_until
    if isinstance(fresh_until, bool) or not isinstance(fresh_until, (int, float)):
        raise TypeError(f"CacheEntry.fresh_until must be a number, got {fresh_until!r}")
    tag = _tag_of(entry.value)
    return _ENCODER.encode((_MAGIC, _FORMAT_VERSION, tag, float(fresh_until), entry.value))


def _decoder_for(tag: str) -> msgspec.msgpack.Decoder[Any] | None:
    decoder = _DECODERS.get(tag)
    if decoder is not None:
        return decoder
    name = tag[len(_LIST) + 1:] if tag.startswith(_LIST + ":") else tag
    cls = _CLASSES.get(name)
    if cls is None:
        return None  # unknown tags are not cached: foreign data must not grow this dict
    decoder = msgspec.msgpack.Decoder(list[cls] if name != tag else cls)  # type: ignore[valid-type]
    _DECODERS[tag] = decoder
    return decoder


def decode_entry(data: bytes) -> CacheEntry | str:
    """Bytes read from Redis as a CacheEntry, or the reason (a short text) they are not
    one. Only MessagePack is parsed and only the registered Struct types are built, so
    foreign bytes (pickle included) can never run code."""
    try:
        envelope = _ENVELOPE_DECODER.decode(data)
    except msgspec.DecodeError:
        return _why_not_an_envelope(data)
    if envelope.magic != _MAGIC:
        return "not an entry of xai-models-async"
    if envelope.version != _FORMAT_VERSION:
        return f"format version {envelope.version} (this version reads {_FORMAT_VERSION})"
    if envelope.tag == _LIST:
        if bytes(envelope.payload) != _EMPTY_ARRAY:
            return "payload does not match its type tag"
        return CacheEntry(value=[], fresh_until=envelope.fresh_until)
    decoder = _decoder_for(envelope.tag)
    if decoder is None:
        return f"unknown type tag {envelope.tag[:60]!r}"
    try:
        value = decoder.decode(envelope.payload)
    except msgspec.DecodeError:
        return "payload does not match its type tag"
    return CacheEntry(value=value, fresh_until=envelope.fresh_until)


def _why_not_an_envelope(data: bytes) -> str:
    try:
        head = _HEAD_DECODER.decode(data)
    except msgspec.DecodeError:
        return "not an entry of xai-models-async (foreign or corrupt data)"
    if head.magic != _MAGIC:
        return "not an entry of xai-models-async"
    if head.version != _FORMAT_VERSION:
        return f"format version {head.version} (this version reads {_FORMAT_VERSION})"
    return "malformed envelope"


def _key_kind(key: str) -> str:
    """``"<scope>:language_models:get:grok-3"`` -> ``"language_models:get"``: what a
    decode problem is reported per (per kind, not per id, and never the scope)."""
    parts = key.split(":", 3)
    return f"{parts[1]}:{parts[2]}" if len(parts) >= 3 else "other"


# --- Redis plumbing -----------------------------------------------------------------------

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
#: How long one listener read blocks before it reads again (it is cancelled when idle).
_LISTEN_POLL = 1.0
#: Decode problems are logged once per (key kind, reason); past this many, no more.
_MAX_REPORTED = 256


class _Skip(Exception):
    """Internal: Redis is not used for this operation (circuit open, closed, or it failed)."""


class _WrongType(_Skip):
    """Internal: the key holds another Redis type (a list, a hash, ...)."""


class _Timeout310:
    """``asyncio.timeout`` for Python 3.10: cancel the task at the deadline and report the
    cancellation as ``TimeoutError`` (3.10 has no ``Task.uncancel``, so a cancellation from
    outside in the same instant is reported as the timeout)."""

    __slots__ = ("_delay", "_fired", "_handle", "_task")

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._fired = False
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[Any] | None = None

    async def __aenter__(self) -> None:
        self._task = asyncio.current_task()
        self._handle = asyncio.get_running_loop().call_later(self._delay, self._fire)

    def _fire(self) -> None:
        if self._task is not None:
            self._fired = True
            self._task.cancel()

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._fired and exc_type is asyncio.CancelledError:
            raise TimeoutError


def _deadline(seconds: float) -> contextlib.AbstractAsyncContextManager[Any]:
    if sys.version_info >= (3, 11):
        return asyncio.timeout(seconds)
    return _Timeout310(seconds)  # pragma: no cover - 3.10 only


def _redact_url(url: str) -> str:
    """The URL with its password (in the authority or a ``password=`` query item)
    replaced by ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, sep, _password = userinfo.partition(":")
            netloc = f"{user}:***@{hostport}" if sep else f"{userinfo}@{hostport}"
        query = parts.query
        if query:
            items = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [(k, "***" if "pass" in k.lower() else v) for k, v in items], safe="*"
            )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return "<a Redis URL that does not parse>"


def _scrub(message: str, url: str) -> str:
    """``message`` without the password of ``url`` in it."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return message.replace(password, "***") if password else message


def _check_seconds(value: object, name: str, *, zero_ok: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0 or (seconds == 0 and not zero_ok):
        bound = ">= 0" if zero_ok else "> 0"
        raise ValueError(f"{name} must be a finite number of seconds {bound}, got {value!r}")
    return seconds


def _ttl_ms(ttl: object) -> int:
    """A retention TTL in whole milliseconds, rounded up; 0 for ``ttl <= 0``."""
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError(f"ttl must be a number of seconds, got {ttl!r}")
    if math.isnan(ttl) or math.isinf(ttl):
        raise ValueError(f"ttl must be a finite number of seconds, got {ttl!r}")
    return 0 if ttl <= 0 else max(1, math.ceil(ttl * 1000))


def _import_redis() -> tuple[Any, tuple[type[BaseException], ...]]:
    """``redis.asyncio`` and the exceptions that mean Redis trouble, or the ImportError
    that says how to install them."""
    try:
        import redis
        import redis.asyncio
        import redis.exceptions
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    major = str(getattr(redis, "__version__", "0")).split(".", 1)[0]
    if not major.isdigit() or int(major) < 5:
        raise ImportError(f"{_INSTALL_HINT} (found redis {redis.__version__})")
    errors: tuple[type[BaseException], ...] = (
        redis.exceptions.RedisError,
        OSError,  # ConnectionResetError and friends that slip through
        TimeoutError,
        asyncio.TimeoutError,
    )
    return redis.asyncio, errors


class _Wake:
    """The local waiters of one key, woken together when its fill is announced."""

    __slots__ = ("count", "future")

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future
        self.count = 0


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
        "_clock",
        "_closed",
        "_down",
        "_errors",
        "_listener",
        "_lock_ms",
        "_lock_timeout",
        "_max_connections",
        "_n_waiting",
        "_open_until",
        "_orphans",
        "_owns_client",
        "_prefix",
        "_probing",
        "_ready",
        "_redis",
        "_reported",
        "_response_error",
        "_retry_interval",
        "_slots",
        "_tasks",
        "_timeout",
        "_unlock_script",
        "_waits",
        "_warned_at",
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
        self._timeout = _check_seconds(timeout, "timeout")
        self._lock_timeout = _check_seconds(lock_timeout, "lock_timeout")
        if self._lock_timeout < 0.001:
            raise ValueError(f"lock_timeout must be at least 0.001 s, got {lock_timeout!r}")
        self._retry_interval = _check_seconds(retry_interval, "retry_interval", zero_ok=True)
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise TypeError(f"max_connections must be an int, got {max_connections!r}")
        if max_connections < 2:
            # One is the pub/sub listener's while anyone waits; the others run commands.
            raise ValueError(f"max_connections must be >= 2, got {max_connections}")
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, got {clock!r}")
        aioredis, errors = _import_redis()
        import redis.exceptions as redis_exceptions

        if isinstance(redis, str):
            if not redis.strip():
                raise ValueError("redis: the Redis URL is empty")
            self._where = _redact_url(redis)
            try:
                from redis.asyncio.retry import Retry
                from redis.backoff import NoBackoff

                # One immediate retry, on a new connection: after Redis restarts (or drops
                # idle connections) the first command on each pooled connection fails.
                # The deadline of ``timeout`` still bounds the whole operation.
                client = aioredis.Redis.from_url(
                    redis,
                    socket_timeout=self._timeout,
                    socket_connect_timeout=self._timeout,
                    retry=Retry(NoBackoff(), 1),
                    # redis-py 5 retries only the errors listed here.
                    retry_on_error=[redis_exceptions.ConnectionError],
                )
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"redis: not a usable Redis URL {self._where}: {_scrub(str(exc), redis)}"
                ) from None
            self._owns_client = True
        else:
            if not isinstance(redis, aioredis.Redis):
                raise TypeError(
                    "redis must be a Redis URL (str) or a redis.asyncio.Redis client, got "
                    f"{type(redis).__module__}.{type(redis).__name__} (the asyncio client "
                    "is needed; redis.asyncio.RedisCluster is not supported)"
                )
            kwargs = getattr(redis.connection_pool, "connection_kwargs", {})
            if kwargs.get("decode_responses"):
                raise ValueError(
                    "redis: the client decodes responses (decode_responses=True), but "
                    "cache entries are binary; pass a client with decode_responses=False"
                )
            client = redis
            self._where = "(a given redis.asyncio client)"
            self._owns_client = False
        self._redis: Any = client
        self._errors = errors
        self._response_error: type[BaseException] = redis_exceptions.ResponseError
        self._prefix = prefix
        self._channel = prefix + "filled"
        self._lock_ms = max(1, math.ceil(self._lock_timeout * 1000))
        self._clock: Callable[[], float] = clock or time.monotonic
        self._unlock_script: Any = client.register_script(_UNLOCK_LUA)  # no I/O until used
        self._max_connections = max_connections
        # Round trips at once: a burst of calls queues here (within the deadline) instead
        # of opening a connection each; the pub/sub listener has a connection of its own.
        self._slots = asyncio.Semaphore(max_connections - 1)
        self._closed = False
        # The circuit: closed while not _down; when _down, Redis is skipped until
        # _open_until, then one operation at a time probes it (_probing).
        self._down = False
        self._open_until = 0.0
        self._probing = False
        self._warned_at: float | None = None
        self._reported: set[tuple[str, str]] = set()
        # wait(): local waiters by key, the listener task that wakes them, the future
        # that says it is subscribed (True) or failed (False), and every listener task
        # not finished yet (a stopped one may still be closing its connection).
        self._waits: dict[str, _Wake] = {}
        self._n_waiting = 0
        self._listener: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[bool] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._orphans: set[asyncio.Future[Any]] = set()  # abandoned operations (3.10)

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
        return self._closed

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
            data = await self._call(functools.partial(self._redis.get, self._prefix + key))
        except _WrongType:
            self._report(key, "the key holds another Redis type")
            return None
        except _Skip:
            return None
        return None if data is None else self._decode(key, data)

    async def set(self, key: str, entry: CacheEntry, ttl: float) -> None:
        """Store ``entry`` under ``key`` for ``ttl`` seconds (``ttl <= 0``: delete it)."""
        data = encode_entry(entry)
        ms = _ttl_ms(ttl)
        if ms:
            op = functools.partial(self._redis.set, self._prefix + key, data, px=ms)
        else:
            op = functools.partial(self._redis.unlink, self._prefix + key)
        with contextlib.suppress(_Skip):
            await self._call(op)

    async def set_many(self, entries: Mapping[str, CacheEntry], ttl: float) -> None:
        """Store every entry for ``ttl`` seconds in one round trip (a pipeline)."""
        encoded = [(self._prefix + key, encode_entry(entry)) for key, entry in entries.items()]
        ms = _ttl_ms(ttl)
        if not encoded:
            return
        pipe = self._redis.pipeline(transaction=False)
        for name, data in encoded:
            if ms:
                pipe.set(name, data, px=ms)
            else:
                pipe.unlink(name)
        with contextlib.suppress(_Skip):
            await self._call(pipe.execute)

    async def clear(self) -> None:
        """Delete every entry under the prefix (SCAN + UNLINK, each round trip bounded by
        ``timeout``); locks are left to their holders. Not atomic: an entry set meanwhile
        may survive."""
        match = _glob_escape(self._prefix) + "*"
        locks = (self._prefix + "lock:").encode()
        cursor = 0
        with contextlib.suppress(_Skip):
            while True:
                cursor, names = await self._call(
                    functools.partial(self._redis.scan, cursor, match=match, count=1000)
                )
                doomed = [name for name in names if not name.startswith(locks)]
                if doomed:
                    await self._call(functools.partial(self._redis.unlink, *doomed))
                if not cursor:
                    break

    # --- the Coordinated protocol -------------------------------------------------------

    async def lock(self, key: str) -> str | None:
        """A token if this caller may fill ``key`` (it holds the lock for ``lock_timeout``
        at most, or Redis is in trouble and nobody can coordinate), None while another
        holder has it."""
        token = secrets.token_hex(16)
        try:
            taken = await self._call(
                functools.partial(
                    self._redis.set, self._lock_key(key), token, nx=True, px=self._lock_ms
                )
            )
        except _Skip:
            return token
        return token if taken else None

    async def unlock(self, key: str, token: str) -> None:
        """Release ``key``'s lock if ``token`` holds it, and then wake its waiters in every
        process; with any other token, do nothing."""
        with contextlib.suppress(_Skip):
            await self._call(
                functools.partial(
                    self._unlock_script,
                    keys=[self._lock_key(key)],
                    args=[token, self._channel, key],
                )
            )

    async def wait(self, key: str) -> CacheEntry | None:
        """Wait until ``key``'s lock is released (woken within milliseconds through
        pub/sub) or expires, then return the entry under ``key`` (None if none). Returns
        at once when no lock is held, and None at once when Redis is in trouble."""
        if not self._usable():
            return None
        wake = self._join(key)
        try:
            ready = self._ready
            assert ready is not None
            # Subscribed before looking at the lock, so an unlock in between is not missed.
            done, _ = await asyncio.wait({ready}, timeout=self._timeout)
            if not done:
                self._failed(TimeoutError("no answer to SUBSCRIBE"))
                return None
            if not ready.result():
                return None
            data, pttl = await self._call(functools.partial(self._peek, key))
            if isinstance(pttl, int) and pttl > 0:
                await asyncio.wait({wake.future}, timeout=pttl / 1000 + _EXPIRY_MARGIN)
                data = await self._call(functools.partial(self._redis.get, self._prefix + key))
        except _WrongType:
            self._report(key, "the key holds another Redis type")
            return None
        except _Skip:
            return None
        finally:
            self._leave(key, wake)
        return None if data is None else self._decode(key, data)

    # --- lifetime -------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop the listener, wake every waiter (they return None) and close the client if
        this cache built it. Idempotent."""
        self._closed = True
        for wake in self._waits.values():
            if not wake.future.done():
                wake.future.set_result(None)
        self._waits.clear()
        self._listener = None
        tasks: set[asyncio.Future[Any]] = {*self._tasks, *self._orphans}
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        if self._owns_client:
            self._owns_client = False
            try:
                async with _deadline(self._timeout):
                    close = getattr(self._redis, "aclose", None) or self._redis.close
                    await close()
                    await self._redis.connection_pool.disconnect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # closing must not fail either
                logger.debug("closing the Redis client failed: %r", exc)

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

    def _decode(self, key: str, data: Any) -> CacheEntry | None:
        if not isinstance(data, bytes):  # a client that decodes (it was checked at start)
            self._report(key, "not bytes")
            return None
        entry = decode_entry(data)
        if isinstance(entry, str):
            self._report(key, entry)
            return None
        return entry

    def _report(self, key: str, reason: str) -> None:
        """Log an unreadable entry once per (kind of key, reason)."""
        seen = (_key_kind(key), reason)
        if seen in self._reported or len(self._reported) >= _MAX_REPORTED:
            return
        self._reported.add(seen)
        logger.warning(
            "Redis cache: ignoring the value of a %s key under %r: %s; treated as a miss "
            "(the next set overwrites it; logged once)",
            seen[0], self._prefix, reason,
        )

    def _usable(self) -> bool:
        """Whether Redis may be tried now (the circuit is closed, or it is time to probe)."""
        if self._closed:
            return False
        if not self._down:
            return True
        return not self._probing and self._clock() >= self._open_until

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T:
        """Run one Redis round trip bounded by ``timeout``; raise ``_Skip`` instead of
        any Redis trouble (and when the circuit is open). The caller's cancellation
        passes through."""
        if not self._usable():
            raise _Skip
        probe = self._down
        if probe:
            self._probing = True
        try:
            if sys.version_info >= (3, 11):
                async with asyncio.timeout(self._timeout), self._slots:
                    result = await op()
            else:  # pragma: no cover - 3.10 only
                result = await self._bounded_310(op)
        except self._errors as exc:
            if isinstance(exc, self._response_error) and str(exc).startswith("WRONGTYPE"):
                raise _WrongType from None  # about this key, not about Redis
            self._failed(exc)
            raise _Skip from None
        finally:
            if probe:
                self._probing = False
        if probe:
            # Only the probe closes the circuit: an operation that started before the
            # failure and still succeeded says little, and would make the log flap.
            self._recovered()
        return result

    async def _bounded_310(self, op: Callable[[], Awaitable[T]]) -> T:  # pragma: no cover
        """The deadline on Python 3.10, where a cancellation cannot be told from another:
        redis-py's own timeout there turns ours into its TimeoutError and retries, so a
        cancelled operation could run on for another ``timeout``. So the operation runs
        in a task of its own that is abandoned (cancelled, never awaited) at the deadline;
        close() cancels and awaits what is left of such tasks."""
        async def run() -> T:
            async with self._slots:
                return await op()

        task = asyncio.ensure_future(run())
        try:
            done, _ = await asyncio.wait({task}, timeout=self._timeout)
        except asyncio.CancelledError:
            self._abandon(task)
            raise
        if not done:
            self._abandon(task)
            raise TimeoutError
        return task.result()

    def _abandon(self, task: asyncio.Future[Any]) -> None:  # pragma: no cover - 3.10
        task.cancel()
        self._orphans.add(task)
        task.add_done_callback(_forget_quietly)
        task.add_done_callback(self._orphans.discard)

    def _failed(self, exc: BaseException) -> None:
        if self._closed:
            return
        now = self._clock()
        self._open_until = now + self._retry_interval
        self._down = True
        if self._warned_at is None or now - self._warned_at >= self._retry_interval:
            self._warned_at = now
            logger.warning(
                "Redis cache %s unavailable (%s: %s); skipping it for %gs, API calls go on "
                "without it",
                self._where, type(exc).__name__, exc, self._retry_interval,
            )

    def _recovered(self) -> None:
        self._down = False
        logger.info("Redis cache %s is reachable again; using it", self._where)

    # wait()'s machinery: one listener task per RedisCache, subscribed to <prefix>filled
    # while at least one wait() is running here.

    def _join(self, key: str) -> _Wake:
        wake = self._waits.get(key)
        if wake is None:
            wake = self._waits[key] = _Wake(asyncio.get_running_loop().create_future())
        wake.count += 1
        self._n_waiting += 1
        if self._listener is None:
            loop = asyncio.get_running_loop()
            self._ready = loop.create_future()
            # The new listener first lets stopped ones finish: one connection at a time.
            previous = frozenset(self._tasks)
            task = self._listener = loop.create_task(self._listen(self._ready, previous))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return wake

    def _leave(self, key: str, wake: _Wake) -> None:
        wake.count -= 1
        if wake.count == 0 and self._waits.get(key) is wake:
            del self._waits[key]
        self._n_waiting -= 1
        if self._n_waiting == 0 and self._listener is not None:
            # Nobody waits: stop listening (a later wait() starts a new listener).
            self._listener.cancel()
            self._listener = None

    def _dispatch(self, data: Any) -> None:
        key = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        wake = self._waits.pop(key, None)
        if wake is not None and not wake.future.done():
            wake.future.set_result(None)

    def _wake_all(self) -> None:
        waits = list(self._waits.values())
        self._waits.clear()
        for wake in waits:
            if not wake.future.done():
                wake.future.set_result(None)

    async def _listen(
        self, ready: asyncio.Future[bool], previous: frozenset[asyncio.Task[None]]
    ) -> None:
        """Subscribe, say so through ``ready``, then wake local waiters by the keys
        published, until cancelled (nobody waits, or close()). Never ends with an
        exception other than its cancellation: a failure opens the circuit and wakes
        every waiter."""
        if previous:
            await asyncio.wait(previous)
        pubsub = self._redis.pubsub()
        try:
            async with _deadline(self._timeout):
                await pubsub.subscribe(self._channel)
                while not ready.done():
                    message = await pubsub.get_message(timeout=self._timeout)
                    if message is not None and message.get("type") == "subscribe":
                        ready.set_result(True)
            while True:
                message = await pubsub.get_message(timeout=_LISTEN_POLL)
                if message is not None and message.get("type") == "message":
                    self._dispatch(message.get("data"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Redis trouble (or a bug below us): no waiter may hang on a dead listener.
            self._failed(exc)
            if self._listener is asyncio.current_task():
                self._listener = None
            self._wake_all()
        finally:
            if not ready.done():
                ready.set_result(False)
            with contextlib.suppress(Exception):
                close = getattr(pubsub, "aclose", None) or pubsub.reset
                async with _deadline(self._timeout):
                    await close()


def _forget_quietly(task: asyncio.Future[Any]) -> None:  # pragma: no cover - 3.10
    """Retrieve an abandoned operation's outcome, so asyncio does not log it."""
    if not task.cancelled():
        task.exception()


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis MATCH pattern."""
    return "".join("\\" + c if c in "\\*?[]" else c for c in text)
