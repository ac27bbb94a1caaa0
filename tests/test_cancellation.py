"""Regression tests for the failures a hostile review of the old request core confirmed
(issue 10, item 6) that no other test file covers. Every server is on 127.0.0.1; nothing
waits for real longer than a fraction of a second."""

from __future__ import annotations

import asyncio
import contextvars
import socket
import sys
import time
import types
from typing import Any

import aiohttp
import pytest

import xai_models_async as xm
from tests.conftest import client_for
from tests.test_integration import leftover_tasks, until
from xai_models_async.testing import FakeXAIServer, Fault

# -- close() with the application's session --------------------------------------------


async def test_close_keeps_the_deadlines_of_calls_on_the_applications_session(
    server: FakeXAIServer,
) -> None:
    """close() leaves an application's session alone, so calls in flight on it carry on
    and time out as usual, with the real APITimeoutError: nothing of the close cut them.
    (Issue 10: 20 of 20 were still pending 10 s after close(); then they raised
    ClientClosedError.)"""
    server.inject(Fault.slow(30), times=20)
    timeout = 0.3
    async with aiohttp.ClientSession() as session:
        client = xm.AsyncClient("k", base_url=server.url, session=session, timeout=timeout,
                                retry=xm.RetryPolicy.none())
        loop = asyncio.get_running_loop()
        started = loop.time()
        calls = [asyncio.ensure_future(client.language_models.get(f"model-{i}"))
                 for i in range(20)]
        await until(lambda: server.request_count == 20)
        await client.close()
        assert not session.closed
        done, pending = await asyncio.wait(calls, timeout=timeout + 1.0)
        elapsed = loop.time() - started
        assert pending == set()
        errors = [call.exception() for call in done]
        assert all(type(error) is xm.APITimeoutError for error in errors), errors
        assert elapsed < timeout + 0.5
        assert leftover_tasks() == set()


# -- a leader cancelled as its connect completes ----------------------------------------


async def idle_cpu_share(seconds: float = 0.3) -> float:
    """The process's CPU time over an idle ``asyncio.sleep``, as a share of the wall time:
    near 0 for a loop waiting in select(), near 1 for a loop that spins."""
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu) / (time.perf_counter() - wall)


async def test_idle_cpu_share_sees_a_spinning_loop() -> None:
    """The measure below can fail: a writer left on an always-writable socket (what the
    old core left behind) makes the loop spin."""
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    with ours, theirs:
        loop.add_writer(ours, lambda: None)
        try:
            assert await idle_cpu_share() > 0.5
        finally:
            loop.remove_writer(ours)
    assert await idle_cpu_share() < 0.5


TASK_FACTORIES = [pytest.param(None, id="default-tasks")]
if sys.version_info >= (3, 12):
    TASK_FACTORIES.append(pytest.param(asyncio.eager_task_factory, id="eager-tasks"))


@pytest.mark.parametrize("factory", TASK_FACTORIES)
async def test_a_leader_cancelled_while_connecting_leaves_the_loop_idle(
    server: FakeXAIServer, factory: Any
) -> None:
    """Regression guard (issue 10: 52 of 2,000 schedules with eager tasks on the default
    loop left a socket writer registered and the loop at 100% CPU). A fresh client per
    schedule, so each leader opens a connection; the leader is cancelled after k loop
    passes, k covering its connect's completion; its follower must still get the model.
    The clients stay open (keep-alive) while the loop's idle CPU is measured."""
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    loop.set_task_factory(factory)
    clients: list[xm.AsyncClient] = []
    try:
        for k in range(32):  # the connect completes around k = 3..6
            client = client_for(server)
            clients.append(client)
            leader = asyncio.ensure_future(client.language_models.get("grok-3"))
            follower = asyncio.ensure_future(client.language_models.get("grok-3"))
            for _ in range(k):
                await asyncio.sleep(0)
            leader.cancel()
            assert (await follower).id == "grok-3", k
            await asyncio.wait([leader])
            assert leader.cancelled() or leader.result().id == "grok-3"
        assert await idle_cpu_share() < 0.5
    finally:
        loop.set_task_factory(previous)
        for client in clients:
            await client.close()
    assert leftover_tasks() == set()
    await until(lambda: server.open_connections == 0)


# -- anyio scopes whose deadline fires with the attempt's -------------------------------

ATTEMPT = 0.05  # the client's attempt timeout, seconds
# Scope deadlines around the attempt's, in ms: the close ones fire in the same loop pass
# as the attempt's timer (the selector waits in whole milliseconds); the far ones make
# sure both outcomes happen. Far, because a loop stalled past both deadlines fires them
# in one pass, and then either outcome is right (on 3.10, which has no uncancel(), the
# attempt's timeout wins).
EARLY, LATE = -40, 100
OFFSETS_MS = [EARLY, *(x / 4 for x in range(-8, 9)), LATE]


