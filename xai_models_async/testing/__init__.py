"""A local, xAI-compatible models API server for tests and demos: no key, no network.

``FakeXAIServer`` serves the ten read-only models endpoints on 127.0.0.1 from a catalog
(by default the examples of xAI's API reference and OpenAPI file), behaves like the live
service on errors (404 shapes, 401/400 auth, ``x-request-id``), and can inject faults
(error statuses, delays, resets, truncated or non-JSON bodies) while counting requests and
TCP connections.

``mock_api()`` is ``aioresponses()`` made to work with this client on aiohttp 3.14
(aioresponses issue 289), for tests that mock responses instead of serving them; it needs
``pip install aioresponses``.

The pytest plugin shipped with the package adds an ``xai_server`` fixture (a started
``FakeXAIServer`` with the default catalog) when pytest-asyncio is installed, and an
``xai_mock`` fixture (a started ``mock_api()``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xai_models_async.testing._catalog import default_catalog, make_catalog
    from xai_models_async.testing._faults import Fault
    from xai_models_async.testing._mock import mock_api
    from xai_models_async.testing._server import FakeXAIServer, RecordedRequest

__all__ = [
    "FakeXAIServer",
    "Fault",
    "RecordedRequest",
    "default_catalog",
    "make_catalog",
    "mock_api",
]

# Resolved on first use: the pytest plugin lives in this package and is imported into
# every pytest run, which must not pay for the server (aiohttp.web) unless it is used,
# and aioresponses (mock_api) is a test-time dependency the client never needs.
_LAZY: dict[str, str] = {
    "FakeXAIServer": "_server",
    "RecordedRequest": "_server",
    "Fault": "_faults",
    "default_catalog": "_catalog",
    "make_catalog": "_catalog",
    "mock_api": "_mock",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
