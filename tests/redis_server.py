"""A real ``redis-server`` for the tests of ``RedisCache``: no mock of Redis's behaviour.

* ``RedisServer``: starts ``redis-server`` on a free 127.0.0.1 port with persistence off,
  waits until it answers PING, and stops (or kills) it; ``start()`` again restarts it on
  the same port, empty.
* ``redis_url`` (session): ``$XAI_TEST_REDIS_URL`` when set (``.ci/run`` sets it), else a
  server of its own when ``redis-server`` is on PATH, else the test is skipped.
* ``redis_server`` (function): a server of the test's own that it may kill and restart.
* ``redis_prefix``: a key prefix no other test uses.

Import the fixtures into a test module (or a conftest) to use them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

REDIS_SERVER = "redis-server"
SKIP_REASON = "redis-server not found: apt-get install redis-server"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ping(port: int, timeout: float = 0.2) -> bool:
    """Whether a Redis on 127.0.0.1:port answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1; restartable on the same port."""

    def __init__(self, port: int | None = None, executable: str | None = None) -> None:
        found = executable or shutil.which(REDIS_SERVER)
        if found is None:
            raise FileNotFoundError(SKIP_REASON)
        self.executable = found
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--protected-mode", "no",
                "--loglevel", "warning",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while not ping(self.port):
            if self.process.poll() is not None:
                stderr = self.process.stderr
                err = stderr.read().decode(errors="replace") if stderr is not None else ""
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: {err}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer PING on port {self.port}")
            time.sleep(0.005)

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server (``kill``: SIGKILL, as a crash would) and wait until it is gone."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        finally:
            if process.stderr is not None:
                process.stderr.close()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


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
