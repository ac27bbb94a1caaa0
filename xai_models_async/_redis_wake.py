"""How ``RedisCache.wait`` learns within milliseconds that a key was filled: pub/sub.

``unlock`` publishes the key on the channel ``<prefix>filled``. Each ``RedisCache`` reads
that channel through one pub/sub connection, with one listener task that runs only while
at least one ``wait()`` of that cache is running, and wakes the local waiters of the key
published. A listener that fails opens the circuit and wakes every waiter: no ``wait()``
hangs on a dead connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from xai_models_async._redis_guard import Guard, deadline

__all__ = ["Wake", "Wakeups"]

#: How long one listener read blocks before it reads again (it is cancelled when idle).
_LISTEN_POLL = 1.0


class Wake:
    """The local waiters of one key, woken together when its fill is announced."""

    __slots__ = ("count", "future")

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future
        self.count = 0


class Wakeups:
    """The waiters of one ``RedisCache`` by key, and the listener task that wakes them."""

    __slots__ = (
        "_channel",
        "_guard",
        "_redis",
        "_timeout",
        "listener",
        "n_waiting",
        "ready",
        "tasks",
        "waits",
    )

    def __init__(self, redis: Any, channel: str, timeout: float, guard: Guard) -> None:
        self._redis = redis
        self._channel = channel
        self._timeout = timeout
        self._guard = guard
        # Local waiters by key, the listener task that wakes them, the future that says
        # it is subscribed (True) or failed (False), and every listener task not finished
        # yet (a stopped one may still be closing its connection).
        self.waits: dict[str, Wake] = {}
        self.n_waiting = 0
        self.listener: asyncio.Task[None] | None = None
        self.ready: asyncio.Future[bool] | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def join(self, key: str) -> Wake:
        """Count one more waiter of ``key`` (starting the listener if none runs)."""
        wake = self.waits.get(key)
        if wake is None:
            wake = self.waits[key] = Wake(asyncio.get_running_loop().create_future())
        wake.count += 1
        self.n_waiting += 1
        if self.listener is None:
            loop = asyncio.get_running_loop()
            self.ready = loop.create_future()
            # The new listener first lets stopped ones finish: one connection at a time.
            previous = frozenset(self.tasks)
            task = self.listener = loop.create_task(self._listen(self.ready, previous))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return wake

    async def subscribed(self) -> bool:
        """Whether the listener is subscribed, within ``timeout`` (after ``join``); its
        not answering in time is Redis trouble."""
        ready = self.ready
        assert ready is not None
        done, _ = await asyncio.wait({ready}, timeout=self._timeout)
        if not done:
            self._guard.failed(TimeoutError("no answer to SUBSCRIBE"))
            return False
        return ready.result()

    def leave(self, key: str, wake: Wake) -> None:
        wake.count -= 1
        if wake.count == 0 and self.waits.get(key) is wake:
            del self.waits[key]
        self.n_waiting -= 1
        if self.n_waiting == 0 and self.listener is not None:
            # Nobody waits: stop listening (a later wait() starts a new listener).
            self.listener.cancel()
            self.listener = None

    def stop(self) -> set[asyncio.Task[None]]:
        """Wake every waiter and forget the listener (for close()); the listener tasks
        still to cancel and await."""
        self.wake_all()
        self.listener = None
        return set(self.tasks)

    def dispatch(self, data: Any) -> None:
        key = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        wake = self.waits.pop(key, None)
        if wake is not None and not wake.future.done():
            wake.future.set_result(None)

    def wake_all(self) -> None:
        waits = list(self.waits.values())
        self.waits.clear()
        for wake in waits:
            if not wake.future.done():
                wake.future.set_result(None)

    async def _listen(
        self, ready: asyncio.Future[bool], previous: frozenset[asyncio.Task[None]]
    ) -> None:
        """Subscribe, say so through ``ready``, then wake local waiters by the keys
        published, until cancelled (nobody waits, or close()). Never ends with an
        exception other than its cancellation: a failure opens the circuit and wakes
        every waiter."""
        if previous:
            await asyncio.wait(previous)
        pubsub = self._redis.pubsub()
        try:
            async with deadline(self._timeout):
                await pubsub.subscribe(self._channel)
                while not ready.done():
                    message = await pubsub.get_message(timeout=self._timeout)
                    if message is not None and message.get("type") == "subscribe":
                        ready.set_result(True)
            while True:
                message = await pubsub.get_message(timeout=_LISTEN_POLL)
                if message is not None and message.get("type") == "message":
                    self.dispatch(message.get("data"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Redis trouble (or a bug below us): no waiter may hang on a dead listener.
            self._guard.failed(exc)
            if self.listener is asyncio.current_task():
                self.listener = None
            self.wake_all()
        finally:
            if not ready.done():
                ready.set_result(False)
            with contextlib.suppress(Exception):
                close = getattr(pubsub, "aclose", None) or pubsub.reset
                async with deadline(self._timeout):
                    await close()
