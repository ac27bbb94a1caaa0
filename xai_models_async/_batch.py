"""Bounded fan-out for ``get_many`` and ``catalog``.

A batch of N calls with concurrency C must (a) keep at most C HTTP attempts in flight,
(b) give a slot back while a call sleeps before a retry, so other calls proceed, and
(c) not hold N tasks in memory at once.

So C workers pull calls from one shared iterator, and every HTTP attempt takes one of C
slots (a semaphore) through the worker's :class:`Ticket`, which the worker hands to each
call it makes (the retry loop takes and gives back the slot). A worker about to sleep
before a retry gives its slot back and asks for one more worker, which takes the free
slot and the next call; the extra workers stop once the calls run out.

Each call runs in a task of its own that its worker awaits (so at most about C call tasks
exist at once, and cancelling a worker cancels its call and waits for it). The loop then
runs the same step of many calls back to back: measured 9% faster on a 2,000-id fan-out
than each call inline in its worker (A/B in one run, 8 turns per side).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

from xai_models_async._errors import XAIError

__all__ = ["Ticket", "gather_bounded"]

T = TypeVar("T")
X = TypeVar("X")


class Ticket:
    """A worker's claim on its batch's slots, taken per HTTP attempt. ``release`` is
    idempotent; ``before_sleep`` gives the slot back and lets the batch start another
    worker while this one waits to retry."""

    __slots__ = ("_held", "_on_sleep", "_slots")

    def __init__(self, slots: asyncio.Semaphore, on_sleep: Callable[[], None]) -> None:
        self._slots = slots
        self._held = False
        self._on_sleep = on_sleep

    async def acquire(self) -> None:
        if not self._held:
            await self._slots.acquire()
            self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots.release()

    def before_sleep(self) -> None:
        self.release()
        self._on_sleep()


async def gather_bounded(
    call: Callable[[X, Ticket], Awaitable[T]],
    items: Sequence[X],
    *,
    concurrency: int,
    return_exceptions: bool,
) -> list[Any]:
    """``await call(item, ticket)`` for every item with at most ``concurrency`` HTTP
    attempts in flight: ``call`` takes the worker's ticket for each attempt. A call's
    task lives only while it runs; only the results are kept.

    Results keep the order of ``items``. Without ``return_exceptions`` the first
    failure stops the batch, cancels what runs, and is raised once everything has unwound;
    with it, each ``XAIError`` stands in its place (anything else is a bug and is raised).
    Cancelling the caller cancels every worker and waits for them, so no task outlives
    the call.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an int >= 1, got {concurrency!r}")
    results: list[Any] = [None] * len(items)
    if not items:
        return results
    pending: Iterator[tuple[int, X]] = iter(enumerate(items))
    slots = asyncio.Semaphore(concurrency)
    workers: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []
    remaining = len(items)  # items not yet taken by a worker
    # Set by the first failure or when the last worker ends; a snapshot wait would miss a
    # worker started during a retry sleep.
    wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    # Once the call has returned or raised, no worker may start: a shared single-flight
    # request can outlive the batch and still hold one of its tickets.
    stopped = False

    async def work() -> None:
        nonlocal remaining
        ticket = Ticket(slots, spawn)
        try:
            # next() never yields to the loop, so workers can share the iterator.
            for index, item in pending:
                remaining -= 1
                try:
                    # Awaiting the task directly: a cancelled worker cancels it and
                    # ends only once it has.
                    results[index] = await asyncio.ensure_future(call(item, ticket))
                except XAIError as exc:
                    if not return_exceptions:
                        raise
                    results[index] = exc
                if failures:
                    return
        finally:
            ticket.release()

    def finished(task: asyncio.Task[None]) -> None:
        workers.discard(task)
        if not task.cancelled():
            exc = task.exception()  # also marks it retrieved
            if exc is not None and not failures:
                failures.append(exc)
        if (failures or not workers) and not wake.done():
            wake.set_result(None)

    def spawn() -> None:
        if remaining > 0 and not failures and not stopped:
            task = asyncio.ensure_future(work())
            workers.add(task)
            task.add_done_callback(finished)

    for _ in range(min(concurrency, len(items))):
        spawn()
    try:
        await wake
        if failures:
            stopped = True
            await _cancel_all(workers)
            raise failures[0]
    except BaseException:
        stopped = True
        await _cancel_all(workers)
        raise
    finally:
        stopped = True
    return results


async def _cancel_all(tasks: set[asyncio.Task[None]]) -> None:
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
