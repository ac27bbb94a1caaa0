"""Shared fixtures: the aioresponses shim, the spec's example bodies, a clean environment."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aioresponses import aioresponses

import xai_models_async as xm
from xai_models_async.testing import FakeXAIServer

SPEC = Path(__file__).resolve().parent / "data" / "xai-models-api.md"

# --- aioresponses shim -----------------------------------------------------------------
# aioresponses 0.7.9 builds ClientResponse without the `stream_writer` argument that
# aiohttp 3.14 made required (upstream aioresponses issue 289), so every mocked request
# fails with "ClientResponse.__init__() missing ... 'stream_writer'". aioresponses accepts
# a `response_class`; this subclass supplies a do-nothing writer (the request was "sent"
# already, so aiohttp only reads its output_size). Remove once aioresponses > 0.7.9 ships
# the fix. Only public hooks of both libraries are used.


class _SentWriter:
    output_size = 0


class CompatClientResponse(aiohttp.ClientResponse):
    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _SentWriter())
        super().__init__(method, url, **kwargs)


class CompatAioresponses(aioresponses):
    """aioresponses with ``response_class`` defaulting to the 3.14-compatible class."""

    def add(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        if kwargs.get("response_class") is None:
            kwargs["response_class"] = CompatClientResponse
        super().add(*args, **kwargs)


@pytest.fixture
def mocked() -> Iterator[CompatAioresponses]:
    """Intercepts aiohttp requests; nothing reaches the network."""
    with CompatAioresponses() as m:
        yield m


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
