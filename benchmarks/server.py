"""The fixed side of every benchmark: a minimal HTTP/1.1 server for the ten endpoints.

Run as its own process (``python -m benchmarks.server --models 2000``) so that the client
under test has a core to itself and the server's CPU never counts against it. It binds
127.0.0.1 on a free port and prints ``PORT <n>`` on one line once it accepts connections.

Two implementations:

* ``raw`` (default): an ``asyncio.Protocol`` that finds the request line, looks the path up
  in a dict of complete pre-encoded responses (status line + headers + body) and writes
  them. Nothing is parsed or allocated per request beyond slicing the request head, so it
  serves a small GET several times faster than aiohttp.web — the server must not be what
  limits the fastest client.
* ``aiohttp``: plain ``aiohttp.web`` with the same pre-encoded bodies, kept to show the
  choice was measured (``python -m benchmarks.server --impl aiohttp``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from urllib.parse import unquote

from aiohttp import web

from benchmarks.catalog import Catalog, build_catalog

__all__ = ["build_responses", "serve"]

_NOT_FOUND_BODY = (
    b'{"code":"Some requested entity was not found","error":"The model does not exist '
    b'or your team does not have access to it."}'
)


def _response(status: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        b"x-request-id: bench\r\n"
        b"\r\n" + body
    )


_RESPONSE_404 = _response(b"404 Not Found", _NOT_FOUND_BODY)
_RESPONSE_405 = _response(b"405 Method Not Allowed", b'{"error":"method not allowed"}')
_RESPONSE_400 = _response(b"400 Bad Request", b'{"error":"bad request"}')


def build_responses(catalog: Catalog) -> dict[bytes, bytes]:
    """Complete HTTP responses keyed by the raw request path as bytes."""
    return {path.encode(): _response(b"200 OK", body) for path, body in catalog.bodies.items()}


class _Protocol(asyncio.Protocol):
    """Keep-alive HTTP/1.1 for bodiless GETs; enough for every client benchmarked."""

    __slots__ = ("_buffer", "_responses", "_transport")

    def __init__(self, responses: dict[bytes, bytes]) -> None:
        self._responses = responses
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        buffer = self._buffer + data if self._buffer else data
        while True:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                break
            head = buffer[:head_end]
            buffer = buffer[head_end + 4 :]
            line_end = head.find(b"\r\n")
            request_line = head if line_end < 0 else head[:line_end]
            parts = request_line.split(b" ")
            lowered = head.lower()
            # Clients send GETs without bodies; skip one anyway so the stream stays in step.
            if b"content-length:" in lowered:
                start = lowered.index(b"content-length:") + 15
                stop = lowered.find(b"\r\n", start)
                length = int(lowered[start : stop if stop >= 0 else None])
                if len(buffer) < length:
                    buffer = head + b"\r\n\r\n" + buffer
                    break
                buffer = buffer[length:]
            if len(parts) != 3:
                transport.write(_RESPONSE_400)
                transport.close()
                return
            method, target = parts[0], parts[1]
            transport.write(_RESPONSE_405 if method != b"GET" else self._lookup(target))
            if b"connection: close" in lowered or parts[2] == b"HTTP/1.0":
                transport.close()
                return
        self._buffer = buffer

    def _lookup(self, target: bytes) -> bytes:
        response = self._responses.get(target)
        if response is not None:
            return response
        # Slow path: a query string or percent-encoding (``custom%2Falias``).
        path = target.split(b"?", 1)[0]
        decoded = unquote(path.decode("latin-1")).encode("latin-1")
        return self._responses.get(decoded, _RESPONSE_404)


async def _serve_raw(responses: dict[bytes, bytes], port: int) -> asyncio.base_events.Server:
    loop = asyncio.get_running_loop()
    # A backlog well above the 64-way fan-out, so no connect ever waits in the kernel.
    return await loop.create_server(
        lambda: _Protocol(responses), "127.0.0.1", port, backlog=1024, reuse_address=True
    )


async def _serve_aiohttp(catalog: Catalog, port: int) -> web.AppRunner:

    bodies = catalog.bodies

    async def handler(request: web.Request) -> web.Response:
        body = bodies.get(request.path)
        if body is None:
            return web.Response(status=404, body=_NOT_FOUND_BODY, content_type="application/json")
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await site.start()
    return runner


async def serve(n_models: int, port: int, impl: str) -> None:
    """Serve until SIGTERM/SIGINT; announce the bound port on stdout."""
    catalog = build_catalog(n_models)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if impl == "raw":
        server = await _serve_raw(build_responses(catalog), port)
        bound = server.sockets[0].getsockname()[1]
    else:
        runner = await _serve_aiohttp(catalog, port)
        bound = runner.addresses[0][1]
    print(f"PORT {bound}", flush=True)
    await stop.wait()
    if impl == "raw":
        server.close()
    else:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--models", type=int, default=2000, help="language models in catalog")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--impl", choices=("raw", "aiohttp"), default="raw")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.models, args.port, args.impl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
