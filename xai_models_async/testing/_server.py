"""FakeXAIServer: an xAI-compatible models API on 127.0.0.1, with faults and counters."""

from __future__ import annotations

import asyncio
import hmac
import os
import socket
import struct
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import unquote

import msgspec
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from multidict import CIMultiDict

from xai_models_async.testing._catalog import EncodedCatalog, load_catalog
from xai_models_async.testing._faults import Fault, FaultPlan

__all__ = ["FakeXAIServer", "RecordedRequest"]

# URL segment after /v1/ -> catalog key.
_ROUTES: dict[str, str] = {
    "models": "models",
    "language-models": "language_models",
    "image-generation-models": "image_generation_models",
    "video-generation-models": "video_generation_models",
    "embedding-models": "embedding_models",
}

_NOT_FOUND = "Some requested entity was not found"

# Live-shaped default bodies for injected error statuses. xAI's "code" values are the
# descriptions of gRPC status codes, so the same sentences are used here.
_ERROR_TEXTS: dict[int, tuple[str, str]] = {
    400: ("Client specified an invalid argument", "The request was rejected as invalid."),
    401: ("Unauthenticated", "The provided API key could not be authenticated."),
    403: (
        "The caller does not have permission to execute the specified operation",
        "Your team does not have any credits or licenses to use this endpoint.",
    ),
    404: (_NOT_FOUND, "The requested entity does not exist."),
    408: (
        "The deadline expired before the operation could complete",
        "The request timed out.",
    ),
    409: ("The operation was aborted", "The request conflicted with another request."),
    429: (
        "Some resource has been exhausted",
        "Too many requests: your team has exceeded its rate limit.",
    ),
    500: ("Internal error", "An internal error occurred. Please try again later."),
    502: ("The service is currently unavailable", "Bad gateway."),
    503: ("The service is currently unavailable", "The service is temporarily unavailable."),
    504: (
        "The deadline expired before the operation could complete",
        "The upstream service did not answer in time.",
    ),
    529: ("The service is currently unavailable", "The service is overloaded."),
}

_BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>bad gateway</center>\r\n"
    b"</body>\r\n</html>\r\n"
)

_Answer = tuple[int, bytes, "dict[str, str] | None"]


def _error(code: str, message: str) -> bytes:
    return msgspec.json.encode({"code": code, "error": message})


def _default_error_body(status: int) -> bytes:
    texts = _ERROR_TEXTS.get(status)
    if texts is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown error"
        texts = (phrase, f"The request failed with HTTP {status}.")
    return _error(*texts)


def _mask_key(key: str) -> str:
    # Short keys are masked entirely: first-2 + last-2 of a 4-character key is the key.
    return f"{key[:2]}***{key[-2:]}" if len(key) > 4 else "***"


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
            return self._respond(*self._answer(request, path))
        return await self._play(fault, request, path)

    def _answer(self, request: web.BaseRequest, path: str) -> _Answer:
        """The normal answer: (status, body, extra headers)."""
        auth = request.headers.get("Authorization", "")
        scheme, _, key = auth.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return (
                401,
                _error(
                    "Unauthenticated",
                    "No API key provided. Specify your API key in an Authorization header using "
                    "Bearer auth (Authorization: Bearer <your API key>). You can obtain an API "
                    "key from https://console.x.ai.",
                ),
                None,
            )
        if self._api_key is not None and not hmac.compare_digest(
            key.encode(), self._api_key.encode()
        ):
            return (
                400,
                _error(
                    "Client specified an invalid argument",
                    f"Incorrect API key provided: {_mask_key(key)}. "
                    "You can obtain an API key from https://console.x.ai.",
                ),
                None,
            )

        parts = path.split("/")
        # parts of "/v1/models/x" are ["", "v1", "models", "x"].
        family = _ROUTES.get(parts[2]) if len(parts) in (3, 4) and parts[1] == "v1" else None
        if family is None or (len(parts) == 4 and not parts[3]):
            return 404, _error(_NOT_FOUND, f"The requested path {path} does not exist."), None
        if request.method != "GET":
            return (
                405,
                _error(
                    "Method Not Allowed",
                    f"Method {request.method} is not allowed on {path}; only GET is.",
                ),
                {"Allow": "GET"},
            )
        if len(parts) == 3:
            return 200, self._catalog.lists[family], None
        model_id = unquote(parts[3])
        body = self._catalog.objects[family].get(model_id)
        if body is None:
            return (
                404,
                _error(
                    _NOT_FOUND,
                    f"The model {model_id} does not exist or your team {self.team_id} "
                    "does not have access to it.",
                ),
                None,
            )
        return 200, body, None

    @staticmethod
    def _headers(
        extra: Mapping[str, str] | None, content_type: str = "application/json"
    ) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict(
            {"Content-Type": content_type, "x-request-id": str(uuid.uuid4())}
        )
        if extra:
            # update() replaces case-insensitively, so a fault can override Content-Type.
            headers.update(extra)
        return headers

    def _respond(
        self,
        status: int,
        body: bytes,
        extra: Mapping[str, str] | None,
        content_type: str = "application/json",
    ) -> web.Response:
        return web.Response(status=status, body=body, headers=self._headers(extra, content_type))

    async def _play(self, fault: Fault, request: web.BaseRequest, path: str) -> web.StreamResponse:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        transport = request.transport
        if fault.kind in ("reset", "disconnect"):
            if transport is not None:
                if fault.kind == "reset":
                    sock = transport.get_extra_info("socket")
                    if sock is not None:
                        # Linger 0 turns close into a TCP RST, not a FIN.
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                    transport.abort()
                else:
                    transport.close()
            # Never sent: the transport is closing, and aiohttp treats the failed write as
            # a client that went away.
            return web.Response()
        if fault.kind == "non_json":
            return self._respond(200, _BAD_GATEWAY_HTML, fault.headers, "text/html")
        if fault.kind == "truncate":
            return await self._truncate(request, path, fault)

        status, body, answer_headers = self._answer(request, path)
        extra: Mapping[str, str] | None = answer_headers
        if fault.headers:
            extra = {**(answer_headers or {}), **fault.headers}
        if fault.status is None:
            return self._respond(status, body, extra)
        if fault.encoded_body is not None:
            body = fault.encoded_body
        elif fault.status >= 400:
            body = _default_error_body(fault.status)
        elif fault.status in (204, 304):
            body = b""
        return self._respond(fault.status, body, extra)

    async def _truncate(
        self, request: web.BaseRequest, path: str, fault: Fault
    ) -> web.StreamResponse:
        status, body, extra = self._answer(request, path)
        response = web.StreamResponse(status=status, headers=self._headers(extra))
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        transport = request.transport
        if transport is not None:
            # abort() drops whatever is still buffered; let the half body reach the socket.
            for _ in range(1000):
                if transport.is_closing() or not transport.get_write_buffer_size():
                    break
                await asyncio.sleep(0.001)
            transport.abort()
        return response
