"""Races in single-flight and attempt deadlines, from an independent review.

Each block below came with a test that failed on the first version of the inline leader
(``_flight``/``_deadlines``); the comment above it says what went wrong. They pin down
the orderings that matter: a deadline and a cancellation of the leader in the same
event-loop pass, a task cancelled before its first step, a future awaited by two tasks,
task-tied timeouts outside and inside the shared request.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time

import aiohttp
import pytest

import xai_models_async as xm
from tests.conftest import client_for
from xai_models_async._deadlines import Deadlines
from xai_models_async._flight import SingleFlight
from xai_models_async.testing import FakeXAIServer, Fault

GROK3 = "/v1/language-models/grok-3"


# -- deadline vs move --------------------------------------------------------
# The attempt deadline fires in the same event-loop pass as the leader's cancellation
# (the leader is moved to a new task). Two orders, two bugs.


async def _setup(client, server):
    leader = asyncio.create_task(client.language_models.get("grok-3"))
    while server.count(GROK3) == 0:  # noqa: ASYNC110 - a server-side counter
        await asyncio.sleep(0.001)
    follower = asyncio.create_task(client.language_models.get("grok-3"))
    await asyncio.sleep(0)
    return leader, follower


async def _same_pass(client, leader, offset):
    """Run leader.cancel() at the deadline's time + offset, in the same loop pass as the
    deadline's timer (the loop is blocked until both are due)."""
    loop = asyncio.get_running_loop()
    wake_at = client._deadlines._wake_at
    loop.call_at(wake_at + offset, leader.cancel)
    time.sleep(max(0.0, wake_at + 0.02 - loop.time()))  # noqa: ASYNC251 - both now due


async def test_leader_cancelled_just_before_the_deadline_fires(server: FakeXAIServer) -> None:
    # leader.cancel() first: the execution moves to a new task, retarget() points the
    # attempt at it, then _fire() cancels that task before its first step: the cancel is
    # thrown into the not-yet-started _carry_on, which never reaches its try/settle.
    server.inject(Fault.slow(1.0), path=GROK3, times=1)
    async with client_for(server, timeout=0.15) as client:
        leader, follower = await _setup(client, server)
        await _same_pass(client, leader, -0.005)
        with pytest.raises(asyncio.CancelledError):
            await leader
        try:
            await asyncio.wait_for(asyncio.shield(follower), 0.3)
        except xm.APITimeoutError:
            pass  # expected: the attempt ran out of time
        except asyncio.TimeoutError:
            pytest.fail(f"follower hangs; flights={client._flights._flights}")
        finally:
            follower.cancel()


async def test_after_that_race_the_key_is_poisoned_for_good(server: FakeXAIServer) -> None:
    # Same race; the _Flight is never settled nor abandoned, so it stays in the dict and
    # every later call with the same key joins it and waits forever.
    server.inject(Fault.slow(1.0), path=GROK3, times=1)
    async with client_for(server, timeout=0.15) as client:
        leader, follower = await _setup(client, server)
        await _same_pass(client, leader, -0.005)
        await asyncio.wait({leader, follower}, timeout=0.3)
        follower.cancel()
        await asyncio.wait({follower})
        try:
            model = await asyncio.wait_for(client.language_models.get("grok-3"), 0.3)
        except asyncio.TimeoutError:
            pytest.fail("a fresh call, long after, still hangs")
        assert model.id == "grok-3"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="uncancel()")
