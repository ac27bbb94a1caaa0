"""Attempt deadlines: one event-loop timer per client instead of one per request.

aiohttp enforces ``ClientTimeout.total`` with machinery of its own on every request (a
``TimeoutHandle``, a ``TimerContext`` and a timer in the loop's heap, set and cancelled
each time). On the 2-core machine of the benchmarks that cost about 15 us of a 190 us GET,
8% of every call (issue 6). The rule stays the same here: an attempt still running at
its deadline is cancelled, and the cancellation is reported as a timeout. But one timer
per client serves every attempt in flight: it is set for the earliest deadline, so
starting an attempt is a dict insert and finishing one a dict delete, and the timer moves
only when an attempt with an earlier deadline starts.

The mechanism is the one ``asyncio.timeout`` uses: ``Task.cancel()`` on the attempt's task,
then, on the way out, ``Task.uncancel()`` (3.11+), so that a cancellation from outside that
arrives at the same time still wins, and the task's cancellation count is left as found.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

__all__ = ["DEADLINE_PASSED", "Attempt", "Deadlines"]

#: The message of the cancellation a deadline sends; single-flight never defers this one.
DEADLINE_PASSED = "xai_models_async: the attempt's deadline passed"

# The loop runs timers this close to their time (asyncio's own _clock_resolution).
_RESOLUTION = time.get_clock_info("monotonic").resolution


class Attempt:
    """One attempt in flight: its task, its deadline (loop time), whether it ran out."""

    __slots__ = ("cancelling", "deadline", "expired", "handed_over", "task")

    def __init__(self, task: asyncio.Task[Any], deadline: float) -> None:
        self.task = task
        self.deadline = deadline
        self.expired = False
        # Expired, then moved to another task: the cancellation was taken back from the
        # task it went to, and the new one delivers it (see Deadlines.retarget).
        self.handed_over = False
        # Cancellation requests already pending when the attempt started (3.11+).
        self.cancelling = 0
        if sys.version_info >= (3, 11):
            self.cancelling = task.cancelling()

    def timed_out(self) -> bool:
        """Called with a CancelledError in hand: True if it is this deadline's doing (and
        then the cancellation is taken back), False if it came from outside."""
        if not self.expired:
            return False
        if self.handed_over:
            return True
        if sys.version_info >= (3, 11):
            # More requests than ours: someone else cancelled too, and that must win.
            return self.task.uncancel() <= self.cancelling
        return True


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
            self._schedule(deadline)
        return attempt

    def finish(self, attempt: Attempt) -> None:
        """The attempt is over (whatever its outcome); expired ones stay until then, so
        that ``retarget`` still finds them. The timer is left as it is: when it fires with
        nothing due, it just moves on to the next deadline."""
        self._attempts.pop(attempt, None)

    def retarget(self, old: asyncio.Task[Any], new: asyncio.Task[Any]) -> None:
        """An attempt of ``old`` now runs in ``new`` (single-flight moved it there)."""
        for attempt in self._attempts:
            if attempt.task is not old:
                continue
            attempt.task = new
            attempt.cancelling = 0  # a fresh task: no cancellation pending
            if attempt.expired and not attempt.handed_over:
                # The deadline already cancelled `old`; the execution, now in `new`, is
                # told by single-flight. Take the cancellation back from `old`, which
                # leaves with its own.
                attempt.handed_over = True
                if sys.version_info >= (3, 11):
                    old.uncancel()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._attempts.clear()

    def _schedule(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._wake_at = when
        self._handle = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        due = self._loop.time() + _RESOLUTION
        waiting = [a for a in self._attempts if not a.expired]
        for attempt in waiting:
            if attempt.deadline <= due:
                attempt.expired = True
                attempt.task.cancel(DEADLINE_PASSED)
        later = [a.deadline for a in waiting if not a.expired]
        if later:
            self._schedule(min(later))
