"""Single-flight: concurrent identical calls share one execution and its outcome.

It sits above the retry loop and knows nothing of HTTP: it takes a key and a coroutine
factory. The rules (issue 4):

* the first caller (the leader) runs the execution; callers that arrive while it runs
  (followers) wait for its outcome. Errors are shared like results: every waiter receives
  the same exception instance;
* a cancelled waiter does not cancel the shared execution while others still wait: a
  cancelled follower just stops waiting, and a cancelled leader leaves at once while the
  execution carries on, in a task of its own, for the followers;
* when the last waiter is cancelled, the execution is cancelled too, and that waiter's
  cancellation completes only once the execution has unwound (its HTTP request aborted);
  a caller arriving after that starts a fresh execution.

How, and why: the leader runs the execution inline, in its own task. Handing the work to
another task and back costs two event-loop passes, measured at 10-20% of a small ``get``
(issue 6); a task of its own is created only in the rare case above. The leader's task
awaits the execution through :class:`_Guard`, which passes every future straight through
(the task waits on the very future aiohttp waits on, and wakes with no extra pass) but
stands in for it in ``Task.cancel()``: asyncio's Future protocol is duck-typed, and a task
calls ``cancel()`` on whatever it awaits. That is where a cancellation of the leader is
turned into a move of the execution to a new task while followers wait.

A move is safe because nothing in the execution is tied to the leader's task: the attempt
deadline (:mod:`_deadlines`) is re-pointed by ``on_move``, and aiohttp's own
task-cancelling timeouts are off (``total`` is ours). When the caller sets aiohttp's
``connect``/``sock_connect`` timeouts, which are tied to the task, the execution is not
``movable``: the leader's cancellation then waits, while others share the execution, until
it ends (bounded by the timeout and retry policy), and the leader raises
``CancelledError`` then. The deadline's own cancellation is never held back.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Coroutine, Generator, Hashable
from typing import Any, TypeVar

from xai_models_async._deadlines import DEADLINE_PASSED

__all__ = ["SingleFlight"]

T = TypeVar("T")

#: Called as ``on_move(leader_task, new_task)`` when an execution changes task.
OnMove = Callable[["asyncio.Task[Any]", "asyncio.Task[Any]"], None]


class _Flight:
    """One shared execution: who waits for it and how it ended."""

    __slots__ = (
        "abandoned", "finished", "flights", "followers", "guard", "key", "task", "unwound",
    )

    def __init__(self, flights: dict[Hashable, _Flight], key: Hashable) -> None:
        self.flights = flights
        self.key = key
        self.followers: list[asyncio.Future[Any]] = []
        self.guard: _Guard | None = None
        # The task the execution moved to, if the leader was cancelled.
        self.task: asyncio.Task[None] | None = None
        # Set once the execution is being cancelled for good: a newcomer must start afresh
        # instead of joining it.
        self.abandoned = False
        self.finished = False
        # Completed when a held-back execution (not movable) has unwound; created only
        # when the last follower must wait for that.
        self.unwound: asyncio.Future[None] | None = None

    def settle(self, error: BaseException | None, result: Any) -> None:
        """Hand the outcome to every follower still waiting; forget the flight."""
        self.finished = True
        self.guard = None  # the guard points back here: no cycle left for the GC
        for waiter in self.followers:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(result)
            elif isinstance(error, asyncio.CancelledError):
                waiter.cancel()
            else:
                waiter.set_exception(error)
        self.followers.clear()
        if self.flights.get(self.key) is self:
            del self.flights[self.key]
        if self.unwound is not None and not self.unwound.done():
            self.unwound.set_result(None)

    def has_followers(self) -> bool:
        return any(not waiter.done() for waiter in self.followers)

    def abandoning(self) -> bool:
        """Whether a waiter that just left was the last one."""
        return not self.finished and not self.has_followers()


class _Guard:
    """Runs the execution's coroutine in the leader's task, as ``await coro`` would, and
    stands in for each future the coroutine waits on (see the module's docstring).

    ``add_done_callback`` passes through to the real future, so the leader's task wakes on
    it directly. ``cancel`` applies the rules: no followers (or the attempt deadline):
    cancel the real future, as if the task awaited it; followers and ``movable``: move the
    coroutine to a new task and wake the leader with ``CancelledError``; followers and not
    movable: hold the cancellation back until the execution ends.
    """

    __slots__ = (
        "_asyncio_future_blocking", "_coro", "_flight", "_leader_context", "_loop", "_on_move",
        "_task",
        "_waiting_on", "_wakeup", "abort_pending", "deferred", "movable", "moved",
    )

    def __init__(
        self,
        flight: _Flight,
        coro: Coroutine[Any, Any, Any],
        *,
        movable: bool,
        on_move: OnMove | None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        # The leader task's context, as its wake-up is registered: a moved execution
        # carries on in a copy of it.
        self._leader_context: contextvars.Context | None = None
        self._flight = flight
        self._coro = coro
        self._on_move = on_move
        self.movable = movable and self._task is not None
        self._asyncio_future_blocking = False
        # The future the coroutine waits on now (None while it runs or yielded bare), and
        # the leader task's wake-up registered on it.
        self._waiting_on: Any = None
        self._wakeup: tuple[Callable[..., object], Any] | None = None
        # The leader's cancellation message, once moved away or held back: (message,).
        self.moved: tuple[Any] | None = None
        self.deferred: tuple[Any] | None = None
        # Set when a held-back execution must be cancelled at its next step (abort()).
        self.abort_pending = False

    def __await__(self) -> Generator[Any, None, Any]:
        coro = self._coro
        try:
            yielded = coro.send(None)
            while True:
                self._waiting_on = yielded
                self._wakeup = None
                if yielded is None:  # a bare yield (asyncio.sleep(0)): pass it on
                    try:
                        yield None
                    except asyncio.CancelledError as exc:
                        yielded = self._cancelled_while_running(exc)
                        continue
                    except GeneratorExit:
                        coro.close()
                        raise
                    except BaseException as exc:
                        yielded = coro.throw(exc)
                        continue
                else:
                    self._asyncio_future_blocking = True
                    try:
                        yield self
                    except GeneratorExit:
                        if self.moved is None:
                            coro.close()
                        raise
                    except BaseException as exc:
                        if self.moved is not None:
                            raise _cancelled(self.moved[0]) from None
                        if (isinstance(exc, asyncio.CancelledError)
                                and not _outcome_of(yielded, exc)):
                            yielded = self._cancelled_while_running(exc)
                        else:  # the future's own outcome: the coroutine awaited it
                            yielded = coro.throw(exc)
                        continue
                if self.moved is not None:  # woken by the future just after the move
                    raise _cancelled(self.moved[0])
                if self.abort_pending:
                    self.abort_pending = False
                    yielded = coro.throw(asyncio.CancelledError())
                else:
                    yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value
        finally:
            self._waiting_on = None

    def _cancelled_while_running(self, exc: asyncio.CancelledError) -> Any:
        """A cancellation thrown into the leader's task without passing through cancel()
        (requested while the task was not waiting on a future)."""
        message = exc.args[0] if exc.args else None
        action = self._decide(message)
        if action == "move":
            self._move(message, wake_leader=False)
            raise exc
        if action == "hold":
            return self._coro.send(None)  # the coroutine was only paused: go on
        return self._coro.throw(exc)

    def _decide(self, message: Any) -> str:
        """What a cancellation of the leader does: "cancel", "move" or "hold"."""
        flight = self._flight
        if message is DEADLINE_PASSED:
            return "cancel"
        if not flight.has_followers():
            flight.abandoned = True
            return "cancel"
        if self.movable:
            return "move"
        if self.deferred is None:
            self.deferred = (message,)
        return "hold"

    def _move(self, message: Any, *, wake_leader: bool) -> None:
        """Carry the execution on in a new task; the leader leaves with CancelledError."""
        self.moved = (message,)
        flight = self._flight
        waiting_on = self._waiting_on
        if self._wakeup is not None:
            wakeup, context = self._wakeup
            self._wakeup = None
            # Not yet fired: take the leader's wake-up off the future (the future now
            # belongs to the new task) and, if the leader is waiting, wake it now, with
            # result() raising. Already fired: the leader wakes anyway and sees `moved`.
            if waiting_on.remove_done_callback(wakeup) and wake_leader:
                self._loop.call_soon(wakeup, self, context=context)
        pending = waiting_on if waiting_on is not None and not waiting_on.done() else None
        # In (a copy of) the leader's context, as if the leader had started the task:
        # cancel() runs in the canceller's context, the rest in the leader's own.
        rest = _carry_on(flight, _Resume(self._coro, pending))
        context = self._leader_context if wake_leader else None
        task = (self._loop.create_task(rest) if context is None
                else context.run(self._loop.create_task, rest))
        flight.task = task
        if self._on_move is not None and self._task is not None:
            self._on_move(self._task, task)

    def abort(self) -> None:
        """The last follower left a held-back execution: cancel it now."""
        self._flight.abandoned = True
        waiting_on = self._waiting_on
        if waiting_on is not None and not waiting_on.done():
            waiting_on.cancel()
        else:
            self.abort_pending = True

    # -- the Future protocol, as asyncio.Task uses it on what it awaits -----------------

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def add_done_callback(self, fn: Callable[..., object], *, context: Any = None) -> None:
        self._waiting_on.add_done_callback(fn, context=context)
        self._wakeup = (fn, context)
        self._leader_context = context

    def remove_done_callback(self, fn: Callable[..., object]) -> int:
        removed: int = self._waiting_on.remove_done_callback(fn)
        return removed

    def cancel(self, msg: Any = None) -> bool:
        if self.moved is not None:
            return True  # already moved away; the leader is being woken to leave
        action = self._decide(msg)
        if action == "cancel":
            cancelled: bool = self._waiting_on.cancel(msg)
            return cancelled
        if action == "move":
            self._move(msg, wake_leader=True)
        return True  # moved, or held back until the execution ends

    def cancelled(self) -> bool:
        return self.moved is not None or bool(self._waiting_on.cancelled())

    def done(self) -> bool:
        return self.moved is not None or bool(self._waiting_on.done())

    def result(self) -> Any:
        if self.moved is not None:
            raise _cancelled(self.moved[0])
        return self._waiting_on.result()

    def exception(self) -> BaseException | None:
        if self.moved is not None:
            raise _cancelled(self.moved[0])
        exception: BaseException | None = self._waiting_on.exception()
        return exception

    def __repr__(self) -> str:
        return f"<single-flight guard of {self._waiting_on!r}>"


class _Resume:
    """``await`` for a coroutine that is already suspended on ``pending`` (or paused)."""

    __slots__ = ("_coro", "_pending")

    def __init__(self, coro: Coroutine[Any, Any, Any], pending: Any) -> None:
        self._coro = coro
        self._pending = pending

    def __await__(self) -> Generator[Any, None, Any]:
        coro = self._coro
        try:
            yielded = self._pending if self._pending is not None else coro.send(None)
            while True:
                try:
                    yield yielded
                except GeneratorExit:
                    coro.close()
                    raise
                except BaseException as exc:
                    yielded = coro.throw(exc)
                else:
                    yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value


async def _carry_on(flight: _Flight, work: Awaitable[Any]) -> None:
    """An execution in a task of its own: from the start (``detached``), or the rest of
    one whose leader was cancelled (then ``work`` is a :class:`_Resume`)."""
    try:
        result = await work
    except asyncio.CancelledError as exc:
        flight.settle(exc, None)
        raise
    except BaseException as exc:
        # Delivered to every follower, never raised here: nobody awaits this task, and
        # asyncio would log "Task exception was never retrieved".
        flight.settle(exc, None)
    else:
        flight.settle(None, result)


def _outcome_of(fut: Any, exc: BaseException) -> bool:
    """Whether ``exc``, thrown into the leader's task, is ``fut``'s own outcome."""
    try:
        if not fut.done():
            return False
        if fut.cancelled():
            return True
        return fut.exception() is exc
    except Exception:  # a foreign future-like object that answers oddly
        return True


def _cancelled(message: Any) -> asyncio.CancelledError:
    return asyncio.CancelledError() if message is None else asyncio.CancelledError(message)


class SingleFlight:
    """Concurrent calls with the same key share one execution and its outcome (see the
    module's docstring for the rules). ``on_move`` hears of an execution changing task."""

    __slots__ = ("_flights", "_on_move")

    def __init__(self, on_move: OnMove | None = None) -> None:
        self._flights: dict[Hashable, _Flight] = {}
        self._on_move = on_move

    def __len__(self) -> int:
        return len(self._flights)

    async def run(
        self,
        key: Hashable,
        factory: Callable[[], Coroutine[Any, Any, T]],
        *,
        movable: bool = True,
        detached: bool = False,
    ) -> T:
        """``factory()``'s outcome, shared with identical calls in flight. ``movable``:
        the execution may continue in another task (nothing in it is tied to its task).
        ``detached``: run it in a task of its own from the start (see ``get_many``)."""
        flights = self._flights
        flight = flights.get(key)
        if flight is None or flight.abandoned:
            flight = flights[key] = _Flight(flights, key)
            if not detached:  # the leader runs it (one function: one frame less per step)
                guard = flight.guard = _Guard(flight, factory(), movable=movable,
                                              on_move=self._on_move)
                try:
                    value: T = await guard
                except BaseException as exc:
                    if guard.moved is None:
                        flight.settle(exc, None)
                    if guard.deferred is not None and not isinstance(
                            exc, asyncio.CancelledError):
                        raise _cancelled(guard.deferred[0]) from None
                    raise
                flight.settle(None, value)
                if guard.deferred is not None:
                    raise _cancelled(guard.deferred[0])
                return value
            waiter = _join(flight)
            # Not started eagerly (3.12+ could): in a batch, the first steps of many calls
            # then run back to back, which measured faster for fan-out (issue 6).
            flight.task = asyncio.get_running_loop().create_task(_carry_on(flight, factory()))
        else:
            waiter = _join(flight)
        try:
            result: T = await waiter
        except asyncio.CancelledError:
            _leave(flight, waiter)
            if flight.abandoning():
                await _abandon(flight)
            raise
        return result


def _join(flight: _Flight) -> asyncio.Future[Any]:
    waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    flight.followers.append(waiter)
    return waiter


def _leave(flight: _Flight, waiter: asyncio.Future[Any]) -> None:
    if waiter in flight.followers:
        flight.followers.remove(waiter)


async def _abandon(flight: _Flight) -> None:
    """The last follower left: if the leader is gone too (or the execution runs in a task
    of its own), cancel the execution and wait until it has unwound."""
    task = flight.task
    if task is not None:
        if not task.done():
            flight.abandoned = True
            task.cancel()
            await asyncio.wait((task,))
        return
    guard = flight.guard
    if guard is not None and guard.deferred is not None and not flight.abandoned:
        if flight.unwound is None:
            flight.unwound = asyncio.get_running_loop().create_future()
        unwound = flight.unwound
        guard.abort()
        await asyncio.wait((unwound,))
