"""Single-flight: concurrent identical calls share one execution and its outcome.

It sits above the retry loop and knows nothing of HTTP: it takes a key and a coroutine
factory. The shared execution runs in a task of its own because it must survive the
cancellation of the caller that started it, and a request cannot move between tasks once
started (aiohttp's cancellation-based timeouts are bound to the task they started in).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any, TypeVar

__all__ = ["SingleFlight"]

T = TypeVar("T")


if sys.version_info >= (3, 12):

    def _start(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None]
    ) -> asyncio.Task[None]:
        # Runs the first step at once instead of one event-loop pass later.
        return asyncio.Task(coro, loop=loop, eager_start=True)

else:

    def _start(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None]
    ) -> asyncio.Task[None]:
        return loop.create_task(coro)


class _Flight:
    __slots__ = ("abandoned", "task", "waiters")

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.waiters: list[asyncio.Future[Any]] = []
        self.abandoned = False


class SingleFlight:
    """Concurrent calls with the same key share one execution and its outcome.

    A waiter that is cancelled leaves the shared task running for the others; when the last
    waiter goes, the shared task is cancelled too, and that waiter's cancellation completes
    only once the task has unwound (its HTTP request aborted), so no task outlives the
    call. A caller arriving once the flight is abandoned starts a fresh one. Errors are
    shared like results: every waiter receives the same exception instance.

    The shared task hands its outcome straight to one future per waiter (rather than the
    waiters shielding the task), which saves an event-loop round trip on every call.
    """

    __slots__ = ("_flights",)

    def __init__(self) -> None:
        self._flights: dict[Hashable, _Flight] = {}

    def __len__(self) -> int:
        return len(self._flights)

    async def run(self, key: Hashable, factory: Callable[[], Awaitable[T]]) -> T:
        loop = asyncio.get_running_loop()
        flight = self._flights.get(key)
        waiter: asyncio.Future[T] = loop.create_future()
        if flight is None or flight.abandoned:
            # An abandoned flight is being cancelled; a newcomer must not inherit that.
            flight = _Flight()
            self._flights[key] = flight
            flight.waiters.append(waiter)  # before an eager start can finish the flight
            flight.task = _start(loop, self._drive(key, flight, factory))
        else:
            flight.waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            task = flight.task
            assert task is not None
            if waiter in flight.waiters:
                flight.waiters.remove(waiter)
            if not flight.waiters and not task.done():
                flight.abandoned = True
                task.cancel()
                # Let it unwind before our own cancellation goes on.
                await asyncio.wait((task,))
            raise

    async def _drive(
        self, key: Hashable, flight: _Flight, factory: Callable[[], Awaitable[Any]]
    ) -> None:
        try:
            result = await factory()
        except asyncio.CancelledError:
            for waiter in flight.waiters:
                waiter.cancel()
            raise
        except BaseException as exc:
            # Delivered to every waiter, never raised here: nobody awaits this task, and
            # asyncio would log "Task exception was never retrieved".
            for waiter in flight.waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
        else:
            for waiter in flight.waiters:
                if not waiter.done():
                    waiter.set_result(result)
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]
