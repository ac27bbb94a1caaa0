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
from typing import Any

import aiohttp
import pytest

import xai_models_async as xm
from tests.conftest import client_for
from tests.test_flight import leader_and_follower
from tests.test_integration import until
from xai_models_async._deadlines import Deadlines
from xai_models_async._flight import SingleFlight
from xai_models_async.testing import FakeXAIServer, Fault

GROK3 = "/v1/language-models/grok-3"


# -- deadline vs move --------------------------------------------------------
# The attempt deadline fires in the same event-loop pass as the leader's cancellation
# (the leader is moved to a new task). Two orders, two bugs.


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
        leader, follower = await leader_and_follower(client, server)
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
        leader, follower = await leader_and_follower(client, server)
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
    leader, follower = await leader_and_follower(client, server)
    await _same_pass(client, leader, offset)
    return leader, follower


# -- deadline lost on move ---------------------------------------------------
# Leader runnable (its future just completed) when, in one loop pass, the deadline fires
# and then the caller cancels it. Task.cancel(DEADLINE_PASSED) goes through _Guard.cancel
# ('cancel': the future is done, so the Task sets _must_cancel); the caller's cancel then
# moves the execution (_Guard.cancel -> _move, pending=None). The new task resumes the
# coroutine with send(None): the deadline's cancellation is silently dropped (the attempt
# was already removed from Deadlines), so the attempt runs on with no deadline at all.


async def attempt(deadlines: Deadlines, seconds: float, *steps: Any) -> str:
    """What the client's retry loop does around one attempt: awaits ``steps`` (futures)
    under a deadline, and reports "timed out" when the deadline ended it."""
    watch = deadlines.start(asyncio.current_task(), seconds)  # type: ignore[arg-type]
    try:
        for step in steps:
            await step
        return "answer"
    except asyncio.CancelledError:
        if not watch.timed_out():
            raise
        return "timed out"
    finally:
        deadlines.finish(watch)


async def deadline_then_leader_cancelled(
    *, leader_runnable: bool
) -> tuple[asyncio.Task[Any], asyncio.Task[Any]]:
    """A leader with a follower; its attempt's deadline (50 ms) fires and, in the same
    loop pass, the leader is cancelled (with its future just completed, if
    ``leader_runnable``). Returns both tasks once they are done."""
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    flights = SingleFlight(on_move=deadlines.retarget)
    step1 = loop.create_future()
    step2 = loop.create_future()  # a slow server: never answers

    async def work() -> str:
        return await attempt(deadlines, 0.05, step1, step2)

    leader = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    follower = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    wake_at = deadlines._wake_at
    if leader_runnable:
        loop.call_at(wake_at - 0.002, step1.set_result, None)
    loop.call_at(wake_at + 0.002, leader.cancel)  # after the deadline's timer
    time.sleep(max(0.0, wake_at + 0.01 - loop.time()))  # noqa: ASYNC251 - all due in one pass
    await asyncio.wait({follower}, timeout=0.3)
    for step in (step1, step2):
        if not step.done():
            step.set_result(None)
    await asyncio.wait({leader, follower})
    return leader, follower


async def test_deadline_lost_when_the_leader_moves() -> None:
    leader, follower = await deadline_then_leader_cancelled(leader_runnable=True)
    assert leader.cancelled()
    assert follower.result() == "timed out"


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
        await until(lambda: server.count(GROK3) == 1)
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


# -- second review: pytask leader move ----------------------------------
# A leader whose task is asyncio's pure-Python Task (_PyTask, e.g. from a task factory):
# _Guard._move finds it as the wake-up's __self__, but then requires
# isinstance(leader, asyncio.Task) before calling on_move. asyncio.Task is the C class and
# _PyTask is not a subclass of it, so on_move (Deadlines.retarget) is never called: the
# moved execution's attempt keeps pointing at the old leader task. When the deadline fires it
# cancels the departed leader (a no-op, or a stray DEADLINE_PASSED cancel of a task that went
# on with other work) and the moved execution runs with no deadline: followers hang.