async def test_deadline_fires_just_before_the_leader_is_cancelled(
    server: FakeXAIServer,
) -> None:
    # _fire() first: it deletes the attempt from _attempts (so retarget() cannot find it)
    # and cancels the leader's future; leader.cancel() then moves the execution. In the
    # new task _fetch's timed_out() uncancels the OLD task (count 2 -> 1 > 0): the timeout
    # is taken for an outside cancellation and the follower, never cancelled, gets
    # CancelledError instead of APITimeoutError.
    server.inject(Fault.slow(1.0), path=GROK3, times=1)
    async with client_for(server, timeout=0.15) as client:
        leader, follower = await _same_pass_setup_then(client, server, +0.005)
        with pytest.raises(asyncio.CancelledError):
            await leader
        result = await asyncio.gather(asyncio.wait_for(follower, 0.5),
                                      return_exceptions=True)
        assert isinstance(result[0], xm.APITimeoutError), result


async def _same_pass_setup_then(client, server, offset):
    leader, follower = await _setup(client, server)
    await _same_pass(client, leader, offset)
    return leader, follower


# -- deadline lost on move ---------------------------------------------------
# Leader runnable (its future just completed) when, in one loop pass, the deadline fires
# and then the caller cancels it. Task.cancel(DEADLINE_PASSED) goes through _Guard.cancel
# ('cancel': the future is done, so the Task sets _must_cancel); the caller's cancel then
# moves the execution (_Guard.cancel -> _move, pending=None). The new task resumes the
# coroutine with send(None): the deadline's cancellation is silently dropped (the attempt
# was already removed from Deadlines), so the attempt runs on with no deadline at all.


async def test_deadline_lost_when_the_leader_moves() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    flights = SingleFlight(on_move=deadlines.retarget)
    step1 = loop.create_future()
    step2 = loop.create_future()  # a slow server: never answers

    async def work() -> str:
        watch = deadlines.start(asyncio.current_task(), 0.05)
        try:
            await step1
            await step2
            return "answer"
        except asyncio.CancelledError:
            if not watch.timed_out():
                raise
            return "timed out"
        finally:
            deadlines.finish(watch)

    leader = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    follower = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    wake_at = deadlines._wake_at
    loop.call_at(wake_at - 0.002, step1.set_result, None)  # leader becomes runnable
    loop.call_at(wake_at + 0.002, leader.cancel)            # after the deadline's timer
    time.sleep(max(0.0, wake_at + 0.01 - loop.time()))  # noqa: ASYNC251 - all three due
    done, _ = await asyncio.wait({follower}, timeout=0.3)
    step2.set_result(None)
    result = await follower
    assert leader.cancelled()
    assert result == "timed out"
    assert done


# -- shared future flag ------------------------------------------------------
# The leader's Task clears `_asyncio_future_blocking` on the _Guard it is handed, never
# on the real future the execution yielded (_flight.py: `yield self`). The C Future's
# __await__ (FutureIter) refuses to start on a pending future whose flag is still set:
# any OTHER task that awaits the same future while the leader's execution waits on it
# gets RuntimeError("await wasn't used with future") - no cancellation or move needed.
# (A shared Task awaited from several places, e.g. a backend's lazy connect task.)
# After a move, _Resume also re-yields that future with a flag another task may have
# cleared ("yield was used instead of yield from").


async def test_another_task_awaits_the_future_the_leader_waits_on() -> None:
    loop = asyncio.get_running_loop()
    gate = loop.create_future()

    async def connect() -> str:
        await gate
        return "connection"

    shared = asyncio.ensure_future(connect())  # e.g. a backend's lazy connect task
    flights = SingleFlight()

    async def work() -> str:
        return await shared

    async def bystander() -> str:  # unrelated code, not in any flight
        return await shared

    leader = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    other = asyncio.create_task(bystander())
    await asyncio.sleep(0)
    gate.set_result(None)
    results = await asyncio.gather(leader, other, return_exceptions=True)
    assert results == ["connection", "connection"], results


async def test_control_without_singleflight() -> None:
    loop = asyncio.get_running_loop()
    gate = loop.create_future()

    async def connect() -> str:
        await gate
        return "connection"

    shared = asyncio.ensure_future(connect())

    async def user() -> str:
        return await shared

    a = asyncio.create_task(user())
    await asyncio.sleep(0)
    b = asyncio.create_task(user())
    await asyncio.sleep(0)
    gate.set_result(None)
    assert await asyncio.gather(a, b) == ["connection", "connection"]


