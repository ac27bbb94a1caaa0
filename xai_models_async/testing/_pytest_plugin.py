"""pytest plugin (entry point ``pytest11``): the ``xai_server`` fixture.

Loaded into every pytest run where this package is installed, so it imports nothing
heavy at module level and defines the fixture only when pytest-asyncio is available.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xai_models_async.testing import FakeXAIServer

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
