"""FakeXAIServer: an xAI-compatible models API on 127.0.0.1, with faults and counters."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import msgspec
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from xai_models_async.testing._answers import Answer, answer
from xai_models_async.testing._catalog import EncodedCatalog, load_catalog
from xai_models_async.testing._faults import Fault, FaultPlan
from xai_models_async.testing._playback import play, respond

__all__ = ["FakeXAIServer", "RecordedRequest"]

@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the fake server received it.

    Attributes:
        method: ``"GET"``, ``"POST"``, ...
        path: the path as sent on the wire, still percent-encoded, without the query
            string (``"/v1/models/custom%2Falias"``).
        headers: the request headers with lower-cased names; repeated headers are joined
            with ``", "``.
        connection_id: which TCP connection carried the request (1, 2, ... in accept
            order), so a test can tell reused connections from new ones.
    """

    method: str
    path: str
    headers: dict[str, str]
    connection_id: int


class _CountingServer(web.Server):
    """A low-level aiohttp server that reports each TCP connection's start and end.

    ``RequestHandler`` (the per-connection protocol) calls these two hooks from its own
    ``connection_made``/``connection_lost``, so the counts are the socket's, not guesses.
    """

    def __init__(self, owner: FakeXAIServer, **kwargs: Any) -> None:
        super().__init__(owner._handle, **kwargs)
        self._owner = owner

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        self._owner._connection_made(handler)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        super().connection_lost(handler, exc)
        self._owner._connection_lost(handler)


