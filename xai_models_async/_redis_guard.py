"""How ``RedisCache`` keeps Redis trouble away from API calls: deadlines and a circuit.

``Guard.call`` runs one Redis round trip bounded by the cache's ``timeout`` (waiting for a
pooled connection included) and turns any Redis trouble into ``Skip``, which the cache
treats as a miss or a no-op. After a failure the circuit opens: Redis is skipped for
``retry_interval`` seconds, then one operation at a time probes it. A WARNING is logged
once per interval at most, and one INFO line when Redis answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

__all__ = ["Guard", "Skip", "WrongType", "deadline"]

logger = logging.getLogger("xai_models_async")

T = TypeVar("T")
P = ParamSpec("P")


class Skip(Exception):
    """Internal: Redis is not used for this operation (circuit open, closed, or it failed)."""


class WrongType(Skip):
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


def deadline(seconds: float) -> contextlib.AbstractAsyncContextManager[Any]:
    if sys.version_info >= (3, 11):
        return asyncio.timeout(seconds)
    return _Timeout310(seconds)  # pragma: no cover - 3.10 only


class Guard:
    """The Redis round trips of one ``RedisCache``: bounded, counted, and skipped while
    the circuit is open. ``closed`` (set by the cache's ``close()``) skips them for good."""

    __slots__ = (
        "_clock",
        "_down",
        "_errors",
        "_open_until",
        "_probing",
        "_response_error",
        "_retry_interval",
        "_slots",
        "_timeout",
        "_warned_at",
        "_where",
        "closed",
        "orphans",
    )

    def __init__(
        self,
        *,
        timeout: float,
        retry_interval: float,
        clock: Callable[[], float],
        where: str,
        errors: tuple[type[BaseException], ...],
        response_error: type[BaseException],
        concurrency: int,
    ) -> None:
        self._timeout = timeout
        self._retry_interval = retry_interval
        self._clock = clock
        self._where = where
        self._errors = errors
        self._response_error = response_error
        # Round trips at once: a burst of calls queues here (within the deadline) instead
        # of opening a connection each; the pub/sub listener has a connection of its own.
        self._slots = asyncio.Semaphore(concurrency)
        self.closed = False
        # The circuit: closed while not _down; when _down, Redis is skipped until
        # _open_until, then one operation at a time probes it (_probing).
        self._down = False
        self._open_until = 0.0
        self._probing = False
        self._warned_at: float | None = None
        self.orphans: set[asyncio.Future[Any]] = set()  # abandoned operations (3.10)

    def usable(self) -> bool:
        """Whether Redis may be tried now (the circuit is closed, or it is time to probe)."""
        if self.closed:
            return False
        if not self._down:
            return True
        return not self._probing and self._clock() >= self._open_until

    async def call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run one Redis round trip, ``fn(*args, **kwargs)``, bounded by ``timeout``; raise
        ``Skip`` instead of any Redis trouble (and when the circuit is open). The caller's
        cancellation passes through."""
        if not self.usable():
            raise Skip
        op = functools.partial(fn, *args, **kwargs)
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
                raise WrongType from None  # about this key, not about Redis
            self.failed(exc)
            raise Skip from None
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
        self.orphans.add(task)
        task.add_done_callback(_forget_quietly)
        task.add_done_callback(self.orphans.discard)

    def failed(self, exc: BaseException) -> None:
        """Open the circuit after ``exc`` (Redis trouble); warn once per interval."""
        if self.closed:
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


def _forget_quietly(task: asyncio.Future[Any]) -> None:  # pragma: no cover - 3.10
    """Retrieve an abandoned operation's outcome, so asyncio does not log it."""
    if not task.cancelled():
        task.exception()
