"""Attempt deadlines: one timer per client enforces ``total`` (see ``_deadlines``).

The unit tests drive ``Deadlines`` with tasks that wait on plain futures and deadlines of a
few milliseconds; the end-to-end tests use the fake server's ``Fault.slow``. Nothing waits
for more than a fraction of a second.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import pytest

import xai_models_async as xm
from tests.conftest import API_KEY, FakeSleep
from xai_models_async._deadlines import Deadlines
from xai_models_async.testing import FakeXAIServer, Fault

needs_cancel_counts = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="Task.cancelling()/uncancel() arrived in 3.11"
)


async def attempt_of(deadlines: Deadlines, seconds: float, outcome: list[str]) -> None:
    """What ``AsyncClient._fetch`` does around one attempt, waiting on a future that never
    completes."""
    task = asyncio.current_task()
    assert task is not None
    watch = deadlines.start(task, seconds)
    try:
        await asyncio.get_running_loop().create_future()
    except asyncio.CancelledError:
        if not watch.timed_out():
            outcome.append("cancelled")
            raise
        outcome.append("timed out")
    finally:
        deadlines.finish(watch)


async def test_an_attempt_past_its_deadline_is_cancelled_and_reported() -> None:
    deadlines = Deadlines(asyncio.get_running_loop())
    outcome: list[str] = []
    task = asyncio.create_task(attempt_of(deadlines, 0.01, outcome))
    await asyncio.wait_for(task, 1.0)
    assert outcome == ["timed out"]
    assert not task.cancelled()
    assert len(deadlines) == 0
    if sys.version_info >= (3, 11):
        assert task.cancelling() == 0  # the deadline's cancellation was taken back


async def test_each_attempt_keeps_its_own_deadline() -> None:
    deadlines = Deadlines(asyncio.get_running_loop())
    loop = asyncio.get_running_loop()
    ended: dict[float, float] = {}

    async def timed(seconds: float) -> None:
        started = loop.time()
        await attempt_of(deadlines, seconds, [])
        ended[seconds] = loop.time() - started

    # The longest starts first, so the timer must move earlier twice.
    await asyncio.wait_for(asyncio.gather(timed(0.3), timed(0.1), timed(0.02)), 2.0)
    for seconds, took in ended.items():
        assert seconds - 0.005 <= took < seconds + 0.15, (seconds, took)
    assert len(deadlines) == 0


async def test_a_finished_attempt_is_never_cancelled() -> None:
    deadlines = Deadlines(asyncio.get_running_loop())
    task = asyncio.current_task()
    assert task is not None
    watch = deadlines.start(task, 0.01)
    deadlines.finish(watch)
    await asyncio.sleep(0.03)  # past the deadline: the timer fires with nothing due
    assert not watch.expired
    assert len(deadlines) == 0


@needs_cancel_counts
async def test_a_cancellation_from_outside_wins_over_the_deadline() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    outcome: list[str] = []
    task = asyncio.create_task(attempt_of(deadlines, 0.01, outcome))
    await asyncio.sleep(0)  # the attempt has started: its deadline is 10 ms away
    # An outside cancellation due just after the deadline; holding the loop past both
    # makes them fire in the same pass, the deadline first, before the task runs again.
    loop.call_at(loop.time() + 0.012, task.cancel)
    time.sleep(0.03)  # noqa: ASYNC251 - blocking on purpose, see above
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcome == ["cancelled"]


async def test_close_stops_the_timer() -> None:
    deadlines = Deadlines(asyncio.get_running_loop())
    outcome: list[str] = []
    task = asyncio.create_task(attempt_of(deadlines, 0.01, outcome))
    await asyncio.sleep(0)
    deadlines.close()
    await asyncio.sleep(0.03)
    assert outcome == []  # nothing fired
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert outcome == ["cancelled"]


# -- end to end, through AsyncClient --------------------------------------------------


def make_client(server: FakeXAIServer, **kwargs: Any) -> xm.AsyncClient:
    kwargs.setdefault("sleep", FakeSleep())
    return xm.AsyncClient(api_key=API_KEY, base_url=server.url, **kwargs)


async def test_a_shorter_per_call_timeout_fires_first(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(0.3), path="/v1/models", times=1)
    async with make_client(server, timeout=30, retry=xm.RetryPolicy.none()) as c:
        # A long attempt is in flight first, so the client's timer is set 30 s out.
        slow = asyncio.create_task(c.models.list())
        await asyncio.sleep(0.01)
        server.inject(Fault.slow(1.0), path="/v1/language-models", times=1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(xm.APITimeoutError) as info:
            await c.language_models.list(timeout=0.05)
        assert loop.time() - started < 0.25
        assert info.value.attempts == 1
        assert await slow  # the long attempt was left alone


@needs_cancel_counts
async def test_a_timeout_leaves_the_callers_task_uncancelled(server: FakeXAIServer) -> None:
    assert sys.version_info >= (3, 11)
    server.inject(Fault.slow(1.0), times=1)
    async with make_client(server, timeout=0.05, retry=xm.RetryPolicy.none()) as c:
        with pytest.raises(xm.APITimeoutError):
            await c.models.list()
        task = asyncio.current_task()
        assert task is not None
        assert task.cancelling() == 0
        # And the caller's own asyncio.timeout still works afterwards.
        server.inject(Fault.slow(1.0), times=1)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await c.models.list(timeout=10)


async def test_cancelling_the_caller_is_not_turned_into_a_timeout(
    server: FakeXAIServer,
) -> None:
    server.inject(Fault.slow(1.0), times=1)
    async with make_client(server, timeout=0.2) as c:
        call = asyncio.create_task(c.models.list())
        await asyncio.sleep(0.05)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    assert server.count("/v1/models") == 1  # not retried as if it had timed out


async def test_the_retry_deadline_shortens_the_attempt(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(1.0), times=5)
    policy = xm.RetryPolicy(max_retries=5, deadline=0.15)
    async with make_client(server, timeout=30, retry=policy) as c:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(xm.APITimeoutError):
            await c.models.list()
        assert loop.time() - started < 0.6
