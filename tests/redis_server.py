"""A real ``redis-server`` for the tests of ``RedisCache``: no mock of Redis's behaviour.

* ``RedisServer`` (from ``tests/redis_process.py``, which the benchmarks share): starts
  ``redis-server`` on a free 127.0.0.1 port with persistence off, waits until it answers
  PING, and stops (or kills) it; ``start()`` again restarts it on the same port, empty.
* ``redis_url`` (session): ``$XAI_TEST_REDIS_URL`` when set (``.ci/run`` sets it), else a
  server of its own when ``redis-server`` is on PATH, else the test is skipped.
* ``redis_server`` (function): a server of the test's own that it may kill and restart.
* ``redis_prefix``: a key prefix no other test uses.

Import the fixtures into a test module (or a conftest) to use them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest

from tests.redis_process import REDIS_SERVER, SKIP_REASON, RedisServer, free_port, ping

__all__ = ["REDIS_SERVER", "SKIP_REASON", "RedisServer", "free_port", "ping", "redis_prefix",
           "redis_server", "redis_url"]

@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis every test may share (with its own prefix): ``$XAI_TEST_REDIS_URL``, or a
    server started for the session."""
    url = os.environ.get("XAI_TEST_REDIS_URL")
    if url:
        yield url
        return
    if shutil.which(REDIS_SERVER) is None:
        pytest.skip(SKIP_REASON)
    with RedisServer() as server:
        yield server.url


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A server of this test's own, which it may stop, kill and start again."""
    if shutil.which(REDIS_SERVER) is None:
        pytest.skip(SKIP_REASON)
    server = RedisServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix that no other test (or run sharing the same Redis) uses."""
    return f"xai-test:{uuid.uuid4().hex[:12]}:"
