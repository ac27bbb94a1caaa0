"""``SingleFlight`` on its own (Go's ``singleflight.Group.Do``): what callers share, what a
cancellation does, and what it costs. No client, no server: fake executions gated by
events, so every interleaving is written down, not hoped for."""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from xai_models_async._flight import SingleFlight


class Boom(Exception):
    pass


class Interrupt(BaseException):
    """Not an outcome (as KeyboardInterrupt, which asyncio would let out of the loop)."""


@pytest_asyncio.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What reaches the loop's exception handler ("exception was never retrieved", "Task
    was destroyed but it is pending!"), collected after a gc at the end of the test."""
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: seen.append(context))
    yield seen
    gc.collect()
    loop.set_exception_handler(previous)
    assert seen == []


class Execution:
    """An execution held until ``release()``; counts how often it started."""

    def __init__(self) -> None:
        self.started = 0
        self.gate = asyncio.Event()
        self.outcome: object = None

    async def __call__(self, value: object) -> tuple[object, int]:
        self.started += 1
        await self.gate.wait()
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return (value, self.started)  # a new object per execution

    def release(self, outcome: object = None) -> None:
        self.outcome = outcome
        self.gate.set()


async def spawn(flights: SingleFlight, run: Execution, n: int) -> list[asyncio.Task[Any]]:
    """``n`` identical calls; the first is the leader. Returns once all of them wait."""
    tasks = [asyncio.ensure_future(flights.do("k", run, "v")) for _ in range(n)]
    await asyncio.sleep(0)
    assert run.started == 1
    return tasks


@pytest.mark.parametrize("outcome", [None, Boom("shared")], ids=["result", "error"])
async def test_every_caller_gets_the_same_outcome_object(
    outcome: BaseException | None, loop_errors: list[dict[str, Any]]
) -> None:
    flights, run = SingleFlight(), Execution()
    tasks = await spawn(flights, run, 5)
    run.release(outcome)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert run.started == 1
    assert all(r is results[0] for r in results)  # one object / one exception instance
    assert results[0] is outcome if outcome is not None else results[0] == ("v", 1)
    assert len(flights) == 0


# When the followers' cancellation lands, relative to the leader's outcome.
BEFORE, SAME_PASS = "before the outcome", "after the outcome, before they resume"


@pytest.mark.parametrize("outcome", [None, Boom("x")], ids=["result", "error"])
@pytest.mark.parametrize("when", [BEFORE, SAME_PASS])
async def test_a_cancelled_follower_just_stops_waiting(
    outcome: BaseException | None, when: str, loop_errors: list[dict[str, Any]]
) -> None:
    flights, run = SingleFlight(), Execution()
    tasks = await spawn(flights, run, 5)
    leaving = tasks[1:3]
    if when == BEFORE:
        for task in leaving:
            task.cancel()
        await asyncio.sleep(0)
        run.release(outcome)
    else:
        # Scheduled from inside the execution: runs after the leader has settled every
        # follower's future and before any follower resumes.
        loop = asyncio.get_running_loop()
        loop.call_soon(lambda: [task.cancel() for task in leaving])
        run.release(outcome)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert run.started == 1
    assert [type(r) for r in results[1:3]] == [asyncio.CancelledError] * 2
    stayed = [results[0], *results[3:]]
    assert all(r is stayed[0] for r in stayed)
    assert len(flights) == 0
    # Nothing keeps the followers' futures (an unretrieved error is logged at gc).


async def test_a_cancelled_leader_lets_the_first_follower_lead() -> None:
    """Go's rule: the leader's cancellation runs through its execution; the waiting
    followers call again, the first becomes the leader, the rest follow it: one more
    execution, and no follower sees a CancelledError it did not cause."""
    flights, run = SingleFlight(), Execution()
    tasks = await spawn(flights, run, 5)
    tasks[0].cancel()
    await asyncio.sleep(0)
    assert tasks[0].cancelled()
    await asyncio.sleep(0)  # the woken followers call again
    assert run.started == 2
    assert len(flights) == 1
    run.release()
    results = await asyncio.gather(*tasks[1:])
    assert all(r is results[0] for r in results)
    assert results[0] == ("v", 2)  # the second execution's result
    assert len(flights) == 0


async def test_a_cancelled_leader_whose_followers_all_left_starts_nothing() -> None:
    flights, run = SingleFlight(), Execution()
    tasks = await spawn(flights, run, 3)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert all(task.cancelled() for task in tasks)
    assert run.started == 1
    assert len(flights) == 0


async def test_distinct_keys_do_not_share() -> None:
    flights, run = SingleFlight(), Execution()
    tasks = [asyncio.ensure_future(flights.do(key, run, key)) for key in "abc"]
    await asyncio.sleep(0)
    assert run.started == 3
    assert len(flights) == 3
    run.release()
    assert [r[0] for r in await asyncio.gather(*tasks)] == ["a", "b", "c"]


async def test_no_task_is_created() -> None:
    """The leader runs the execution inline and followers wait on plain futures: while
    an execution runs and is shared, the loop has exactly the tasks the test made."""
    flights = SingleFlight()
    seen: list[int] = []

    async def execution() -> int:
        seen.append(len(asyncio.all_tasks()))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        seen.append(len(asyncio.all_tasks()))
        return 1

    before = len(asyncio.all_tasks())
    assert await flights.do("k", execution) == 1  # inline, in this very task
    assert seen == [before, before]
    seen.clear()
    followers = [asyncio.ensure_future(flights.do("k", execution)) for _ in range(3)]
    assert await flights.do("k", execution) == 1  # this task leads, three follow
    assert await asyncio.gather(*followers) == [1, 1, 1]
    assert seen == [before + 3, before + 3]
    assert len(asyncio.all_tasks()) == before


async def test_an_interrupted_leader_also_wakes_its_followers() -> None:
    """A BaseException that is not an Exception is not an outcome: it counts as the
    leader leaving, and the followers call again rather than receive it."""
    flights = SingleFlight()
    gate = asyncio.Event()
    calls = 0

    async def execution() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        if calls == 1:
            raise Interrupt
        return calls

    leader = asyncio.ensure_future(flights.do("k", execution))
    await asyncio.sleep(0)
    follower = asyncio.ensure_future(flights.do("k", execution))
    await asyncio.sleep(0)
    gate.set()
    with pytest.raises(Interrupt):
        await leader
    assert await follower == 2


N = 40_000


@pytest.mark.skipif(sys.gettrace() is not None, reason="timing under a tracer is noise")
async def test_cancelling_many_waiters_costs_what_plain_futures_cost() -> None:
    """Issue 10: cancelling 40,000 waiters of one shared call took 22.5 s (O(N^2)); 40,000
    tasks on plain futures take ~0.2 s. Compared in the same run as a ratio, so a slow
    machine slows both: a quadratic cost would be >100x here."""

    async def cancel_all(tasks: list[asyncio.Task[Any]]) -> float:
        await asyncio.sleep(0)  # every task is waiting now
        started = time.perf_counter()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return time.perf_counter() - started

    loop = asyncio.get_running_loop()
    plain = await cancel_all([asyncio.ensure_future(loop.create_future()) for _ in range(N)])

    flights, run = SingleFlight(), Execution()
    tasks = [asyncio.ensure_future(flights.do("k", run, "v")) for _ in range(N)]
    shared = await cancel_all(tasks)
    assert all(task.cancelled() for task in tasks)
    assert run.started == 1
    assert len(flights) == 0
    assert shared < 20 * plain + 0.05, (shared, plain)
    assert shared < 5.0, shared
