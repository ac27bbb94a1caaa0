"""``AsyncClient``: configuration, the shared session, the retry loop, and ``catalog()``.

A call travels: Resource (path, Decoder) -> cache (here) -> single-flight (``_flight``)
-> retry loop (here, asking ``_retry.decide``) -> one attempt (``_transport.send``, timed
by ``_deadlines``) -> Decoder.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import itertools
import logging
import math
import os
import random
import sys
import time
import uuid
import warnings
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

import aiohttp
import msgspec
from yarl import URL

from xai_models_async import _transport
from xai_models_async._batch import current_ticket, gather_bounded
from xai_models_async._cache import Cache, MemoryCache, check_ttl
from xai_models_async._catalog import Catalog
from xai_models_async._deadlines import Deadlines
from xai_models_async._errors import APIError, APITimeoutError, XAIError
from xai_models_async._flight import SingleFlight
from xai_models_async._resource import (
    DEFAULT_CONCURRENCY,
    ENDPOINTS,
    Resource,
    decode,
)
from xai_models_async._retry import RetryPolicy, decide
from xai_models_async._version import __version__
from xai_models_async.types import (
    ImageGenerationModel,
    LanguageModel,
    Model,
    VideoGenerationModel,
)

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "AsyncClient"]

logger = logging.getLogger("xai_models_async")

T = TypeVar("T")

DEFAULT_BASE_URL = "https://api.x.ai"
#: Seconds one attempt may take, connection and body included. Listing calls answer in well
#: under a second; 20 s rides out a slow moment without letting a call hang for minutes.
DEFAULT_TIMEOUT = 20.0

_NODE_MASK = (1 << 48) - 1

USER_AGENT = (
    f"xai-models-async/{__version__} aiohttp/{aiohttp.__version__} "
    f"python/{sys.version_info.major}.{sys.version_info.minor}"
)


class AsyncClient:
    """The client for xAI's Models API. Create one per application and share it.

    ``api_key`` falls back to ``$XAI_API_KEY``; ``base_url`` to ``$XAI_BASE_URL``, then
    ``https://api.x.ai`` (a trailing ``/v1`` is accepted). ``timeout`` is seconds per
    attempt (default 20) or an ``aiohttp.ClientTimeout``. ``retry`` is a
    :class:`RetryPolicy` (default: 2 retries with jittered exponential backoff).
    ``max_connections`` bounds the connection pool and the requests in flight.
    ``headers`` are sent with every request. ``session`` lets the application pass its own
    ``aiohttp.ClientSession``, which the client then never closes. ``cache_ttl`` (seconds,
    default off) caches list and get results in ``cache`` (default: in memory).
    ``trace_configs`` are aiohttp ``TraceConfig``\\ s, for metrics (their callbacks run inside
    a request other callers may share: they must not use ``asyncio.timeout``, whose
    cancellation would read as the caller's). ``sleep`` and ``clock``
    exist for tests: they replace ``asyncio.sleep`` and ``time.monotonic``.

    Use it as ``async with AsyncClient() as client:`` or keep it for the life of the app
    and ``await client.close()`` at shutdown. The HTTP session is created on first use,
    inside the running event loop, and the client stays bound to that loop.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | URL | None = None,
        timeout: float | aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_connections: int = 100,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        cache_ttl: float | None = None,
        cache: Cache | None = None,
        trace_configs: Iterable[aiohttp.TraceConfig] | None = None,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._api_key = _check_api_key(api_key)
        self._base_url = _check_base_url(base_url)
        self._timeout = _check_timeout(timeout, "timeout")
        self._phases = _without_total(self._timeout)
        self._movable = _movable(self._timeout)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy or None, got {retry!r}")
        self._retry = retry if retry is not None else RetryPolicy()
        if (isinstance(max_connections, bool) or not isinstance(max_connections, int)
                or max_connections < 1):
            raise ValueError(f"max_connections must be an int >= 1, got {max_connections!r}")
        self._max_connections = max_connections
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise TypeError(f"session must be an aiohttp.ClientSession, got {session!r}")
        self._headers = _build_headers(self._api_key, headers)
        # Headers sent with each request on top of the session's: all of them on a session
        # the application owns, none on ours (they are set once on the session instead).
        self._per_request_headers = self._headers if session is not None else {}
        self._cache_ttl = check_ttl(cache_ttl)
        if cache is not None and not isinstance(cache, Cache):
            raise TypeError("cache must implement the Cache protocol (get, set, clear)")
        self._cache: Cache = cache if cache is not None else MemoryCache(clock=clock)
        # Keys are scoped to the origin and the key's hash: a shared backend never answers
        # one team's client with another team's models.
        scope = f"{self._base_url}\0{self._api_key}".encode()
        self._cache_prefix = hashlib.sha256(scope).hexdigest()[:16] + ":"
        self._cache_generation = 0
        self._trace_configs = list(trace_configs) if trace_configs is not None else None
        self._sleep: Callable[[float], Awaitable[object]] = sleep or asyncio.sleep
        self._clock: Callable[[], float] = clock or time.monotonic
        self._random = random.random
        self._session = session
        self._owns_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._deadlines: Deadlines | None = None
        self._flights = SingleFlight(on_move=self._retarget)
        self._closed = False
        # x-client-request-id: a random UUID4 per client with a call counter in its 48 node
        # bits; unique per call and far cheaper than uuid4() on every request.
        self._call_id_prefix = str(uuid.uuid4())[:24]  # all but the 12 hex digits of "node"
        self._call_ids = itertools.count()

        self.models: Resource[Model] = Resource(self, ENDPOINTS["models"])
        self.language_models: Resource[LanguageModel] = Resource(
            self, ENDPOINTS["language_models"]
        )
        self.image_generation_models: Resource[ImageGenerationModel] = Resource(
            self, ENDPOINTS["image_generation_models"]
        )
        self.video_generation_models: Resource[VideoGenerationModel] = Resource(
            self, ENDPOINTS["video_generation_models"]
        )

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> AsyncClient:
        self._bind()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection pool (not a session passed in by the application).
        Idempotent; the client cannot be used afterwards."""
        if self._closed:
            return
        loop = self._loop
        if (loop is not None and not loop.is_closed() and self._owns_session
                and asyncio.get_running_loop() is not loop):
            # aiohttp cannot close a session from another loop; changing nothing lets the
            # caller still close it properly.
            raise XAIError("close() must run in the event loop this AsyncClient was used in")
        self._closed = True
        if self._deadlines is not None:
            self._deadlines.close()
        session, self._session = self._session, None
        if session is None or not self._owns_session or session.closed:
            return
        if loop is not None and loop.is_closed():
            # The loop that owned the connections is gone, and its sockets with it; there
            # is nothing left to close, and aiohttp cannot close it from this loop.
            return
        await session.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def base_url(self) -> str:
        return str(self._base_url)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"<AsyncClient base_url={str(self._base_url)!r} api_key='***' "
            f"max_connections={self._max_connections} {state}>"
        )

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        # Only warn: the loop may be closed already, and nothing may be scheduled on it.
        session = getattr(self, "_session", None)
        if (getattr(self, "_owns_session", False) and not getattr(self, "_closed", True)
                and session is not None and not session.closed):
            _warn(
                "AsyncClient was never closed: use `async with AsyncClient() as client:` "
                "or `await client.close()` when the application stops",
                ResourceWarning,
                source=self,
            )

    def _bind(self) -> aiohttp.ClientSession:
        """The session, created on first use inside the running loop; the loop is checked
        on every call because a client used from a second loop would hang or crash deep
        inside aiohttp."""
        if self._closed:
            raise XAIError("this AsyncClient is closed; create a new one")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise XAIError(
                "this AsyncClient belongs to another event loop (the one it was first used "
                "in); create one client per event loop"
            )
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300)
            session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                # An API client has no use for cookies, and parsing them costs time.
                cookie_jar=aiohttp.DummyCookieJar(),
                trace_configs=self._trace_configs,
            )
            self._session = session
        elif session.closed:
            raise XAIError("the aiohttp.ClientSession given to AsyncClient is closed")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max_connections)
            self._deadlines = Deadlines(loop)
        return session

    # -- the request pipeline -------------------------------------------------------------

    async def _cached_call(
        self,
        key: str,
        path: str,
        decoder: Callable[[bytes], T],
        *,
        retry: RetryPolicy | None,
        timeout: float | aiohttp.ClientTimeout | None,
        cache_ttl: float | None,
        also_cache: Callable[[T, float], Awaitable[None]] | None = None,
        batch: bool = False,
    ) -> T:
        """Cache, then single-flight, then the retry loop, then decode."""
        session = self._bind()
        ttl = self._cache_ttl if cache_ttl is None else check_ttl(cache_ttl)
        if ttl:
            hit = await self._cache_get(key)
            if hit is not None:
                return hit  # type: ignore[no-any-return]
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy or None, got {retry!r}")
        policy = retry or self._retry
        attempt_timeout = self._timeout if timeout is None else _check_timeout(timeout, "timeout")
        # Calls with different overrides do not share a request: their outcomes may differ.
        flight: Hashable = path if retry is None and timeout is None else (
            path, policy, attempt_timeout)

        then: Callable[[T], Awaitable[None]] | None = None
        if ttl:
            generation = self._cache_generation

            async def then(value: T) -> None:
                # Not inside the shared request (a backend's own timeouts would cancel the
                # task running it), and after the others have the answer. An answer that
                # started before cache_clear() must not repopulate the cache.
                if generation != self._cache_generation:
                    return
                if also_cache is not None:
                    # The per-model entries first: an LRU backend then evicts them, not the
                    # list they came from.
                    await also_cache(value, ttl)
                await self._cache_set(key, value, ttl)

        movable = self._movable if timeout is None else _movable(attempt_timeout)
        # A call of a batch (get_many) runs in a task of its own: the loop then runs the
        # same step of many calls back to back, which measured ~10% faster in the fan-out
        # benchmark than each call inline in its worker. A lone call runs inline, where a
        # hand-off to a task costs two event-loop passes (issue 6).
        return await self._flights.run(
            flight, self._fetch, session, path, policy, attempt_timeout, decoder,
            movable=movable, detached=batch, then=then)

    async def _cache_get(self, key: str) -> Any | None:
        try:
            return await self._cache.get(self._cache_prefix + key)
        except Exception as exc:  # a broken backend must not break the API call
            logger.warning("cache get failed, treating as a miss: %r", exc)
            return None

    async def _cache_set(self, key: str, value: Any, ttl: float) -> None:
        try:
            await self._cache.set(self._cache_prefix + key, value, ttl)
        except Exception as exc:
            logger.warning("cache set failed, not cached: %r", exc)

    def _retarget(self, old: asyncio.Task[Any], new: asyncio.Task[Any]) -> None:
        if self._deadlines is not None:
            self._deadlines.retarget(old, new)

    def _call_id(self) -> str:
        return f"{self._call_id_prefix}{next(self._call_ids) & _NODE_MASK:012x}"

    async def _fetch(
        self,
        session: aiohttp.ClientSession,
        path: str,
        policy: RetryPolicy,
        timeout: aiohttp.ClientTimeout,
        decoder: Callable[[bytes], T],
    ) -> T:
        """The retry loop: one attempt after another until success or ``decide`` says stop,
        then the answer decoded. Slots (pool and batch) are held per attempt, never during
        a sleep."""
        slots = self._slots
        deadlines = self._deadlines
        assert slots is not None
        assert deadlines is not None
        url = _transport.join(self._base_url, path)
        headers = {**self._per_request_headers, "x-client-request-id": self._call_id()}
        # `total` is enforced by `deadlines`, the other fields by aiohttp itself.
        phases = self._phases if timeout is self._timeout else _without_total(timeout)
        started = self._clock()
        attempt = 0
        last_error: APIError | None = None
        while True:
            if self._closed:  # closed while this call slept before a retry
                raise XAIError("this AsyncClient was closed while the call was retrying")
            attempt += 1
            ticket = current_ticket.get()
            if ticket is not None:
                await ticket.acquire()
            await slots.acquire()
            # After the wait for a slot, which counts against the deadline too.
            seconds = timeout.total
            if policy.deadline is not None:
                remaining = policy.deadline - (self._clock() - started)
                if remaining <= 0:
                    slots.release()
                    if ticket is not None:
                        ticket.release()
                    raise APITimeoutError(
                        f"the retry deadline of {policy.deadline:g} s has passed"
                        + (f"; last failure: {last_error}" if last_error else ""),
                        method="GET", path=path, attempts=attempt - 1,
                    ) from last_error
                if seconds is None or seconds > remaining:
                    seconds = remaining
            task = asyncio.current_task()  # per attempt: single-flight may move the call
            try:
                if seconds is None:
                    response = await _transport.send(
                        session, url, path, headers=headers, timeout=phases, attempt=attempt)
                elif task is None:  # not in an asyncio task: let aiohttp keep time
                    response = await _transport.send(
                        session, url, path, headers=headers,
                        timeout=_with_total(phases, seconds), attempt=attempt)
                else:
                    watch = deadlines.start(task, seconds)
                    try:
                        response = await _transport.send(
                            session, url, path, headers=headers, timeout=phases,
                            attempt=attempt)
                    except asyncio.CancelledError:
                        if not watch.timed_out():
                            raise
                        raise _transport.timed_out(path, attempt) from None
                    finally:
                        deadlines.finish(watch)
                break
            except APIError as error:
                self._scrub(error)
                last_error = error
                decision = decide(
                    policy, error, attempt=attempt, elapsed=self._clock() - started,
                    rand=self._random(),
                )
                if decision.delay is None:
                    # A plain 404 is an answer, not an incident: INFO only after retries.
                    logger.log(logging.INFO if attempt > 1 else logging.DEBUG,
                               "GET %s failed, not retrying (%s): %s",
                               path, decision.reason, error)
                    raise
                logger.info(
                    "GET %s attempt %d failed, retrying in %.2f s: %s",
                    path, attempt, decision.delay, decision.reason,
                )
            finally:
                slots.release()
                if ticket is not None:
                    ticket.release()
            # The response was released when `send` left its `async with`, and both slots
            # were given back: sleep holding nothing, and let the batch use the slot.
            if ticket is not None:
                ticket.before_sleep()
            await self._sleep(decision.delay)
        try:
            return decoder(response.body)
        except Exception:  # say what and where, as an APIResponseValidationError
            try:
                return decode(
                    decoder, response.body, path=path, attempts=attempt,
                    request_id=response.request_id, status=response.status,
                )
            except APIError as error:
                self._scrub(error)
                raise

    def _scrub(self, error: APIError) -> None:
        """Mask this client's own key wherever a server echoed it into an error (any key,
        not only ``xai-`` ones, which the error parser masks already)."""
        key = self._api_key
        if key in error.message:
            error.message = error.message.replace(key, "***")
            error.args = (error.message,)
        body = getattr(error, "body", None)
        if isinstance(body, bytes) and key.encode() in body:
            error.body = body.replace(key.encode(), b"***")  # type: ignore[attr-defined]
        elif isinstance(body, str) and key in body:
            error.body = body.replace(key, "***")  # type: ignore[attr-defined]
        elif isinstance(body, (dict, list)):
            raw = msgspec.json.encode(body)
            if key.encode() in raw:
                error.body = msgspec.json.decode(  # type: ignore[attr-defined]
                    raw.replace(key.encode(), b"***"))

    # -- catalog --------------------------------------------------------------------------

    async def catalog(
        self,
        *,
        details: bool = False,
        return_exceptions: bool = False,
        concurrency: int = DEFAULT_CONCURRENCY,
        retry: RetryPolicy | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        cache_ttl: float | None = None,
    ) -> Catalog:
        """The four lists, fetched concurrently, as a :class:`Catalog`.

        ``details=True`` also fetches every listed model's ``get`` (at most ``concurrency``
        at once) and keeps those richer objects. With ``return_exceptions=True`` a failed
        list (or get) leaves its part empty (or the listed object in place) and its error
        in ``Catalog.errors``; without it, the first error is raised.
        """
        kinds = list(ENDPOINTS)
        resources: list[Resource[Any]] = [getattr(self, kind) for kind in kinds]
        options: dict[str, Any] = {"retry": retry, "timeout": timeout, "cache_ttl": cache_ttl}
        lists = await gather_bounded(
            # The shared list, not list()'s defensive copy: Catalog stores a tuple anyway.
            lambda resource: resource._list_shared(**options), resources,
            concurrency=len(resources), return_exceptions=return_exceptions,
        )
        errors: dict[str, XAIError] = {}
        parts: dict[str, list[Any]] = {}
        for kind, result in zip(kinds, lists, strict=True):
            if isinstance(result, XAIError):
                errors[kind] = result
                parts[kind] = []
            else:
                parts[kind] = result
        if details:
            for kind, resource in zip(kinds, resources, strict=True):
                if kind == "models" or not parts[kind]:
                    continue  # /v1/models/{id} carries nothing its list does not
                listed = parts[kind]
                # cache_ttl=0: details means asking each get, not echoing the cached list.
                fetched = await resource.get_many(
                    [m.id for m in listed], concurrency=concurrency,
                    return_exceptions=True, retry=retry, timeout=timeout, cache_ttl=0,
                )
                merged: list[Any] = []
                for old, new in zip(listed, fetched, strict=True):
                    if isinstance(new, XAIError):
                        if not return_exceptions:
                            raise new
                        errors[f"{kind}:{old.id}"] = new
                        merged.append(old)
                    else:
                        merged.append(new)
                parts[kind] = merged
        return Catalog(
            models=tuple(parts["models"]),
            language_models=tuple(parts["language_models"]),
            image_generation_models=tuple(parts["image_generation_models"]),
            video_generation_models=tuple(parts["video_generation_models"]),
            errors=errors,
        )

    async def cache_clear(self) -> None:
        """Forget every cached answer (answers already in flight are not stored)."""
        self._cache_generation += 1
        await self._cache.clear()


def _with_total(timeout: aiohttp.ClientTimeout, total: float | None) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(
        total=total, connect=timeout.connect, sock_read=timeout.sock_read,
        sock_connect=timeout.sock_connect, ceil_threshold=timeout.ceil_threshold,
    )


def _movable(timeout: aiohttp.ClientTimeout) -> bool:
    """aiohttp's connect timeouts are tied to the task they start in: a call using them
    must not move to another task (see _flight)."""
    return timeout.connect is None and timeout.sock_connect is None


def _without_total(timeout: aiohttp.ClientTimeout) -> aiohttp.ClientTimeout:
    """What aiohttp still enforces itself: connect and read timeouts, not ``total``."""
    return _with_total(timeout, None)


def _check_api_key(api_key: str | None) -> str:
    source = "api_key"
    if api_key is None:
        api_key = os.environ.get("XAI_API_KEY")
        source = "XAI_API_KEY"
    if api_key is not None and not isinstance(api_key, str):
        raise TypeError(f"api_key must be a str, got {type(api_key).__name__}")
    if api_key is None or not api_key.strip():
        raise XAIError(
            "no API key: pass AsyncClient(api_key=...) or set the XAI_API_KEY environment "
            "variable (create a key at https://console.x.ai)"
        )
    key = api_key.strip()
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in key) or not key.isascii():
        # Never echo the key: only say what is wrong with it.
        raise XAIError(f"the API key from {source} contains spaces or control characters")
    return key


def _check_base_url(base_url: str | URL | None) -> URL:
    source = "base_url"
    if base_url is None:
        env = os.environ.get("XAI_BASE_URL")
        if env:
            base_url, source = env, "XAI_BASE_URL"
        else:
            base_url = DEFAULT_BASE_URL
    try:
        url = URL(str(base_url).strip())
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{source} is not a valid URL: {base_url!r} ({exc})") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(
            f"{source} must be an http(s) URL with a host, like {DEFAULT_BASE_URL!r}; "
            f"got {str(base_url)!r}"
        )
    if url.user is not None or url.password is not None:
        # Never echo it: the part before "@" may be a password.
        raise ValueError(f"{source} must not carry a user name or password; pass the key "
                         "as api_key")
    if url.query_string or url.fragment:
        raise ValueError(f"{source} must not carry a query or fragment: {str(base_url)!r}")
    if url.scheme == "http" and not _is_loopback(url.host):
        warnings.warn(
            f"{source} uses plain http to {url.host}: the API key will cross the network "
            "unencrypted (use https)",
            UserWarning,
            stacklevel=3,  # _check_base_url <- __init__ <- the caller
        )
    path = url.raw_path.rstrip("/")
    if path.endswith("/v1"):  # xAI's OpenAI-compatible docs write https://api.x.ai/v1
        path = path[: -len("/v1")]
    return url.with_path(path or "/", encoded=True)


def _is_loopback(host: str | None) -> bool:
    if host in (None, "localhost") or (host or "").endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def _check_timeout(timeout: object, name: str) -> aiohttp.ClientTimeout:
    if isinstance(timeout, aiohttp.ClientTimeout):
        for field in ("total", "connect", "sock_read", "sock_connect"):
            value = getattr(timeout, field)
            # aiohttp treats 0 (and a negative number) as "no timeout": say so, not hang.
            if value is not None and (not isinstance(value, (int, float)) or value <= 0
                                      or math.isnan(value)):
                raise ValueError(f"{name}.{field} must be None or a number of seconds > 0, "
                                 f"got {value!r}")
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"{name} must be seconds (a number) or an aiohttp.ClientTimeout, got {timeout!r}"
        )
    if math.isnan(timeout) or math.isinf(timeout) or timeout <= 0:
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {timeout}")
    return aiohttp.ClientTimeout(total=float(timeout))


def _build_headers(api_key: str, extra: Mapping[str, str] | None) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {api_key}",
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
    }
    if extra:
        for name, value in extra.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError("headers must map str names to str values")
            if name.lower() == "authorization":
                raise ValueError("pass the API key as api_key, not as an Authorization header")
            headers[name] = value
    return headers