def _py_task_factory(loop, coro, **kwargs):
    return asyncio.tasks._PyTask(coro, loop=loop, **kwargs)


async def test_move_retargets_the_deadline_for_a_pytask_leader() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    moves = []

    def on_move(old, new):
        moves.append((old, new))
        deadlines.retarget(old, new)

    flights = SingleFlight(on_move=on_move)
    never = loop.create_future()  # a slow server

    async def work() -> str:
        return await attempt(deadlines, 0.05, never)

    leader = asyncio.tasks._PyTask(flights.run("k", work), loop=loop)
    await asyncio.sleep(0)
    follower = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    leader.cancel()  # moves the execution: the follower still waits
    await asyncio.wait({leader})
    done, _ = await asyncio.wait({follower}, timeout=0.3)
    if not never.done():
        never.set_result(None)
    await asyncio.wait({follower})
    assert len(moves) == 1, "on_move was never called"
    assert done, "the moved execution lost its deadline"
    assert follower.result() == "timed out"


async def test_client_with_a_pytask_factory(server: FakeXAIServer) -> None:
    import xai_models_async as xm
    loop = asyncio.get_running_loop()
    old_factory = loop.get_task_factory()
    loop.set_task_factory(_py_task_factory)
    try:
        server.inject(Fault.slow(1.0), path=GROK3, times=1)
        async with client_for(server, timeout=0.15) as client:
            leader, follower = await leader_and_follower(client, server)
            leader.cancel()
            await asyncio.wait({leader})
            done, _ = await asyncio.wait({follower}, timeout=0.5)
            follower.cancel()
            await asyncio.wait({follower})
            assert done, "follower still waiting 0.5 s after a 0.15 s attempt deadline"
            assert isinstance(follower.exception(), xm.APITimeoutError)
    finally:
        loop.set_task_factory(old_factory)


# -- second review: eager move deadline ---------------------------------
# With asyncio.eager_task_factory (3.12+), _Guard._move's create_task() runs the new
# task's first step at once, inside _move, before on_move (Deadlines.retarget) has pointed
# the attempt at the new task. If the attempt's deadline has already fired (it cancelled
# the leader's task, and the leader is then cancelled in the same loop pass, with a
# follower waiting), that first step delivers the deadline's cancellation to the execution
# and Attempt.timed_out() runs against the OLD task: uncancel() leaves the leader's own
# cancellation (count 2 -> 1 > 0), so the timeout is taken for an outside cancellation.
# The shared execution ends in CancelledError and the follower, which nobody cancelled,
# is cancelled instead of timing out. (Without the eager factory these pass: see
# tests/test_flight_races.py, same scenarios.)


needs_eager_factory = pytest.mark.skipif(sys.version_info < (3, 12), reason="eager_task_factory")


@pytest.mark.parametrize("leader_runnable", [False, True])
@needs_eager_factory
async def test_eager_move_after_the_deadline_fired(leader_runnable: bool) -> None:
    loop = asyncio.get_running_loop()
    loop.set_task_factory(asyncio.eager_task_factory)  # type: ignore[attr-defined]
    try:
        leader, follower = await deadline_then_leader_cancelled(
            leader_runnable=leader_runnable)
        assert leader.cancelled()
        assert not follower.cancelled(), "the follower was cancelled; nobody cancelled it"
        assert follower.result() == "timed out"
    finally:
        loop.set_task_factory(None)


@needs_eager_factory
async def test_eager_client(server: FakeXAIServer) -> None:
    loop = asyncio.get_running_loop()
    loop.set_task_factory(asyncio.eager_task_factory)
    try:
        server.inject(Fault.slow(1.0), path=GROK3, times=1)
        async with client_for(server, timeout=0.15) as client:
            leader, follower = await leader_and_follower(client, server)
            wake_at = client._deadlines._wake_at
            loop.call_at(wake_at + 0.005, leader.cancel)
            time.sleep(max(0.0, wake_at + 0.02 - loop.time()))  # noqa: ASYNC251 - blocking on purpose
            await asyncio.wait({leader})
            done, _ = await asyncio.wait({follower}, timeout=0.5)
            if not done:
                follower.cancel()
                await asyncio.wait({follower})
            assert leader.cancelled()
            assert not follower.cancelled(), "the follower was cancelled; nobody cancelled it"
            assert isinstance(follower.exception(), xm.APITimeoutError)
    finally:
        loop.set_task_factory(None)


