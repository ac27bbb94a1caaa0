"""Single-flight: concurrent identical calls share one execution and its outcome.

It sits above the retry loop and knows nothing of HTTP: it takes a key and a coroutine
factory. The rules (issue 4):

* the first caller (the leader) starts the execution; callers that arrive while it runs
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

A move is safe only if nothing in the execution is tied to the leader's task. The attempt
deadline (:mod:`_deadlines`) is re-pointed by ``on_move``, and its cancellation (message
``DEADLINE_PASSED``) is always delivered, never taken for the leader's. What the guard
cannot tell apart is any other task-tied timeout inside the execution, such as aiohttp's
``connect``/``sock_connect``; an execution that may use them is not ``movable`` and runs
in a task of its own from the start (``detached``), as ``get_many`` calls do anyway.
"""

from __future__ import annotations

import asyncio
import collections.abc
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

    __slots__ = ("abandoned", "finished", "flights", "followers", "key", "task")

    def __init__(self, flights: dict[Hashable, _Flight], key: Hashable) -> None:
        self.flights = flights
        self.key = key
        self.followers: list[asyncio.Future[Any]] = []
        # The task running the execution, when it is not the leader's (detached or moved).
        self.task: asyncio.Task[None] | None = None
        # Set once the execution is being cancelled for good: a newcomer must start afresh
        # instead of joining it.
        self.abandoned = False
        self.finished = False

    def settle(self, error: BaseException | None, result: Any) -> None:
        """Hand the outcome to every follower still waiting; forget the flight."""
        self.finished = True
        # The task's coroutine (_Rest) points back here: no cycle left for the GC, which
        # showed as a third more peak memory in the fan-out benchmark.
        self.task = None
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

    def has_followers(self) -> bool:
        return any(not waiter.done() for waiter in self.followers)


