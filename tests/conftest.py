"""Shared fixtures: aioresponses (`mocked`), the spec's example bodies, a clean environment."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aioresponses import aioresponses

import xai_models_async as xm
from xai_models_async.testing import FakeXAIServer
from xai_models_async.testing._mock import _MockAPI

SPEC = Path(__file__).resolve().parent / "data" / "xai-models-api.md"

# --- aioresponses -------------------------------------------------------------------
# aioresponses 0.7.9 cannot build responses on aiohttp 3.14 (upstream issue 289); the
# package ships the work-around as xai_models_async.testing.mock_api and the `xai_mock`
# fixture of its pytest plugin, which these tests use like any user would.

# The class of what mock_api() returns, under the name the tests have long used (to
# annotate `mocked`, and to build one outside a fixture).
CompatAioresponses = _MockAPI


@pytest.fixture
def mocked(xai_mock: aioresponses) -> aioresponses:
    """Intercepts aiohttp requests; nothing reaches the network."""
    return xai_mock


# --- spec examples -------------------------------------------------------------------


def spec_examples() -> list[dict[str, Any]]:
    """The eight JSON example bodies of the reference, in document order: models list,
    model get, language list, language get, image list, image get, video list, video get."""
    text = SPEC.read_text(encoding="utf-8")
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


@pytest.fixture
def examples() -> list[dict[str, Any]]:
    return spec_examples()


# --- environment ---------------------------------------------------------------------

API_KEY = "xai-TESTKEY1234567890abcdef"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's real XAI_* settings."""
    for name in ("XAI_API_KEY", "XAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


class FakeSleep:
    """An injectable sleep that records the delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
def fake_sleep() -> FakeSleep:
    return FakeSleep()


# --- the local server ----------------------------------------------------------------


@pytest_asyncio.fixture
async def server() -> AsyncIterator[FakeXAIServer]:
    """A FakeXAIServer on 127.0.0.1 with the reference's example models."""
    async with FakeXAIServer() as srv:
        yield srv


def client_for(server: FakeXAIServer, **kwargs: Any) -> xm.AsyncClient:
    """A client of ``server`` that does not retry unless told to."""
    kwargs.setdefault("retry", xm.RetryPolicy.none())
    return xm.AsyncClient(api_key="k", base_url=server.url, **kwargs)
