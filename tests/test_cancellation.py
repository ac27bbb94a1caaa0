"""Regression tests for the failures a hostile review of the old request core confirmed
(issue 10, item 6) that no other test file covers. Every server is on 127.0.0.1; nothing
waits for real longer than a fraction of a second."""

from __future__ import annotations

import asyncio

import aiohttp

import xai_models_async as xm
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