class _Guard(_Flight):
    """The flight of an execution its leader runs inline (one object per call, not two).

    Runs the execution's coroutine in the leader's task, as ``await coro`` would, and
    stands in for each future the coroutine waits on (see the module's docstring).

    ``add_done_callback`` passes through to the real future, so the leader's task wakes on
    it directly. ``cancel`` applies the rules: without followers, or for the attempt
    deadline, the real future is cancelled, as if the task awaited it; with followers, the
    coroutine moves to a new task and the leader is woken with ``CancelledError``.
    """

    __slots__ = (
        "_asyncio_future_blocking", "_coro", "_leader_context", "_loop", "_on_move",
        "_waiting_on", "_wakeup", "deadline_pending", "moved",
    )

    def __init__(
        self,
        flights: dict[Hashable, _Flight],
        key: Hashable,
        coro: Coroutine[Any, Any, Any],
        on_move: OnMove | None,
    ) -> None:
        super().__init__(flights, key)
        self._loop = asyncio.get_running_loop()
        self._coro = coro
        self._on_move = on_move
        self._asyncio_future_blocking = False
        # The future the coroutine waits on now (None while it runs or yielded bare), and
        # the leader task's wake-up registered on it.
        self._waiting_on: Any = None
        self._wakeup: tuple[Callable[..., object], Any] | None = None
        # The leader task's context, as its wake-up is registered: a moved execution
        # carries on in a copy of it.
        self._leader_context: contextvars.Context | None = None
        # The leader's cancellation message, once the execution has moved away: (message,).
        self.moved: tuple[Any] | None = None
        # The deadline cancelled the leader's task while its future was already done: the
        # task delivers that cancellation at its next step, unless the execution moves.
        self.deadline_pending = False

    def __await__(self) -> Generator[Any, None, Any]:
        coro = self._coro
        try:
            yielded = coro.send(None)
            while True:
                self._waiting_on = yielded
                self._wakeup = None
                try:
                    if yielded is None:  # a bare yield (asyncio.sleep(0)): pass it on
                        yield None
                    else:
                        # What a task does with what it awaits; left set, the flag would
                        # stop any other task from awaiting the same future.
                        yielded._asyncio_future_blocking = False
                        self._asyncio_future_blocking = True
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
                        if isinstance(exc, asyncio.CancelledError):
                            # The task's pending cancellation, if any, is consumed too.
                            self.deadline_pending = False
                        yielded = coro.throw(exc)
                    continue
                if self.moved is not None:  # woken by the future just after the move
                    raise _cancelled(self.moved[0])
                yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value
        finally:
            self._waiting_on = None

    def _cancelled_while_running(self, exc: asyncio.CancelledError) -> Any:
        """A cancellation thrown into the leader's task without passing through cancel()
        (requested while the task was not waiting on a pending future)."""
        message = exc.args[0] if exc.args else None
        if self._decide(message) == "move":
            self._move(message, wake_leader=False)
            raise exc
        if message is DEADLINE_PASSED:
            self.deadline_pending = False  # delivered now
        return self._coro.throw(exc)

    def _decide(self, message: Any) -> str:
        """What a cancellation of the leader's task does: "cancel" or "move"."""
        if message is DEADLINE_PASSED:
            return "cancel"
        if not self.has_followers():
            self.abandoned = True
            return "cancel"
        return "move"

    def _move(self, message: Any, *, wake_leader: bool) -> None:
        """Carry the execution on in a new task; the leader leaves with CancelledError."""
        self.moved = (message,)
        waiting_on = self._waiting_on
        # The leader's task: the one whose wake-up this is (a task's own method), or, when
        # it is running, the current one.
        leader: Any = asyncio.current_task() if not wake_leader else None
        if self._wakeup is not None:
            wakeup, context = self._wakeup
            leader = getattr(wakeup, "__self__", leader)
            self._wakeup = None
            # Not yet fired: take the leader's wake-up off the future (the future now
            # belongs to the new task) and, if the leader is waiting, wake it now, with
            # result() raising. Already fired: the leader wakes anyway and sees `moved`.
            if waiting_on.remove_done_callback(wakeup) and wake_leader:
                self._loop.call_soon(wakeup, self, context=context)
        pending = waiting_on if waiting_on is not None and not waiting_on.done() else None
        # A deadline the leader's task had yet to deliver goes with the execution.
        rest = _Rest(self, self._coro, pending, deadline=self.deadline_pending)
        rest.ready = False
        # In (a copy of) the leader's context, as if the leader had started the task:
        # cancel() runs in the canceller's context, the rest in the leader's own.
        context = self._leader_context if wake_leader else None
        task = (self._loop.create_task(rest) if context is None
                else context.copy().run(self._loop.create_task, rest))
        self.task = task
        # A task of either implementation (the C one, or asyncio.tasks._PyTask).
        if self._on_move is not None and callable(getattr(leader, "get_coro", None)):
            self._on_move(leader, task)
        rest.ready = True

    # -- the Future protocol, as much of it as asyncio.Task uses on what it awaits -----

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def add_done_callback(self, fn: Callable[..., object], *, context: Any = None) -> None:
        self._waiting_on.add_done_callback(fn, context=context)
        self._wakeup = (fn, context)
        self._leader_context = context

    def cancel(self, msg: Any = None) -> bool:
        if self.moved is not None:
            return True  # already moved away; the leader is being woken to leave
        if self._decide(msg) == "move":
            self._move(msg, wake_leader=True)
            return True
        cancelled: bool = self._waiting_on.cancel(msg)
        if not cancelled and msg is DEADLINE_PASSED:
            self.deadline_pending = True
        return cancelled

    def result(self) -> Any:
        if self.moved is not None:
            raise _cancelled(self.moved[0])
        return self._waiting_on.result()

    def __repr__(self) -> str:
        return f"<single-flight guard of {self._waiting_on!r}>"


