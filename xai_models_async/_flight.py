"""Single-flight, as Go's ``singleflight.Group.Do``: identical calls in flight share one
execution and its outcome.

* The first caller (the leader) runs the execution inline, with a plain ``await``; callers
  that arrive while it runs (followers) each wait on a future of their own.
* The outcome is shared: every follower gets the leader's result, or the very exception
  instance the leader raised.
* A cancelled follower just stops waiting; nothing else changes.
* A cancelled leader aborts its execution (the cancellation runs through it, as through
  any ``await``) and leaves. Followers still waiting are woken and call again: the first of
  them becomes the new leader and the others follow it. That costs one more execution in
  that rare case, and no follower sees a ``CancelledError`` it did not cause.

Nothing here creates a task, and nothing runs outside the task that called: timeouts,
context variables and cancel scopes in the execution behave as in any coroutine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

__all__ = ["SingleFlight"]

T = TypeVar("T")

# What a woken follower receives when the leader left without an outcome: call again.
_AGAIN: Any = object()


class SingleFlight:
    """Concurrent calls with the same key share one execution (see the module docstring).
    ``len()`` is the number of executions in flight."""

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        # key -> the futures of the followers of the execution in flight under that key.
        self._calls: dict[Hashable, list[asyncio.Future[Any]]] = {}

    def __len__(self) -> int:
        return len(self._calls)

    async def do(self, key: Hashable, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """``await fn(*args)``, or the outcome of the identical call already in flight."""
        calls = self._calls
        followers = calls.get(key)
        while followers is not None:
            waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            followers.append(waiter)
            # A cancelled follower leaves its (cancelled) future behind: the leader skips
            # done futures, so leaving costs nothing, however many leave.
            outcome = await waiter
            if outcome is not _AGAIN:
                return outcome  # type: ignore[no-any-return]
            followers = calls.get(key)
        followers = calls[key] = []
        try:
            result = await fn(*args)
        except Exception as exc:
            _settle(calls, key, followers, error=exc)
            raise
        except BaseException:  # cancelled (or interrupted): the followers call again
            _settle(calls, key, followers, result=_AGAIN)
            raise
        _settle(calls, key, followers, result=result)
        return result


def _settle(
    calls: dict[Hashable, list[asyncio.Future[Any]]],
    key: Hashable,
    followers: list[asyncio.Future[Any]],
    *,
    result: Any = None,
    error: BaseException | None = None,
) -> None:
    # Forget the execution first: a woken follower calling again must find no leader.
    if calls.get(key) is followers:
        del calls[key]
    for waiter in followers:
        if waiter.done():  # its follower was cancelled
            continue
        if error is None:
            waiter.set_result(result)
        else:
            waiter.set_exception(error)