class FakeXAIServer:
    """A local, xAI-compatible models API server with fault injection and counters.

    It serves the ten read-only endpoints the way the live service does:

    * ``GET /v1/models`` -> ``{"object": "list", "data": [...]}`` and
      ``GET /v1/models/{id}`` -> one object;
    * ``GET /v1/language-models``, ``/v1/image-generation-models``,
      ``/v1/video-generation-models`` and ``/v1/embedding-models`` -> ``{"models":
      [...]}``, and ``/{id}`` under each.

    ``{id}`` is one percent-encoded path segment (``custom%2Falias`` finds ``custom/alias``)
    and is looked up by id only: aliases are not resolved. An unknown id is a ``404``
    ``{"code": "Some requested entity was not found", "error": "The model X does not exist
    or your team <team id> does not have access to it."}``; an unknown path is a ``404`` of
    the same shape; another method than GET on a known path is a ``405``.

    Every request must carry ``Authorization: Bearer <key>``, else ``401``
    ``{"code": "Unauthenticated", ...}``. With ``api_key`` set, any other key gets the
    live service's ``400`` ``{"code": "Client specified an invalid argument", "error":
    "Incorrect API key provided: xa***yz. ..."}`` (the key masked to its first and last two
    characters). With ``api_key=None`` any non-empty key is accepted. Authentication is
    checked before routing, as on the live service; injected faults come before both.

    Every HTTP answer carries an ``x-request-id`` (a uuid4) and, unless a fault says
    otherwise, ``content-type: application/json``. Bodies are encoded once per catalog.

    Use it as an async context manager::

        async with FakeXAIServer(api_key="xai-test") as server:
            server.inject(Fault.error(503, retry_after=1), path="/v1/models")
            ...  # point a client at server.url with api_key="xai-test"
            assert server.count("/v1/models") == 2

    Args:
        catalog: ``None`` for :func:`default_catalog` (the examples of xAI's API
            reference and OpenAPI file); a mapping with any of the keys ``"models"``,
            ``"language_models"``, ``"image_generation_models"``,
            ``"video_generation_models"`` and ``"embedding_models"``, each a list of
            JSON-able objects exactly as the endpoints return them (a missing key serves an
            empty list); or the path of a JSON file of that shape. Validated here:
            ``ValueError`` names the problem.
        api_key: the one key to accept, or ``None`` to accept any.
        host: the address to listen on. Keep the default for tests.
        port: ``0`` picks a free port; read it back from :attr:`url` or :attr:`port`.

    The server is single-use: :meth:`start` may be called once; :meth:`close` is
    idempotent. All methods must be called from the event loop the server runs on.
    """

    #: The team id quoted in "does not have access" messages.
    team_id: str = "f5a2d2e4-3b1c-4e8a-9d6f-000000fa4e00"

    def __init__(
        self,
        catalog: Mapping[str, Sequence[Mapping[str, Any]]] | str | os.PathLike[str] | None = None,
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if api_key is not None and (not isinstance(api_key, str) or not api_key):
            raise ValueError("api_key must be None or a non-empty str")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int within 0..65535, got {port!r}")
        self._catalog = EncodedCatalog(load_catalog(catalog))
        self._api_key = api_key
        self._host = host
        self._port = port
        self._state = "new"
        self._runner: web.ServerRunner | None = None
        self._faults = FaultPlan()
        self._requests: list[RecordedRequest] = []
        self._path_counts: Counter[str] = Counter()
        self._connection_ids: dict[RequestHandler, int] = {}
        self._last_connection_id = 0
        self._connection_count = 0
        self._max_open = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start listening. ``RuntimeError`` if already started or closed."""
        if self._state != "new":
            raise RuntimeError(f"FakeXAIServer cannot start: it is {self._state}")
        self._state = "starting"
        server = _CountingServer(
            self,
            # A client that gives up (timeout) cancels the handler, so a slow fault does
            # not keep running, and close() has nothing to wait for.
            handler_cancellation=True,
            access_log=None,
        )
        # In-flight answers take microseconds; only an injected delay can still be
        # pending at close, and waiting for it would only slow the test down.
        runner = web.ServerRunner(server, shutdown_timeout=0.1)
        try:
            await runner.setup()
            site = web.TCPSite(runner, self._host, self._port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            self._state = "new"
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]
        self._state = "started"

    async def close(self) -> None:
        """Stop listening and close every connection. Safe to call more than once."""
        runner, self._runner = self._runner, None
        if self._state == "new":
            self._state = "closed"
        if runner is None:
            return
        self._state = "closed"
        await runner.cleanup()

    async def __aenter__(self) -> FakeXAIServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """``"http://127.0.0.1:PORT"``: no trailing slash, no ``/v1``. Needs a started server."""
        if self._state != "started":
            raise RuntimeError(f"FakeXAIServer has no url: it is {self._state}")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def port(self) -> int:
        """The bound port (the requested one until started)."""
        return self._port

    def __repr__(self) -> str:
        where = self.url if self._state == "started" else self._state
        return f"<FakeXAIServer {where} requests={len(self._requests)}>"

    # ------------------------------------------------------------------ catalog

    @property
    def catalog(self) -> dict[str, list[dict[str, Any]]]:
        """A deep copy of the catalog being served."""
        data: dict[str, list[dict[str, Any]]] = msgspec.json.decode(
            msgspec.json.encode(self._catalog.data)
        )
        return data

    def set_catalog(
        self, catalog: Mapping[str, Sequence[Mapping[str, Any]]] | str | os.PathLike[str] | None
    ) -> None:
        """Serve another catalog from the next request on (same forms as the constructor)."""
        self._catalog = EncodedCatalog(load_catalog(catalog))

    # ------------------------------------------------------------------ faults

    def inject(self, fault: Fault, *, path: str | None = None, times: int = 1) -> None:
        """Give ``fault`` to the next ``times`` requests whose path matches ``path``.

        ``path=None`` matches every request; otherwise ``path`` matches itself and,
        as a prefix ending at ``/``, everything under it: ``"/v1/language-models"``
        matches the list and every get below it, but not ``"/v1/language-models-x"``.
        Paths are compared as sent, percent-encoded and without the query string.
        Rules are checked in the order they were added; the first one that matches
        and still has uses left wins.
        """
        self._faults.add_counted(fault, path, times)

    def inject_rate(
        self,
        rate: float,
        faults: Sequence[Fault],
        *,
        path: str | None = None,
        seed: int = 0,
    ) -> None:
        """Fault each matching request with probability ``rate`` (0..1), until cleared.

        The fault is picked uniformly from ``faults``. Both choices come from
        ``random.Random(seed)``, so the same requests in the same order fault the same
        way on every run. A request this rule spares falls through to later rules.
        """
        self._faults.add_rate(rate, faults, path, seed)

    def clear_faults(self) -> None:
        """Remove every injected fault rule, used up or not."""
        self._faults.clear()

    # ------------------------------------------------------------------ counters

    @property
    def request_count(self) -> int:
        """HTTP requests received since start (or :meth:`reset_counters`), faulted or not."""
        return len(self._requests)

    @property
    def requests(self) -> list[RecordedRequest]:
        """The received requests in arrival order (a copy)."""
        return list(self._requests)

    def count(self, path: str) -> int:
        """How many requests had exactly this path (percent-encoded, no query string)."""
        return self._path_counts[path]

    @property
    def connection_count(self) -> int:
        """TCP connections accepted so far."""
        return self._connection_count

    @property
    def open_connections(self) -> int:
        """TCP connections open right now."""
        return len(self._connection_ids)

    @property
    def max_open_connections(self) -> int:
        """The most TCP connections that were open at the same time."""
        return self._max_open

    def reset_counters(self) -> None:
        """Forget recorded requests and connection counts; keep open connections' ids.

        After this, ``max_open_connections`` restarts from the connections open now.
        """
        self._requests.clear()
        self._path_counts.clear()
        self._connection_count = 0
        self._max_open = len(self._connection_ids)

    def _connection_made(self, handler: RequestHandler) -> None:
        self._last_connection_id += 1
        self._connection_ids[handler] = self._last_connection_id
        self._connection_count += 1
        self._max_open = max(self._max_open, len(self._connection_ids))

    def _connection_lost(self, handler: RequestHandler) -> None:
        self._connection_ids.pop(handler, None)

    # ------------------------------------------------------------------ serving

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.rel_url.raw_path
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        self._requests.append(
            RecordedRequest(
                request.method, path, headers, self._connection_ids.get(request.protocol, 0)
            )
        )
        self._path_counts[path] += 1
        fault = self._faults.take(path)
        if fault is None:
            return respond(*self._answer(request, path))
        return await play(fault, request, self._answer(request, path))

    def _answer(self, request: web.BaseRequest, path: str) -> Answer:
        """The normal answer: (status, body, extra headers)."""
        return answer(self._catalog, request.method, path,
                      request.headers.get("Authorization", ""), self._api_key, self.team_id)
