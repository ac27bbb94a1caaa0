"""A seeded cancellation fuzzer of the request core (issue 10, item 5).

Each schedule is a handful of identical and distinct calls (``language_models.get(id)``,
``.list()``, ``.get_many(ids)``) on a fresh client against a 127.0.0.1 server with random
delays and faults, some cancelled after a random number of loop passes or a random real
delay, some under their own ``asyncio.timeout``, some in a ``TaskGroup`` that a sibling
aborts or whose parent is cancelled, with random attempt timeouts, retries and caching. After each:

* every caller that nothing cancelled got the object it asked for, or a typed
  ``xm.XAIError`` (its own ``asyncio.timeout`` may also end it);
* nobody hangs (each schedule must end within ``SCHEDULE_LIMIT`` seconds);
* after ``close()`` no task of the client is left and the server sees every connection
  closed;
* at the end, only the runner's task is left, and nothing reached the loop's exception
  handler or the ``asyncio`` logger ("exception was never retrieved", "Task was destroyed
  but it is pending!", unclosed sessions), gc included.

Kinds: C tasks on the default loop, ``eager_task_factory`` (3.12+) and uvloop. asyncio's
pure-Python ``Task`` is reachable only through a private name (``asyncio.tasks._PyTask``),
so that kind is skipped.

``XAI_FUZZ_SCHEDULES`` (default 200 per kind) and ``XAI_FUZZ_SEED`` (default: random,
printed, and named in every failure) reproduce a run: ``XAI_FUZZ_SEED=1234 pytest
tests/test_flight_fuzz.py``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest

import xai_models_async as xm
from tests.test_integration import leftover_tasks
from xai_models_async.testing import FakeXAIServer, Fault

SCHEDULES = int(os.environ.get("XAI_FUZZ_SCHEDULES", "200"))
SEED = int(os.environ.get("XAI_FUZZ_SEED") or random.SystemRandom().randrange(10**9))
SCHEDULE_LIMIT = 5.0  # seconds; a schedule takes a few ms to ~0.2 s
HAS_TASKGROUP = sys.version_info >= (3, 11)
IDS = ["grok-3", "grok-3", "grok-3-mini", "no-such-model"]  # grok-3 twice: more sharing
CATALOG_IDS = ["grok-3", "grok-3-mini", "grok-2-vision-1212", "grok-4-0709"]


class Sabotage(Exception):
    """Raised by a TaskGroup member to make the group cancel its siblings."""


def sabotage() -> None:
    raise Sabotage


@dataclass
class Caller:
    """One call of a schedule, and what happened to it."""

    model_id: str | tuple[str, ...] | None  # None: list(); a tuple: get_many()
    timeout: float | None  # its own asyncio.timeout (asyncio.wait_for on 3.10)
    may_be_cancelled: bool = False  # the schedule cancelled it (or its group)
    outcome: tuple[str, Any] = ("not started", None)

    async def run(self, client: xm.AsyncClient) -> None:
        call: Coroutine[Any, Any, Any]
        if self.model_id is None:
            call = client.language_models.list()
        elif isinstance(self.model_id, tuple):  # a batch: workers, call tasks, slots
            call = client.language_models.get_many(list(self.model_id), concurrency=2,
                                                   return_exceptions=True)
        else:
            call = client.language_models.get(self.model_id)
        try:
            if self.timeout is None:
                result = await call
            elif sys.version_info >= (3, 11):
                async with asyncio.timeout(self.timeout):
                    result = await call
            else:
                result = await asyncio.wait_for(call, self.timeout)
        except xm.XAIError as error:
            self.outcome = ("error", error)
        except asyncio.CancelledError:
            self.outcome = ("cancelled", None)
            raise
        except asyncio.TimeoutError:
            self.outcome = ("timeout", None)
        except BaseException as error:  # anything else is the bug to report
            self.outcome = ("unexpected", error)
        else:
            self.outcome = ("ok", result)

    def check(self) -> str | None:
        """What is wrong with the outcome, or None."""
        kind, value = self.outcome
        if kind == "ok":
            if self.model_id is None:
                got = [model.id for model in value]
                return None if got == CATALOG_IDS else f"list() returned {got}"
            if isinstance(self.model_id, tuple):
                wrong = [(asked, item) for asked, item in zip(self.model_id, value, strict=True)
                         if not isinstance(item, xm.XAIError)
                         and (getattr(item, "id", None) != asked or asked == "no-such-model")]
                return f"get_many() returned {wrong}" if wrong else None
            ok = getattr(value, "id", None) == self.model_id != "no-such-model"
            return None if ok else f"get({self.model_id!r}) returned {value!r}"
        if kind == "error":
            return None
        if kind in ("cancelled", "not started"):
            return None if self.may_be_cancelled else f"{kind} though nothing cancelled it"
        if kind == "timeout":
            return None if self.timeout is not None else "TimeoutError without a timeout"
        return f"{kind}: {value!r}"


@dataclass
class Schedule:
    """One random schedule, drawn from its own seeded Random."""

    rng: random.Random
    callers: list[Caller] = field(default_factory=list)

    def caller(self) -> Caller:
        rng = self.rng
        draw = rng.random()
        caller = Caller(
            model_id=(None if draw < 0.2
                      else tuple(rng.choice(IDS) for _ in range(rng.randrange(2, 6)))
                      if draw < 0.35 else rng.choice(IDS)),
            timeout=rng.choice([None, None, None, rng.uniform(0.001, 0.06)]),
        )
        self.callers.append(caller)
        return caller

    def later(self, action: Callable[[], object]) -> Callable[[], Coroutine[Any, Any, None]]:
        """``action()`` after a random number of loop passes or a random short delay
        (drawn now: the draws do not depend on how the tasks interleave)."""
        passes = self.rng.randrange(12) if self.rng.random() < 0.7 else None
        delay = self.rng.uniform(0, 0.03)

        async def wait_then_act() -> None:
            if passes is None:
                await asyncio.sleep(delay)
            for _ in range(passes or 0):
                await asyncio.sleep(0)
            action()

        return wait_then_act

    async def group(self, client: xm.AsyncClient, members: list[Caller],
                    saboteur: Callable[[], Coroutine[Any, Any, None]] | None) -> None:
        """Callers in a TaskGroup, maybe with a member that raises and cancels the rest."""
        try:
            async with asyncio.TaskGroup() as group:  # type: ignore[attr-defined,unused-ignore]
                for member in members:
                    group.create_task(member.run(client))
                if saboteur is not None:
                    group.create_task(saboteur())
        except Exception as error:  # an ExceptionGroup of one Sabotage
            raised = [type(e) for e in getattr(error, "exceptions", [error])]
            if saboteur is None or raised != [Sabotage]:
                raise

    async def run(self, client: xm.AsyncClient) -> None:
        rng = self.rng
        tasks: list[tuple[asyncio.Task[None], list[Caller]]] = []
        for _ in range(rng.randrange(1, 9)):
            if HAS_TASKGROUP and rng.random() < 0.2:
                members = [self.caller() for _ in range(rng.randrange(1, 5))]
                saboteur = None
                if rng.random() < 0.4:
                    for member in members:
                        member.may_be_cancelled = True
                    saboteur = self.later(sabotage)
                group = self.group(client, members, saboteur)
                tasks.append((asyncio.ensure_future(group), members))
            else:
                caller = self.caller()
                tasks.append((asyncio.ensure_future(caller.run(client)), [caller]))
            if rng.random() < 0.3:
                await asyncio.sleep(0)
        cancels = []
        for task, callers in tasks:
            if rng.random() < 0.35:
                for caller in callers:
                    caller.may_be_cancelled = True
                cancels.append(asyncio.ensure_future(self.later(task.cancel)()))
        await asyncio.wait([task for task, _ in tasks] + cancels)
        for task, _ in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise AssertionError(f"a caller's task failed: {task.exception()!r}")


async def settle(condition: Callable[[], bool], seconds: float = 2.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not condition():
        if loop.time() > end:
            return False
        await asyncio.sleep(0.001)
    return True


async def fuzz(kind: str, schedules: int, seed: int) -> None:
    loop = asyncio.get_running_loop()
    problems: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: problems.append(context))

    async def sleep(_: float) -> None:  # retries without real backoff
        await asyncio.sleep(0)

    async with FakeXAIServer() as server:
        for number in range(schedules):
            where = f"XAI_FUZZ_SEED={seed} kind={kind} schedule={number}"
            rng = random.Random(f"{seed}:{kind}:{number}")
            if rng.random() < 0.6:
                faults = [Fault.slow(rng.uniform(0, 0.03)), Fault.error(503),
                          Fault.error(500, delay=0.005), Fault.reset()]
                server.inject_rate(rng.uniform(0.2, 0.9), faults,
                                   seed=rng.randrange(1 << 30))
            client = xm.AsyncClient(
                "k", base_url=server.url, sleep=sleep,
                timeout=rng.choice([5.0, rng.uniform(0.005, 0.05)]),
                retry=rng.choice([xm.RetryPolicy.none(), xm.RetryPolicy(max_retries=2)]),
                cache_ttl=rng.choice([None, None, 60.0]),
            )
            schedule = Schedule(rng)
            task = asyncio.ensure_future(schedule.run(client))
            done, _ = await asyncio.wait([task], timeout=SCHEDULE_LIMIT)
            assert done, f"{where}: hangs; callers: {schedule.callers}"
            task.result()
            wrong = [(c, why) for c in schedule.callers if (why := c.check()) is not None]
            assert not wrong, f"{where}: {wrong}"
            await client.close()
            server.clear_faults()
            assert await settle(lambda: not leftover_tasks()), f"{where}: {leftover_tasks()}"
            assert await settle(lambda: server.open_connections == 0), (
                f"{where}: {server.open_connections} connections left open")
    gc.collect()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert problems == [], f"XAI_FUZZ_SEED={seed} kind={kind}: {problems}"


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "uvloop":
        uvloop = pytest.importorskip("uvloop", reason="uvloop is in the test extra "
                                     "(not on Windows)")
        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        return loop
    loop = asyncio.new_event_loop()
    if kind == "eager-tasks":
        loop.set_task_factory(asyncio.eager_task_factory)  # type: ignore[attr-defined,unused-ignore]
    return loop


KINDS = [
    pytest.param("c-tasks"),
    pytest.param("python-tasks", marks=pytest.mark.skip(
        reason="asyncio's pure-Python Task is reachable only as the private "
        "asyncio.tasks._PyTask")),
    pytest.param("eager-tasks", marks=pytest.mark.skipif(
        sys.version_info < (3, 12), reason="asyncio.eager_task_factory is 3.12+")),
    pytest.param("uvloop", marks=pytest.mark.skipif(
        sys.platform == "win32", reason="uvloop does not run on Windows")),
]


@pytest.mark.parametrize("kind", KINDS)
def test_random_cancellation_schedules(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    print(f"XAI_FUZZ_SEED={SEED} XAI_FUZZ_SCHEDULES={SCHEDULES}")
    loop = new_loop(kind)
    try:
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            loop.run_until_complete(fuzz(kind, SCHEDULES, SEED))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            gc.collect()
    finally:
        if not loop.is_closed():
            loop.close()
    logged = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert logged == [], f"XAI_FUZZ_SEED={SEED} kind={kind}: {logged}"
