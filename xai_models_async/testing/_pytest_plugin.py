"""pytest plugin (entry point ``pytest11``): the ``xai_server`` and ``xai_mock`` fixtures.

Loaded into every pytest run where this package is installed, so it imports nothing
heavy at module level: the server (aiohttp.web) and aioresponses are imported by the
fixtures when a test uses them. ``xai_server`` is defined only when pytest-asyncio is
available; ``xai_mock`` always is, and fails with an ``ImportError`` naming
``pip install aioresponses`` when a test uses it without aioresponses.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from aioresponses import aioresponses

    from xai_models_async.testing import FakeXAIServer


@pytest.fixture
def xai_mock() -> Iterator[aioresponses]:
    """A started ``mock_api()``: aioresponses that works with this client on aiohttp 3.14.

    Register responses by URL (``xai_mock.get("https://api.x.ai/v1/models", payload=...)``);
    a request that matches none fails with a connection error. Stopped when the test ends.
    """
    from xai_models_async.testing import mock_api

    with mock_api() as mock:
        yield mock


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - without pytest-asyncio there is no fixture
    pass
else:

    @pytest_asyncio.fixture
    async def xai_server() -> AsyncIterator[FakeXAIServer]:
        """A started ``FakeXAIServer`` on 127.0.0.1 with the default catalog.

        Any non-empty bearer key is accepted; faults and counters start empty. Closed when
        the test ends.
        """
        from xai_models_async.testing import FakeXAIServer

        async with FakeXAIServer() as server:
            yield server
