"""Bounded fan-out for ``get_many`` and ``catalog``.

A batch of N calls with concurrency C must (a) keep at most C HTTP attempts in flight,
(b) give a slot back while a call sleeps before a retry, so other calls proceed, and
(c) not hold N tasks in memory at once. The dispatcher therefore starts a task only when
a slot is free and *prepays* that slot for the task's first attempt (a :class:`Ticket`);
a retry takes a slot again and gives it back before the next sleep. The ticket travels in
a context variable, so the retry loop finds it without every layer passing it along.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from xai_models_async._errors import XAIError

__all__ = ["Ticket", "current_ticket", "gather_bounded"]

T = TypeVar("T")


class Ticket:
    """One task's claim on its batch's slots: held from dispatch until its first attempt
    ends; then taken and given back per attempt. ``release`` is idempotent."""

    __slots__ = ("_held", "_slots")

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots
        self._held = True  # prepaid by the dispatcher

    async def acquire(self) -> None:
        if not self._held:
            await self._slots.acquire()
            self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots.release()


current_ticket: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar(
    "xai_models_async_ticket", default=None
)


async def gather_bounded(
    factories: Sequence[Callable[[], Awaitable[T]]],
    *,
    concurrency: int,
    return_exceptions: bool,
) -> list[Any]:
    """Run the factories' coroutines with at most ``concurrency`` HTTP attempts in flight.

    Results keep the order of ``factories``. Without ``return_exceptions`` the first
    failure stops the dispatch, cancels what runs, and is raised once everything has
    unwound; with it, each ``XAIError`` stands in its place (anything else is a bug and is
    raised). Cancelling the caller cancels every task and waits for them, so no task
    outlives the call.
    """
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an int >= 1, got {concurrency!r}")
    results: list[Any] = [None] * len(factories)
    slots = asyncio.Semaphore(concurrency)
    running: set[asyncio.Future[None]] = set()
    failures: list[BaseException] = []

    async def run(index: int, factory: Callable[[], Awaitable[T]], ticket: Ticket) -> None:
        try:
            results[index] = await factory()
        except XAIError as exc:
            if not return_exceptions:
                raise
            results[index] = exc
        finally:
            ticket.release()

    def finished(task: asyncio.Future[None]) -> None:
        running.discard(task)
        if not task.cancelled():
            exc = task.exception()  # also marks it retrieved
            if exc is not None and not failures:
                failures.append(exc)

    try:
        for index, factory in enumerate(factories):
            await slots.acquire()
            if failures:
                slots.release()
                break
            ticket = Ticket(slots)
            token = current_ticket.set(ticket)
            try:
                task = asyncio.ensure_future(run(index, factory, ticket))
            finally:
                current_ticket.reset(token)
            running.add(task)
            task.add_done_callback(finished)
        while running and not failures:
            await asyncio.wait(set(running), return_when=asyncio.FIRST_EXCEPTION)
        if failures:
            await _cancel_all(running)
            raise failures[0]
    except BaseException:
        await _cancel_all(running)
        raise
    return results


async def _cancel_all(tasks: set[asyncio.Future[None]]) -> None:
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