# -- factory raises ----------------------------------------------------------
# SingleFlight.run registers the _Flight in the dict before calling factory(); if the
# factory raises synchronously the flight is never settled nor removed, and every later
# call with that key joins it and waits forever.


@pytest.mark.parametrize("detached", [False, True])
async def test_a_factory_that_raises_does_not_poison_the_key(detached: bool) -> None:
    flights = SingleFlight()

    def bad_factory():
        raise ValueError("bad arguments")

    async def good() -> int:
        return 1

    with pytest.raises(ValueError, match="bad arguments"):
        await flights.run("k", bad_factory, detached=detached)
    assert len(flights) == 0
    assert await asyncio.wait_for(flights.run("k", good), 0.2) == 1


# -- cache backend timeout ---------------------------------------------------
# Client level, movable call: a Cache backend whose set() bounds itself with a
# task-tied timeout (asyncio.timeout / wait_for on 3.12+, as redis-py & co. do). The
# timeout's Task.cancel() hits the leader's _Guard, which takes it for a cancellation of
# the leader: the execution is moved, the timeout is lost (set() waits forever, so the
# follower hangs) and the leader, never cancelled, raises CancelledError.




class SlowBackend:
    """A backend whose set() gives up after 50 ms (its store never answers)."""

    def __init__(self) -> None:
        self.never = asyncio.Event()

    async def get(self, key):
        return None

    async def set(self, key, value, ttl):
        try:
            async with asyncio.timeout(0.05):
                await self.never.wait()
        except TimeoutError:
            pass  # a best-effort cache write: give up

    async def clear(self):
        pass


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout")
async def test_backend_timeout_with_a_follower(server: FakeXAIServer) -> None:
    backend = SlowBackend()
    async with xm.AsyncClient(api_key="k", base_url=server.url, cache_ttl=30,
                              cache=backend, retry=xm.RetryPolicy.none()) as client:
        leader = asyncio.create_task(client.language_models.get("grok-3"))
        await asyncio.sleep(0)
        follower = asyncio.create_task(client.language_models.get("grok-3"))
        done, _ = await asyncio.wait({leader, follower}, timeout=0.4)
        backend.never.set()
        results = await asyncio.gather(leader, follower, return_exceptions=True)
        assert [getattr(r, "id", r) for r in results] == ["grok-3", "grok-3"]
        assert len(done) == 2  # nobody stuck past the backend's own 50 ms timeout


# -- connect timeout held ----------------------------------------------------
# Client level: aiohttp's own `connect` timeout (task-tied, the very reason a call is not
# `movable`) fires in the leader's task while a follower waits. _Guard.cancel holds it back
# as if the caller had cancelled the leader: the connect goes on past its timeout and the
# leader, which nobody cancelled, ends with CancelledError.


class SlowResolver(aiohttp.abc.AbstractResolver):
    async def resolve(self, host, port=0, family=socket.AF_INET):
        await asyncio.sleep(0.3)  # DNS slower than the connect timeout
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": family,
                 "proto": 0, "flags": socket.AI_NUMERICHOST}]

    async def close(self):
        pass


