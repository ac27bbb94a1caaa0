"""The way every call travels, in one direction::

    Pipeline.call        binds the session (created in the running loop, on first use)
      -> cache layer     fresh or stale answers; fills shared by the fleet (``_cached``)
      -> single-flight   one execution for identical calls in flight (``_flight``)
      -> retry loop      asks ``_retry.decide``; sleeps via the injectable ``sleep``
      -> one attempt     ``_transport.send``, timed by ``_deadlines``
      -> decode          bytes straight into the Struct (``_wire.decode`` on failure)

Nothing below the retry loop knows about caching; nothing below one attempt knows about
retries. Resources hold a pipeline and call :meth:`Pipeline.call`; nothing here knows
about them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Mapping
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from xai_models_async import _transport
from xai_models_async._batch import Ticket
from xai_models_async._cache import Cache
from xai_models_async._cached import CacheLayer
from xai_models_async._config import check_timeout, check_ttl, with_total, without_total
from xai_models_async._deadlines import Deadlines, sleep_unless
from xai_models_async._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    ClientClosedError,
    XAIError,
)
from xai_models_async._flight import SingleFlight
from xai_models_async._retry import RetryPolicy, deadline_passed, decide
from xai_models_async._wire import decode, scrub

__all__ = ["Pipeline"]

logger = logging.getLogger("xai_models_async")

T = TypeVar("T")


class Pipeline:
    """Session, cache, single-flight, retries and decoding for one client. Built by
    ``AsyncClient`` from validated settings; used from one event loop."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: URL,
        headers: dict[str, str],
        timeout: aiohttp.ClientTimeout,
        retry: RetryPolicy,
        max_connections: int,
        max_response_bytes: int,
        session: aiohttp.ClientSession | None,
        cache: Cache,
        cache_ttl: float | None,
        stale_while_revalidate: float,
        stale_if_error: float,
        trace_configs: list[aiohttp.TraceConfig] | None,
        sleep: Callable[[float], Awaitable[object]],
        clock: Callable[[], float] | None,
    ) -> None:
        self._api_key = api_key
        self._base_url = base_url
        # What a path in a message is prefixed with: the path actually requested.
        self._base_path = base_url.raw_path.rstrip("/")
        self._headers = headers
        # Headers sent with each request on top of the session's: all of them on a session
        # the application owns, none on ours (they are set once on the session instead).
        self._per_request_headers = headers if session is not None else {}
        self._timeout = timeout
        self._phases = without_total(timeout)
        self._retry = retry
        self._max_connections = max_connections
        self._max_bytes = max_response_bytes
        self._cache_ttl = cache_ttl
        self._trace_configs = trace_configs
        self._sleep = sleep
        # Elapsed time (retry deadlines) and freshness (cache entries, which other
        # processes read) need different clocks; a test's clock replaces both.
        self._clock: Callable[[], float] = clock or time.monotonic
        self._now: Callable[[], float] = clock or time.time
        self._random = random.random
        self._session = session
        self._owns_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._deadlines: Deadlines | None = None
        self._closing: asyncio.Future[None] | None = None
        self._flights = SingleFlight()
        # Keys are scoped to the origin and the key's hash: a shared backend never answers
        # one team's client with another team's models.
        scope = hashlib.sha256(f"{base_url}\0{api_key}".encode()).hexdigest()[:16] + ":"
        self._cache = CacheLayer(
            cache, scope=scope, stale_while_revalidate=stale_while_revalidate,
            stale_if_error=stale_if_error, now=self._now, flights=self._flights)
        self.closed = False
        self._call_ids = _transport.request_ids()

    # -- lifecycle ----------------------------------------------------------------------

    def bind(self) -> aiohttp.ClientSession:
        """The session, created on first use inside the running loop; the loop is checked
        on every call because a client used from a second loop would hang or crash deep
        inside aiohttp."""
        if self.closed:
            raise ClientClosedError("this AsyncClient is closed; create a new one")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._slots = asyncio.Semaphore(self._max_connections)
            self._deadlines = Deadlines(loop)
            self._closing = loop.create_future()
        elif loop is not self._loop:
            raise XAIError(
                "this AsyncClient belongs to another event loop (the one it was first used "
                "in); create one client per event loop"
            )
        session = self._session
        if session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=300)
            session = self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self._headers,
                # An API client has no use for cookies, and parsing them costs time.
                cookie_jar=aiohttp.DummyCookieJar(),
                trace_configs=self._trace_configs,
            )
        elif session.closed:
            raise XAIError("the aiohttp.ClientSession given to AsyncClient is closed")
        return session

    def check_loop(self) -> None:
        """close() must run in the client's loop: aiohttp cannot close a session from
        another one. Changing nothing lets the caller still close it properly."""
        loop = self._loop
        if (loop is not None and not loop.is_closed() and self._owns_session
                and asyncio.get_running_loop() is not loop):
            raise XAIError("close() must run in the event loop this AsyncClient was used in")

    async def close(self) -> None:
        """Wake calls sleeping before a retry (they raise ``ClientClosedError``), cancel and
        await background refreshes, and close the session if it is ours. Calls in flight
        on an application's session keep their deadlines."""
        if self.closed:
            return
        self.check_loop()
        self.closed = True
        if self._closing is not None and not self._closing.done():
            self._closing.set_result(None)
        await self._cache.close()
        session, self._session = self._session, None
        if session is None or not self._owns_session or session.closed:
            return
        if self._loop is not None and self._loop.is_closed():
            # The loop that owned the connections is gone, and its sockets with it; there
            # is nothing left to close, and aiohttp cannot close it from this loop.
            return
        await session.close()

    def unclosed_session(self) -> bool:
        """Whether an own session is still open (for the client's ResourceWarning)."""
        session = self._session
        return self._owns_session and not self.closed and session is not None and (
            not session.closed)

    # -- calls ----------------------------------------------------------------------------

    def call(
        self,
        key: str,
        path: str,
        decoder: Callable[[bytes], T],
        *,
        retry: RetryPolicy | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        cache_ttl: float | None = None,
        limiter: Ticket | None = None,
        index: Callable[[T], Mapping[str, Any]] | None = None,
        stale: list[APIError] | None = None,
    ) -> Coroutine[Any, Any, T]:
        """The decoded answer of ``GET path``: ``key`` names it in the cache, ``decoder``
        turns bytes into it. Called from a coroutine in the client's loop (it binds the
        session now) and returns the coroutine to await. ``retry``, ``timeout`` and
        ``cache_ttl`` override the client's for this call; ``limiter`` is a batch's slot,
        taken per attempt; ``index`` maps a list to the per-model cache entries it also
        fills; a stale answer served instead of an error appends that error to
        ``stale``."""
        session = self.bind()
        if retry is None and timeout is None:
            policy, attempt_timeout = self._retry, self._timeout
            flight: Hashable = path
        else:
            if retry is not None and not isinstance(retry, RetryPolicy):
                raise TypeError(f"retry must be a RetryPolicy or None, got {retry!r}")
            policy = retry or self._retry
            attempt_timeout = (self._timeout if timeout is None
                               else check_timeout(timeout, "timeout"))
            # Calls with different overrides do not share a request: outcomes may differ.
            flight = (path, policy, attempt_timeout)
        ttl = self._cache_ttl if cache_ttl is None else check_ttl(cache_ttl)
        if ttl:
            def fetch() -> Coroutine[Any, Any, T]:
                return self._fetch(session, path, policy, attempt_timeout, decoder, limiter)

            return self._cache.call(key, ttl, flight, fetch, index=index, stale=stale,
                                    shown=self._base_path + path)
        # A plain function handing back the coroutine: one frame less on every step.
        return self._flights.do(flight, self._fetch, session, path, policy, attempt_timeout,
                                decoder, limiter)

    async def cache_clear(self) -> None:
        await self._cache.clear()

    # -- the retry loop -------------------------------------------------------------------

    async def _fetch(
        self,
        session: aiohttp.ClientSession,
        path: str,
        policy: RetryPolicy,
        timeout: aiohttp.ClientTimeout,
        decoder: Callable[[bytes], T],
        limiter: Ticket | None,
    ) -> T:
        """One attempt after another until success or ``decide`` says stop, then the
        answer decoded. Slots (pool and batch) are held per attempt, never during a
        sleep; each attempt is timed on its own (``timeout.total``)."""
        slots = self._slots
        assert slots is not None
        url = _transport.join(self._base_url, path)
        shown = self._base_path + path  # the path as requested, for messages
        headers = {**self._per_request_headers, "x-client-request-id": next(self._call_ids)}
        # `total` is enforced by `deadlines`, the other fields by aiohttp itself.
        phases = self._phases if timeout is self._timeout else without_total(timeout)
        started = self._clock()
        attempt = 0
        last_error: APIError | None = None
        while True:
            attempt += 1
            if limiter is not None:
                await limiter.acquire()
            await slots.acquire()
            # After the wait for a slot, which counts against the deadline too.
            seconds = timeout.total
            if policy.deadline is not None:
                remaining = policy.deadline - (self._clock() - started)
                if remaining <= 0:
                    slots.release()
                    if limiter is not None:
                        limiter.release()
                    raise deadline_passed(policy.deadline, shown, attempt - 1,
                                          last_error) from last_error
                if seconds is None or seconds > remaining:
                    seconds = remaining
            try:
                response = await self._attempt(session, url, shown, headers, attempt,
                                               phases, seconds)
                break
            except APIError as error:
                scrub(error, self._api_key)
                last_error = error
                decision = decide(
                    policy, error, attempt=attempt, elapsed=self._clock() - started,
                    rand=self._random(),
                )
                # close() cuts only our own session: on an application's, calls carry on
                # and end with their real error (a timeout stays an APITimeoutError).
                if self.closed and self._owns_session and (
                        decision.delay is not None or isinstance(error, APIConnectionError)):
                    # Most likely the close itself cut the connection: say so.
                    raise ClientClosedError(
                        "this AsyncClient was closed while the call was running"
                    ) from error
                if decision.delay is None:
                    # A plain 404 is an answer, not an incident: INFO only after retries.
                    logger.log(logging.INFO if attempt > 1 else logging.DEBUG,
                               "GET %s failed, not retrying (%s): %s",
                               shown, decision.reason, error)
                    raise
                logger.info("GET %s attempt %d failed, retrying in %.2f s: %s",
                            shown, attempt, decision.delay, decision.reason)
            finally:
                slots.release()
                if limiter is not None:
                    limiter.release()
            # The response was released when `send` left its `async with`, and both slots
            # were given back: sleep holding nothing, and let the batch use the slot.
            if limiter is not None:
                limiter.before_sleep()
            if not await self.pause(decision.delay):
                raise ClientClosedError(
                    "this AsyncClient was closed while the call waited to retry"
                ) from last_error
        try:
            return decoder(response.body)
        except Exception:  # say what and where, as an APIResponseValidationError
            try:
                return decode(decoder, response.body, path=shown, attempts=attempt,
                              request_id=response.request_id, status=response.status)
            except APIError as error:
                scrub(error, self._api_key)
                raise

    async def _attempt(
        self,
        session: aiohttp.ClientSession,
        url: URL,
        shown: str,
        headers: dict[str, str],
        attempt: int,
        phases: aiohttp.ClientTimeout,
        seconds: float | None,
    ) -> _transport.Response:
        """One request, timed by the client's one deadline timer (measured faster than
        aiohttp's own ``total`` per request on fan-out, as fast elsewhere)."""
        task = asyncio.current_task() if seconds is not None else None
        if task is None or seconds is None:  # no total, or not in a task: aiohttp times it
            try:
                return await _transport.send(
                    session, url, shown, headers=headers, attempt=attempt,
                    timeout=phases if seconds is None else with_total(phases, seconds),
                    limit=self._max_bytes)
            except APITimeoutError as error:
                if seconds is None:
                    raise
                raise _transport.timed_out(shown, attempt, seconds) from error
        deadlines = self._deadlines
        assert deadlines is not None
        watch = deadlines.start(task, seconds)
        try:
            return await _transport.send(session, url, shown, headers=headers,
                                         timeout=phases, attempt=attempt,
                                         limit=self._max_bytes)
        except asyncio.CancelledError:
            if not watch.timed_out():
                raise
            raise _transport.timed_out(shown, attempt, seconds) from None
        finally:
            deadlines.finish(watch)

    async def pause(self, delay: float) -> bool:
        """Sleep ``delay`` seconds (with the injectable ``sleep``); False at once when the
        client is or gets closed, else True."""
        if self.closed or self._closing is None:
            return not self.closed
        return await sleep_unless(self._closing, self._sleep, delay)