class _Rest(collections.abc.Coroutine):  # type: ignore[type-arg]
    """An execution run by a task of its own, which settles the flight however it ends.

    A coroutine object written out rather than an ``async def``, because a task may be
    cancelled before its first step, and an ``async def`` would then never run its body:
    here that first cancellation goes into the execution like any other. ``coro`` is a
    fresh coroutine (``detached``) or one suspended on ``pending`` (moved), and
    ``deadline`` delivers a deadline's cancellation first.
    """

    __slots__ = ("_coro", "_deadline", "_flight", "_pending", "ready")

    def __init__(
        self,
        flight: _Flight,
        coro: Coroutine[Any, Any, Any],
        pending: Any = None,
        *,
        deadline: bool = False,
    ) -> None:
        self._flight = flight
        self._coro = coro
        self._pending = pending
        self._deadline = deadline
        # False until _move has told on_move: an eager task factory runs the first step
        # inside create_task(), before the attempt deadline points at the new task.
        self.ready = True

    def send(self, value: Any) -> Any:
        if not self.ready:  # started eagerly inside _move: step on the next pass
            self.ready = True
            return None
        pending, self._pending = self._pending, None
        if self._deadline:
            self._deadline = False
            return self._step(self._coro.throw, asyncio.CancelledError(DEADLINE_PASSED))
        if pending is not None and not pending.done():
            pending._asyncio_future_blocking = True  # as Future.__await__ leaves it
            return pending
        return self._step(self._coro.send, None)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self._pending = None
        self._deadline = False
        exc = typ if val is None and isinstance(typ, BaseException) else typ(val)
        return self._step(self._coro.throw, exc)

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, None]:
        return self  # type: ignore[return-value]

    def _step(self, method: Callable[[Any], Any], arg: Any) -> Any:
        try:
            return method(arg)
        except StopIteration as stop:
            self._flight.settle(None, stop.value)
            raise StopIteration from None
        except asyncio.CancelledError as exc:
            self._flight.settle(exc, None)
            raise
        except BaseException as exc:
            # Delivered to every follower, never raised here: nobody awaits this task, and
            # asyncio would log "Task exception was never retrieved".
            self._flight.settle(exc, None)
            raise StopIteration from None


def _outcome_of(fut: Any, exc: BaseException) -> bool:
    """Whether ``exc``, thrown into the leader's task, is ``fut``'s own outcome."""
    if fut is None:  # a bare yield has no outcome: the exception came from the task
        return False
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
        factory: Callable[..., Coroutine[Any, Any, T]],
        *args: Any,
        movable: bool = True,
        detached: bool = False,
        then: Callable[[T], Awaitable[object]] | None = None,
    ) -> T:
        """``factory(*args)``'s outcome, shared with identical calls in flight.

        ``movable``: nothing in the execution is tied to its task (else it is detached).
        ``detached``: run it in a task of its own from the start. ``then(result)`` is
        awaited by the caller that started the execution, in its own task, after the
        others have the result (not if it was cancelled): for work such as a cache write,
        which must not sit inside the shared execution.
        """
        flights = self._flights
        flight = flights.get(key)
        if flight is not None and not flight.abandoned:
            then = None
            waiter = _join(flight)
        else:
            coro = factory(*args)
            if movable and not detached:  # the leader runs it (one frame less per step)
                guard = flights[key] = _Guard(flights, key, coro, self._on_move)
                try:
                    value: T = await guard
                except BaseException as exc:
                    if guard.moved is None:
                        guard.settle(exc, None)
                    raise
                guard.settle(None, value)
                if then is not None:
                    await then(value)
                return value
            flight = flights[key] = _Flight(flights, key)
            waiter = _join(flight)
            # Not started eagerly (3.12+ could): in a batch, the first steps of many calls
            # then run back to back, which measured faster for fan-out (issue 6).
            flight.task = asyncio.get_running_loop().create_task(_Rest(flight, coro))
        try:
            result: T = await waiter
        except asyncio.CancelledError:
            if waiter in flight.followers:
                flight.followers.remove(waiter)
            if not flight.finished and not flight.has_followers():
                await _abandon(flight)
            raise
        if then is not None:
            await then(result)
        return result


def _join(flight: _Flight) -> asyncio.Future[Any]:
    waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    flight.followers.append(waiter)
    return waiter


async def _abandon(flight: _Flight) -> None:
    """The last follower left: if the execution runs in a task of its own (the leader is
    gone, or it was detached), cancel it and wait until it has unwound."""
    task = flight.task
    if task is not None and not task.done():
        flight.abandoned = True
        task.cancel()
        await asyncio.wait((task,))
