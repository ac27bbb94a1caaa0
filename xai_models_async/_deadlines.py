"""Attempt deadlines: one event-loop timer per client instead of one per request.

aiohttp enforces ``ClientTimeout.total`` with machinery of its own on every request (a
``TimeoutHandle``, a ``TimerContext`` and a timer in the loop's heap, set and cancelled
each time), which measured at several percent of a small GET. The rule stays the same
here: an attempt still running at its deadline is cancelled, and the cancellation is
reported as a timeout. But one timer serves every attempt in flight: it is set for the
earliest deadline, so starting an attempt is a dict insert, finishing one a dict delete,
and the timer moves only when an attempt with an earlier deadline starts.

The mechanism is ``asyncio.timeout``'s, with public API only: ``Task.cancel()`` on the
attempt's task, and on the way out ``Task.uncancel()`` (3.11+), so that a cancellation
from outside that lands in the same loop pass still wins, and the task's cancellation
count is left as found. The cancellation carries no message of its own, so no other layer
(anyio's cancel scopes, a caller's ``asyncio.timeout``) ever sees one of ours.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Attempt", "Deadlines", "sleep_unless"]

# The loop runs timers this close to their time (asyncio's own _clock_resolution).
_RESOLUTION = time.get_clock_info("monotonic").resolution


class Attempt:
    """One attempt in flight: its task, its deadline (loop time), whether it ran out."""

    __slots__ = ("cancelling", "deadline", "expired", "task")

    def __init__(self, task: asyncio.Task[Any], deadline: float) -> None:
        self.task = task
        self.deadline = deadline
        self.expired = False
        # Cancellation requests already pending when the attempt started (3.11+).
        self.cancelling = 0
        if sys.version_info >= (3, 11):
            self.cancelling = task.cancelling()

    def timed_out(self) -> bool:
        """Called with a CancelledError in hand: True if it is this deadline's doing (and
        then the cancellation is taken back), False if it came from outside."""
        if not self.expired:
            return False
        if sys.version_info >= (3, 11):
            # More requests than ours: someone else cancelled too, and that must win.
            return self.task.uncancel() <= self.cancelling
        return True  # 3.10 cannot tell; the deadline did fire


class Deadlines:
    """The attempts in flight on one event loop, and the one timer that watches them."""

    __slots__ = ("_attempts", "_handle", "_loop", "_wake_at")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._attempts: dict[Attempt, None] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._wake_at = 0.0

    def __len__(self) -> int:
        return len(self._attempts)

    def start(self, task: asyncio.Task[Any], seconds: float) -> Attempt:
        """Watch an attempt of ``task`` that may take ``seconds`` at most."""
        deadline = self._loop.time() + seconds
        attempt = Attempt(task, deadline)
        self._attempts[attempt] = None
        if self._handle is None or deadline < self._wake_at:
            if self._handle is not None:
                self._handle.cancel()
            self._wake_at = deadline
            self._handle = self._loop.call_at(deadline, self._fire)
        return attempt

    def finish(self, attempt: Attempt) -> None:
        """The attempt is over, whatever its outcome. The timer is left as it is: when it
        fires with nothing due, it just moves on to the next deadline."""
        self._attempts.pop(attempt, None)

    def _fire(self) -> None:
        self._handle = None
        due = self._loop.time() + _RESOLUTION
        later = None
        for attempt in self._attempts:
            if attempt.expired:
                continue
            if attempt.deadline <= due:
                attempt.expired = True
                attempt.task.cancel()
            elif later is None or attempt.deadline < later:
                later = attempt.deadline
        if later is not None:
            self._wake_at = later
            self._handle = self._loop.call_at(later, self._fire)


async def sleep_unless(
    closing: asyncio.Future[None], sleep: Callable[[float], Awaitable[object]], delay: float
) -> bool:
    """``await sleep(delay)`` unless ``closing`` completes first: True when the sleep ran
    its course, False when ``closing`` cut it short (the sleep is then cancelled)."""
    sleeper = asyncio.ensure_future(sleep(delay))
    try:
        await asyncio.wait((sleeper, closing), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not sleeper.done():
            sleeper.cancel()
            await asyncio.wait((sleeper,))
    if closing.done():
        return False
    sleeper.result()
    return True