# -- second review: stale deadline pending ------------------------------
# _Guard.deadline_pending is cleared only on the _cancelled_while_running path. When the
# deadline's cancel finds the awaited future already *cancelled* (by a third party, same
# loop pass), the Task delivers CancelledError(DEADLINE_PASSED) at its next step, but
# _outcome_of() says "the future's own outcome" and __await__ throws it in directly, leaving
# deadline_pending True. The execution handles that timeout and goes on (a retry); if the
# leader is later cancelled with a follower, _move hands the stale flag to _Rest, which
# throws a phantom DEADLINE_PASSED into the *next* attempt: its watch has not expired, so it
# is taken for an outside cancellation and the follower, never cancelled, is cancelled.


async def test_stale_deadline_pending_is_not_carried_to_the_next_attempt() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines(loop)
    flights = SingleFlight(on_move=deadlines.retarget)
    first = loop.create_future()   # attempt 1 waits on it; a third party cancels it
    second = loop.create_future()  # attempt 2: a slow answer
    log = []

    async def work() -> str:
        for seconds, fut in ((0.05, first), (5.0, second)):
            watch = deadlines.start(asyncio.current_task(), seconds)
            try:
                await fut
                return "answer"
            except asyncio.CancelledError:
                if not watch.timed_out():
                    raise
                log.append("attempt timed out")
            finally:
                deadlines.finish(watch)
        return "gave up"

    leader = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    wake_at = deadlines._wake_at
    loop.call_at(wake_at - 0.002, first.cancel)  # e.g. a pool closing its waiters
    time.sleep(max(0.0, wake_at + 0.01 - loop.time()))  # noqa: ASYNC251 - blocking on purpose
    await asyncio.sleep(0.01)
    assert log == ["attempt timed out"]  # attempt 2 now waits on `second`
    follower = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    leader.cancel()  # moves the execution: the follower still waits
    await asyncio.wait({leader})
    await asyncio.sleep(0.01)
    if not second.done():
        second.set_result(None)
    done, _ = await asyncio.wait({follower}, timeout=0.3)
    assert done
    assert not follower.cancelled(), "the follower was cancelled; nobody cancelled it"
    assert follower.result() == "answer"


# -- second review: shared context move ---------------------------------
# _Guard._move creates the new task with context.run(loop.create_task, rest) in the
# leader task's own Context object. If that Context is entered when the leader is cancelled
# (the canceller runs in it: a task or callback given the leader's context, e.g.
# create_task(..., context=leader.get_context()) / call_soon(..., context=...)), context.run
# raises RuntimeError inside Task.cancel(): the guard already says `moved` and has woken the
# leader, but no task carries the execution on. The follower waits forever.


needs_get_context = pytest.mark.skipif(sys.version_info < (3, 12), reason="Task.get_context()")


@needs_get_context
async def test_cancel_from_the_leaders_own_context() -> None:
    loop = asyncio.get_running_loop()
    flights = SingleFlight()
    gate = loop.create_future()

    async def work() -> str:
        await gate
        return "answer"

    leader = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    follower = asyncio.create_task(flights.run("k", work))
    await asyncio.sleep(0)
    errors = []

    def cancel_leader() -> None:
        try:
            leader.cancel()
        except Exception as exc:
            errors.append(exc)

    loop.call_soon(cancel_leader, context=leader.get_context())
    await asyncio.sleep(0.01)
    gate.set_result(None)
    done, _ = await asyncio.wait({follower}, timeout=0.2)
    follower.cancel()
    assert not errors, errors
    assert done, "the follower hangs"
    assert follower.result() == "answer"
