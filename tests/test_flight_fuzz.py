"""Random schedules against single-flight and attempt deadlines together.

Callers join and leave, are cancelled at once, on the next pass or a moment later;
the futures an execution waits on complete, fail or are left to its deadline (0.5 ms to
1 s); some executions retry after a timeout; some flights are detached or not movable;
some have a ``then``. After each schedule the rules must hold: no caller hangs, none that
nobody cancelled gets ``CancelledError``, no flight, attempt or task is left behind, and
asyncio reports nothing. Written by the second independent review (its random search
found two of the races in ``test_flight_races.py``); each schedule is seeded, so a
failure names a seed that replays it.
"""

from __future__ import annotations

import asyncio
import gc
import random
import sys
import traceback
import warnings
from typing import Any

import pytest

from xai_models_async._deadlines import DEADLINE_PASSED, Deadlines
from xai_models_async._flight import SingleFlight

SEEDS = 60


class Boom(Exception):
    pass


class TimedOut(Exception):
    pass


def _py_task_factory(loop, coro, **kwargs):
    return asyncio.tasks._PyTask(coro, loop=loop, **kwargs)


async def scenario(seed: int, eager: bool, pytask: bool) -> list[str]:
    rnd = random.Random(seed)
    loop = asyncio.get_running_loop()
    if eager:
        loop.set_task_factory(asyncio.eager_task_factory)
    elif pytask:
        loop.set_task_factory(_py_task_factory)
    problems: list[str] = []
    errors: list = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    deadlines = Deadlines(loop)
    flights = SingleFlight(on_move=deadlines.retarget)
    movable = rnd.random() < 0.8
    detached = rnd.random() < 0.2
    use_then = rnd.random() < 0.5
    futs: list[asyncio.Future] = []
    executions = []

    async def work(tag):
        me = len(executions)
        executions.append("running")
        try:
            for _attempt in range(rnd.randint(1, 2)):
                task = asyncio.current_task()
                watch = deadlines.start(task, rnd.choice([0.0005, 0.001, 0.003, 0.01, 1.0]))
                try:
                    for _ in range(rnd.randint(0, 3)):
                        if rnd.random() < 0.3:
                            await asyncio.sleep(0)
                        else:
                            f = loop.create_future()
                            futs.append(f)
                            await f
                except asyncio.CancelledError:
                    if not watch.timed_out():
                        raise
                    if loop.time() + 0.0001 < watch.deadline:
                        problems.append("timed_out() True before the deadline")
                    if rnd.random() < 0.5:
                        continue  # retry
                    raise TimedOut() from None
                finally:
                    deadlines.finish(watch)
                if rnd.random() < 0.3:
                    await asyncio.sleep(0)  # backoff-ish
            executions[me] = "done"
            return ("value", me)
        except BaseException as e:
            executions[me] = f"raised {type(e).__name__}"
            raise

    thens = []

    async def then(value):
        thens.append(value)
        await asyncio.sleep(0)

    cancelled = set()
    escaped = []

    async def caller():
        try:
            return await flights.run("k", work, "tag", movable=movable, detached=detached,
                                     then=then if use_then else None)
        except asyncio.CancelledError as e:
            if e.args and e.args[0] == DEADLINE_PASSED:
                escaped.append(asyncio.current_task())
            raise

    callers = []
    for _tick in range(60):
        for _a in range(rnd.randint(1, 3)):
            r = rnd.random()
            if r < 0.25 and len(callers) < 6:
                callers.append(asyncio.ensure_future(caller()))
            elif r < 0.4 and callers:
                t = rnd.choice(callers)
                if not t.done():
                    x = rnd.random()
                    if x < 0.4:
                        t.cancel(rnd.choice([None, "m"]))
                    elif x < 0.7:
                        loop.call_soon(t.cancel)
                    else:
                        loop.call_later(rnd.choice([0.0005, 0.001, 0.003]), t.cancel)
                    cancelled.add(t)
            elif r < 0.7 and futs:
                f = rnd.choice(futs)
                if not f.done():
                    x = rnd.random()
                    if x < 0.6:
                        f.set_result(None)
                    elif x < 0.8:
                        loop.call_later(rnd.choice([0.0005, 0.001, 0.003]),
                                        lambda f=f: f.done() or f.set_result(None))
                    else:
                        f.set_exception(Boom())
        for _ in range(rnd.randint(0, 2)):
            if rnd.random() < 0.2:
                await asyncio.sleep(rnd.choice([0.0005, 0.001, 0.002]))
            else:
                await asyncio.sleep(0)
    # Finish: no more completions by hand; deadlines must end everything still waiting
    # (except attempts with a 1 s deadline: complete those after a while).
    for i in range(400):
        if i > 100:
            for f in futs:
                if not f.done():
                    f.set_result(None)
        await asyncio.sleep(0.001 if i % 10 == 0 else 0)
        if all(t.done() for t in callers) and not len(flights):
            break
    await asyncio.sleep(0.002)
    for t in callers:
        if not t.done():
            problems.append(f"caller hangs (cancelled={t in cancelled})")
            continue
        if t.cancelled() or isinstance(t.exception(), asyncio.CancelledError):
            if t not in cancelled:
                problems.append("CancelledError in a caller not cancelled")
        else:
            exc = t.exception()
            if exc is not None and not isinstance(exc, (Boom, TimedOut)):
                problems.append(f"odd exception {exc!r}")
    for t in escaped:
        if t in cancelled:
            continue  # cosmetic: a cancelled caller may see the deadline's message
        problems.append("DEADLINE_PASSED cancellation escaped to a caller"
                        + (" NOT cancelled by us" if t not in cancelled else " (cancelled by us)"))
    if len(flights):
        problems.append("flight left in the dict")
    if len(deadlines):
        problems.append(f"attempts left in Deadlines: {len(deadlines)}")
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    if others:
        problems.append(f"tasks left running {others}")
    if "running" in executions:
        problems.append(f"execution never finished {executions}")
    for ctx in errors:
        problems.append(f"loop error: {ctx.get('message')} {ctx.get('exception')!r}")
    deadlines.close()
    if problems:
        problems.insert(0, f"movable={movable} detached={detached} then={use_then}")
    return problems


def _run(seed: int, *, eager: bool, pytask: bool) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            problems = asyncio.run(scenario(seed, eager, pytask))
        except BaseException as exc:  # a crash is a finding too
            problems = ["scenario crashed: " + "".join(
                traceback.format_exception_only(type(exc), exc))]
        gc.collect()
    return problems + [f"warning: {w.message}" for w in caught]


@pytest.mark.parametrize("mode", [
    "c-tasks",
    "python-tasks",  # asyncio.tasks._PyTask, through a task factory
    pytest.param("eager-tasks", marks=pytest.mark.skipif(
        sys.version_info < (3, 12), reason="asyncio.eager_task_factory arrived in 3.12")),
])
def test_random_schedules_keep_the_rules(mode: str) -> None:
    bad: dict[int, Any] = {}
    for seed in range(SEEDS):
        problems = _run(seed, eager=mode == "eager-tasks", pytask=mode == "python-tasks")
        if problems:
            bad[seed] = problems
    assert not bad, bad
