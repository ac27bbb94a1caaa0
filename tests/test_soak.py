"""Soak: 2,000 gets through get_many against a server where ~20% of answers are faulty.

Every call must end with the right object or the typed error its faults call for; nothing
may hang; afterwards no connection is held and no task is left.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import xai_models_async as xm
from tests.conftest import API_KEY, FakeSleep
from tests.test_integration import leftover_tasks
from xai_models_async.testing import FakeXAIServer, Fault, make_catalog

N = 2000
FAULTS = [
    Fault.error(503),
    Fault.error(429, retry_after=1),
    Fault.error(500),
    Fault.truncate(),
    Fault.reset(),
    Fault.non_json(),
    Fault.error(404),
]
EXPECTED_ERRORS = (
    xm.InternalServerError, xm.RateLimitError, xm.APIConnectionError,
    xm.APIResponseValidationError, xm.NotFoundError,
)


@pytest.mark.soak
async def test_soak_get_many_with_faults() -> None:
    catalog: dict[str, Any] = make_catalog(N, seed=7)
    ids = [m["id"] for m in catalog["language_models"]]
    async with FakeXAIServer(catalog) as server:
        server.inject_rate(0.2, FAULTS, path="/v1/language-models", seed=11)
        sleep = FakeSleep()
        client = xm.AsyncClient(API_KEY, base_url=server.url, sleep=sleep, max_connections=32,
                                timeout=10.0)
        async with client:
            results = await asyncio.wait_for(
                client.language_models.get_many(ids, concurrency=64, return_exceptions=True),
                timeout=120,
            )
            # Every connection was given back: a second batch as wide as the pool would
            # hang on a leaked one (the pool's limit is 32).
            server.clear_faults()
            again = await asyncio.wait_for(
                client.language_models.get_many(ids[:64], concurrency=64), timeout=10)
            assert len(again) == 64
        assert leftover_tasks() == set()

    assert len(results) == N
    ok = errors = 0
    for model_id, result in zip(ids, results, strict=True):
        if isinstance(result, xm.LanguageModel):
            assert result.id == model_id
            ok += 1
        else:
            assert isinstance(result, EXPECTED_ERRORS), repr(result)
            assert result.path.endswith(model_id.replace("/", "%2F"))
            if isinstance(result, (xm.NotFoundError, xm.APIResponseValidationError)):
                assert result.attempts >= 1  # not retryable: ends at the fault
            else:
                assert result.attempts == 3  # retryable: used every retry
            errors += 1
    # With 20% faults, two retries and 2/7 of faults final at once, most calls succeed.
    assert ok > N * 0.85
    assert errors > 0
    assert server.request_count >= N
