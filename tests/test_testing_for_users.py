"""A user's own test file, written from README.md's "Testing your own code" alone, passes.

The file below uses only what that section tells a user: the ``xai_server`` fixture with
``Fault`` injection, a ``FakeXAIServer`` of their own, the ``xai_mock`` fixture, and
``mock_api()`` as a context manager where ``aioresponses()`` used to be. It runs with
pytest in a subprocess of this interpreter, from a directory of its own (none of this
project's conftest or settings), the way a user's project would: once with
pytest-asyncio's markers (strict mode), once with ``asyncio_mode = auto`` and no markers.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests._sandbox import clean_env, run_sandboxed

USER_TESTS = '''\
import pytest

import xai_models_async as xm
from xai_models_async.testing import FakeXAIServer, Fault, mock_api

API = "https://api.x.ai"
GROK_3 = {"id": "grok-3", "created": 1, "owned_by": "xai"}


async def no_wait(seconds: float) -> None:
    pass


async def cheapest_language_model(client: xm.AsyncClient) -> str:
    """The user's code under test."""
    models = await client.language_models.list()
    return min(models, key=lambda m: m.prompt_price_per_million).id


@pytest.mark.asyncio
async def test_retried_through_a_503(xai_server: FakeXAIServer) -> None:
    xai_server.inject(Fault.error(503), path="/v1/language-models", times=1)
    async with xm.AsyncClient("any-key", base_url=xai_server.url, sleep=no_wait) as client:
        assert await cheapest_language_model(client) == "grok-3-mini"
    assert xai_server.count("/v1/language-models") == 2


@pytest.mark.asyncio
async def test_a_server_of_my_own_with_a_rate_limit() -> None:
    async with FakeXAIServer() as server:
        server.inject(Fault.error(429, retry_after=0), times=3)
        async with xm.AsyncClient("any-key", base_url=server.url, sleep=no_wait,
                                  retry=xm.RetryPolicy(max_retries=1)) as client:
            with pytest.raises(xm.RateLimitError):
                await client.models.list()
        assert server.request_count == 2


@pytest.mark.asyncio
async def test_the_mock_fixture(xai_mock) -> None:
    xai_mock.get(API + "/v1/models/grok-3", payload=GROK_3)
    async with xm.AsyncClient("any-key") as client:
        assert (await client.models.get("grok-3")).owned_by == "xai"


@pytest.mark.asyncio
async def test_the_mock_context_manager() -> None:
    with mock_api() as m:
        m.get(API + "/v1/models/grok-9", status=404, payload={"error": "no such model"})
        m.get(API + "/v1/models", status=503, repeat=True)
        async with xm.AsyncClient("any-key", sleep=no_wait) as client:
            with pytest.raises(xm.NotFoundError, match="no such model"):
                await client.models.get("grok-9")
            with pytest.raises(xm.InternalServerError):
                await client.models.list()
'''

SETTINGS = {
    # pytest-asyncio asks every project to choose the loop scope of async fixtures.
    "strict": "[pytest]\nasyncio_default_fixture_loop_scope = function\n",
    "auto": "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n",
}


@pytest.mark.parametrize("mode", ["strict", "auto"])
async def test_a_users_test_file_passes(mode: str, tmp_path: Path) -> None:
    code = USER_TESTS
    if mode == "auto":
        code = code.replace("@pytest.mark.asyncio\n", "")
    (tmp_path / "pytest.ini").write_text(SETTINGS[mode], encoding="utf-8")
    (tmp_path / "test_my_app.py").write_text(code, encoding="utf-8")
    status, out = await run_sandboxed(
        ["pytest", "-p", "no:cacheprovider", "-q", "test_my_app.py"],
        cwd=tmp_path, env=clean_env(),
    )
    assert status == 0, out
    assert re.search(r"\b4 passed\b", out), out