async def test_connect_timeout_with_a_follower(server: FakeXAIServer) -> None:
    url = server.url.replace("127.0.0.1", "fake-xai.localhost")
    connector = aiohttp.TCPConnector(resolver=SlowResolver(), use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        timeout = aiohttp.ClientTimeout(total=5, connect=0.05)
        async with xm.AsyncClient(api_key="k", base_url=url, session=session,
                                  timeout=timeout, retry=xm.RetryPolicy.none()) as client:
            loop = asyncio.get_running_loop()
            started = loop.time()
            leader = asyncio.create_task(client.language_models.get("grok-3"))
            await asyncio.sleep(0)
            follower = asyncio.create_task(client.language_models.get("grok-3"))
            results = await asyncio.gather(leader, follower, return_exceptions=True)
            took = loop.time() - started
            # Control (no follower) gives APITimeoutError after ~0.05 s.
            assert all(isinstance(r, xm.APITimeoutError) for r in results), results
            assert took < 0.2, took


async def test_control_connect_timeout_alone(server: FakeXAIServer) -> None:
    url = server.url.replace("127.0.0.1", "fake-xai.localhost")
    connector = aiohttp.TCPConnector(resolver=SlowResolver(), use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        timeout = aiohttp.ClientTimeout(total=5, connect=0.05)
        async with xm.AsyncClient(api_key="k", base_url=url, session=session,
                                  timeout=timeout, retry=xm.RetryPolicy.none()) as client:
            with pytest.raises(xm.APITimeoutError):
                await client.language_models.get("grok-3")


# -- held leader deadline ----------------------------------------------------
# Not movable (aiohttp connect timeouts set): the leader's cancellation is held back while
# a follower waits. When the attempt deadline then fires, Attempt.timed_out() sees the held
# cancellation in the leader's cancel count (2 > 0 recorded at attempt start) and takes the
# timeout for an outside cancellation: the shared execution ends with CancelledError and the
# follower, which nobody cancelled, gets CancelledError instead of APITimeoutError.


@pytest.mark.skipif(sys.version_info < (3, 11), reason="uncancel()")
async def test_held_leader_then_deadline(server: FakeXAIServer) -> None:
    server.inject(Fault.slow(1.0), path=GROK3, times=1)
    timeout = aiohttp.ClientTimeout(total=0.15, sock_connect=5)
    async with client_for(server, timeout=timeout) as client:
        leader = asyncio.create_task(client.language_models.get("grok-3"))
        while server.count(GROK3) == 0:  # noqa: ASYNC110 - a server-side counter
            await asyncio.sleep(0.001)
        follower = asyncio.create_task(client.language_models.get("grok-3"))
        await asyncio.sleep(0.01)
        leader.cancel()  # held back: the follower still waits
        results = await asyncio.gather(leader, asyncio.wait_for(follower, 0.5),
                                       return_exceptions=True)
        assert isinstance(results[0], asyncio.CancelledError)
        assert isinstance(results[1], xm.APITimeoutError), results


# -- abort pending lost ------------------------------------------------------
# Not movable: the leader is held back; the last follower leaves while the leader's
# awaited future has just completed with an exception (same loop pass). abort() finds
# _waiting_on done and sets abort_pending, but __await__ only checks abort_pending on the
# plain-resume path: the exception path (coro.throw(exc); continue) goes on, the execution
# starts its retry backoff sleep, and the follower's cancellation is held up for the
# whole sleep (in AsyncClient: the retry delay, up to Retry-After).


class Boom(Exception):
    pass


async def test_abort_is_not_lost_on_the_exception_path() -> None:
    loop = asyncio.get_running_loop()
    flights = SingleFlight()
    first = loop.create_future()

    async def work() -> str:
        try:
            await first
        except Boom:
            await asyncio.sleep(0.4)  # the retry loop's backoff before attempt 2
        return "answer"

    leader = asyncio.create_task(flights.run("k", work, movable=False))
    await asyncio.sleep(0)
    follower = asyncio.create_task(flights.run("k", work, movable=False))
    await asyncio.sleep(0)
    leader.cancel()  # held back for the follower
    await asyncio.sleep(0)
    follower.cancel()
    first.set_exception(Boom())  # same pass: the attempt failed
    started = loop.time()
    await asyncio.wait({follower})
    took = loop.time() - started
    await asyncio.wait({leader})
    assert follower.cancelled()
    assert leader.cancelled()
    assert took < 0.1, f"the last waiter's cancellation took {took:.2f} s"
