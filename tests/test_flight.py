"""Single-flight when the caller running the shared request (the leader) is cancelled.

The leader runs the request in its own task; when it is cancelled while others wait, the
request moves to a task of its own and carries on for them (see ``_flight``). These tests
pin that down against the real local server: the leader leaves at once, the others get
the answer from the one request, deadlines still apply after the move, and the last
waiter to leave still aborts it. Real waiting is bounded by ``Fault.slow`` (<= 0.3 s).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import aiohttp
import pytest

import xai_models_async as xm
from tests.conftest import client_for
from tests.test_integration import leftover_tasks, until
from xai_models_async._flight import SingleFlight
from xai_models_async.testing import FakeXAIServer, Fault

GROK3 = "/v1/language-models/grok-3"


async def leader_and_follower(
    client: xm.AsyncClient, server: FakeXAIServer, **kwargs: Any
) -> tuple[asyncio.Task[Any], asyncio.Task[Any]]:
    leader = asyncio.create_task(client.language_models.get("grok-3", **kwargs))
    await until(lambda: server.count(GROK3) == 1)
    follower = asyncio.create_task(client.language_models.get("grok-3", **kwargs))
    await asyncio.sleep(0)  # the follower has joined
    assert len(client._flights) == 1
    return leader, follower


async def test_a_cancelled_leader_leaves_at_once_and_the_request_carries_on(
    server: FakeXAIServer,
) -> None:
    server.inject(Fault.slow(0.3), path=GROK3)
    async with client_for(server) as client:
        loop = asyncio.get_running_loop()
        leader, follower = await leader_and_follower(client, server)
        cancelled_at = loop.time()
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        assert loop.time() - cancelled_at < 0.1  # did not wait for the slow answer
        assert not follower.done()
        model = await follower
        assert model.id == "grok-3"
        assert server.count(GROK3) == 1
        assert len(client._flights) == 0
        await asyncio.sleep(0)
        assert leftover_tasks() == set()


async def test_many_followers_share_the_moved_request(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(0.1), path=GROK3)
    async with client_for(server) as client:
        leader, _ = await leader_and_follower(client, server)
        others = [asyncio.create_task(client.language_models.get("grok-3"))
                  for _ in range(200)]
        await asyncio.sleep(0)
        leader.cancel()
        results = await asyncio.gather(*others)
        assert leader.cancelled()
        assert all(r is results[0] for r in results)
        assert server.count(GROK3) == 1


async def test_the_deadline_still_applies_after_the_move(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(1.0), path=GROK3, times=1)
    async with client_for(server, timeout=0.15) as client:
        leader, follower = await leader_and_follower(client, server)
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        # The attempt's deadline now cancels the task the request moved to, not the
        # leader's (which has gone on to other things).
        with pytest.raises(xm.APITimeoutError):
            await asyncio.wait_for(follower, 1.0)
        if sys.version_info >= (3, 11):
            task = asyncio.current_task()
            assert task is not None
            assert task.cancelling() == 0


async def test_the_last_follower_leaving_aborts_the_moved_request(
    server: FakeXAIServer,
) -> None:
    server.inject(Fault.slow(0.3), path=GROK3)
    async with client_for(server) as client:
        leader, follower = await leader_and_follower(client, server)
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        follower.cancel()
        with pytest.raises(asyncio.CancelledError):
            await follower
        # Unwound before the follower's cancellation completed.
        assert leftover_tasks() == set()
        assert len(client._flights) == 0
        await until(lambda: server.open_connections == 0)
        # A new call is a new request.
        assert (await client.language_models.get("grok-3")).id == "grok-3"
        assert server.count(GROK3) == 2


async def test_an_asyncio_timeout_around_the_leader_is_prompt(server: FakeXAIServer) -> None:
    if not hasattr(asyncio, "timeout"):
        pytest.skip("asyncio.timeout arrived in 3.11")
    server.inject(Fault.slow(0.3), path=GROK3)
    async with client_for(server) as client:
        follower_holder: list[asyncio.Task[Any]] = []

        async def leader() -> None:
            async with asyncio.timeout(0.05):
                call = client.language_models.get("grok-3")
                follower_holder.append(
                    asyncio.create_task(client.language_models.get("grok-3")))
                await call

        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError):
            await leader()
        assert loop.time() - started < 0.2
        assert (await follower_holder[0]).id == "grok-3"
        assert server.count(GROK3) == 1


# -- when the request cannot move: aiohttp's connect timeouts are tied to the task ------


async def test_not_movable_runs_in_its_own_task_and_the_leader_leaves_at_once(
    server: FakeXAIServer,
) -> None:
    server.inject(Fault.slow(0.2), path=GROK3)
    timeout = aiohttp.ClientTimeout(total=5, sock_connect=5)
    async with client_for(server, timeout=timeout) as client:
        loop = asyncio.get_running_loop()
        leader, follower = await leader_and_follower(client, server)
        cancelled_at = loop.time()
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        assert loop.time() - cancelled_at < 0.1
        assert (await follower).id == "grok-3"
        assert server.count(GROK3) == 1


async def test_not_movable_the_last_waiter_leaving_aborts(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(0.3), path=GROK3)
    timeout = aiohttp.ClientTimeout(total=5, sock_connect=5)
    async with client_for(server, timeout=timeout) as client:
        leader, follower = await leader_and_follower(client, server)
        leader.cancel()
        follower.cancel()
        results = await asyncio.gather(leader, follower, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        assert leftover_tasks() == set()
        assert len(client._flights) == 0
        await until(lambda: server.open_connections == 0)


# -- SingleFlight on its own ---------------------------------------------------------


async def test_a_moved_execution_keeps_its_contextvars() -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    gate = asyncio.Event()
    seen: list[str] = []
    flights = SingleFlight()

    async def work() -> str:
        await gate.wait()
        seen.append(var.get())
        return "done"

    async def lead() -> str:
        var.set("leader's")
        return await flights.run("k", work)

    leader = asyncio.create_task(lead())
    await asyncio.sleep(0)
    follower = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    leader.cancel()
    await asyncio.sleep(0)
    gate.set()
    assert await follower == "done"
    assert leader.cancelled()
    assert seen == ["leader's"]


async def test_a_leader_cancelled_twice_is_moved_once() -> None:
    gate = asyncio.Event()
    calls = 0
    flights = SingleFlight()

    async def work() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 7

    leader = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    follower = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    leader.cancel()
    leader.cancel()
    await asyncio.sleep(0)
    gate.set()
    assert await follower == 7
    assert leader.cancelled()
    assert calls == 1


async def test_a_leader_cancelled_at_a_bare_yield_still_moves() -> None:
    """The cancellation reaches the leader's task while it is not waiting on a future
    (asyncio.sleep(0)): it must still move the execution, not end it."""
    flights = SingleFlight()
    spins = 0

    async def work() -> str:
        nonlocal spins
        while spins < 20:
            spins += 1
            await asyncio.sleep(0)
        return "done"

    leader = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    follower = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    leader.cancel()
    assert await follower == "done"
    assert leader.cancelled()
    assert len(flights) == 0


async def test_calls_leave_no_cycles_for_the_gc(server: FakeXAIServer) -> None:
    """A flight and its task pointing at each other kept every finished call alive until
    a GC pass: a third more peak memory in the fan-out benchmark."""
    import gc

    ids = ["grok-3", "grok-3-mini", "grok-4-0709"] * 10
    async with client_for(server) as client:
        await client.language_models.get_many(ids[:3])  # warm: session, pool
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            await client.language_models.get_many(ids, concurrency=4)
            for model_id in ids[:5]:
                await client.language_models.get(model_id)
            gc.collect()
            kinds = {type(o).__name__ for o in gc.garbage}
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert not kinds & {"_Flight", "_Rest", "_Guard", "Task", "Attempt"}, kinds