def test_anyio_scopes_firing_with_the_attempt_deadline_stay_typed() -> None:
    """Issue 10: an anyio ``move_on_after``/``fail_after``/``CancelScope`` whose deadline
    fired in the same pass as the attempt's let the attempt's ``CancelledError`` escape
    the scope. Now each call ends either with its scope cancelled (``fail_after``: a
    ``TimeoutError``) or with ``APITimeoutError``, and nothing else. anyio's asyncio
    backend only: aiohttp, hence the client, cannot run on trio."""
    anyio = pytest.importorskip("anyio", reason="anyio is in the test extra")
    outcomes: dict[tuple[str, float], str] = {}

    async def call(client: xm.AsyncClient, kind: str, offset: float, path: str) -> None:
        deadline = anyio.current_time() + ATTEMPT + offset / 1000
        outcome = "returned"
        try:
            if kind == "fail_after":
                with anyio.fail_after(deadline - anyio.current_time()):
                    await client.language_models.get(path)
            else:
                scope = (anyio.move_on_after(deadline - anyio.current_time())
                         if kind == "move_on_after" else anyio.CancelScope(deadline=deadline))
                with scope:
                    await client.language_models.get(path)
                if scope.cancelled_caught:
                    outcome = "scope"
        except xm.APITimeoutError:
            outcome = "attempt timeout"
        except TimeoutError:
            outcome = "scope"
        outcomes[kind, offset] = outcome  # a CancelledError fails the task group

    async def main() -> None:
        async with FakeXAIServer() as server, client_for(server, timeout=ATTEMPT) as client:
            await client.models.list()  # warm: the session and aiohttp's first call
            server.inject(Fault.slow(30), times=1000)
            async with anyio.create_task_group() as group:
                for kind in ("move_on_after", "fail_after", "CancelScope"):
                    for offset in OFFSETS_MS:
                        group.start_soon(call, client, kind, offset, f"{kind}{offset}")

    anyio.run(main, backend="asyncio")
    assert len(outcomes) == 3 * len(OFFSETS_MS)
    assert set(outcomes.values()) == {"scope", "attempt timeout"}, outcomes
    for kind in ("move_on_after", "fail_after", "CancelScope"):
        assert outcomes[kind, EARLY] == "scope"
        assert outcomes[kind, LATE] == "attempt timeout"


# -- trace hooks ------------------------------------------------------------------------

GROK3 = "/v1/language-models/grok-3"
current_request: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_request", default=None)


def token_tracing() -> tuple[aiohttp.TraceConfig, list[str]]:
    """A trace hook as OpenTelemetry's: a contextvar set at the request's start, and its
    token reset at the end (``reset`` raises ValueError in another context)."""
    trace = aiohttp.TraceConfig()
    events: list[str] = []

    async def start(_: object, ctx: types.SimpleNamespace, params: Any) -> None:
        ctx.token = current_request.set(str(params.url))
        events.append("start")

    async def end(_: object, ctx: types.SimpleNamespace, params: Any) -> None:
        current_request.reset(ctx.token)
        events.append("end")

    trace.on_request_start.append(start)
    trace.on_request_end.append(end)
    trace.on_request_exception.append(end)
    return trace, events


@pytest.mark.parametrize("passes", [0, 1, 2, 3, 5, 8, 13, None])
async def test_a_token_resetting_trace_hook_survives_a_cancelled_leader(
    server: FakeXAIServer, passes: int | None
) -> None:
    """Issue 10: a follower never cancelled failed with ValueError (a token reset in
    another context) after a moved request's 200. The leader is cancelled after
    ``passes`` loop passes (None: once the server has its request); the followers call
    again in their own tasks and get the model."""
    server.inject(Fault.slow(0.2), path=GROK3)
    trace, events = token_tracing()
    async with client_for(server, trace_configs=[trace]) as client:
        leader = asyncio.ensure_future(client.language_models.get("grok-3"))
        followers = [asyncio.ensure_future(client.language_models.get("grok-3"))
                     for _ in range(3)]
        if passes is None:
            await until(lambda: server.count(GROK3) == 1)
        else:
            for _ in range(passes):
                await asyncio.sleep(0)
        leader.cancel()
        models = await asyncio.gather(*followers)
        assert [m.id for m in models] == ["grok-3"] * 3
        with pytest.raises(asyncio.CancelledError):
            await leader
    assert current_request.get() is None
    assert events.count("end") >= 1
    assert leftover_tasks() == set()


async def test_timeouts_inside_trace_hooks_just_work(server: FakeXAIServer) -> None:
    """Hooks may time their own awaits (``asyncio.timeout``, ``asyncio.wait_for``), and
    a hook's own timeout that fires is the hook's business: shared and lone calls under
    the client's attempt deadline all succeed."""
    fired: list[str] = []
    runs = 0

    async def bounded(_: object, ctx: object, params: object) -> None:
        nonlocal runs
        runs += 1
        await asyncio.wait_for(asyncio.sleep(0.001), timeout=1)
        try:
            await asyncio.wait_for(asyncio.sleep(1), timeout=0.01)
        except asyncio.TimeoutError:
            fired.append("wait_for")
        if sys.version_info >= (3, 11):
            async with asyncio.timeout(1):
                await asyncio.sleep(0.001)
            try:
                async with asyncio.timeout(0.01):
                    await asyncio.sleep(1)
            except TimeoutError:
                fired.append("timeout")

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(bounded)
    trace.on_connection_create_start.append(bounded)
    trace.on_request_end.append(bounded)
    async with client_for(server, trace_configs=[trace], timeout=5) as client:
        shared = await asyncio.gather(*(client.language_models.get("grok-3")
                                        for _ in range(3)))
        alone = await client.models.list()
    assert [m.id for m in shared] == ["grok-3"] * 3
    assert alone
    # Every hook's own timeouts fired, each once: nothing of the client's took them.
    assert runs >= 5  # 2 x (request start, end) + at least one connection
    assert fired == ["wait_for", "timeout"][: 2 if sys.version_info >= (3, 11) else 1] * runs
    assert server.request_count == 2
