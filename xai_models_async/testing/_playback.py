"""How the fake server answers on the wire: normal responses, and faults acted out
(resets, half bodies, HTML pages, error statuses)."""

from __future__ import annotations

import asyncio
import socket
import struct
import uuid
from collections.abc import Mapping

from aiohttp import web
from multidict import CIMultiDict

from xai_models_async.testing._answers import BAD_GATEWAY_HTML, Answer, default_error_body
from xai_models_async.testing._faults import Fault

__all__ = ["play", "respond"]


def headers(
    extra: Mapping[str, str] | None, content_type: str = "application/json"
) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict(
        {"Content-Type": content_type, "x-request-id": str(uuid.uuid4())}
    )
    if extra:
        # update() replaces case-insensitively, so a fault can override Content-Type.
        headers.update(extra)
    return headers

def respond(
    status: int,
    body: bytes,
    extra: Mapping[str, str] | None,
    content_type: str = "application/json",
) -> web.Response:
    return web.Response(status=status, body=body, headers=headers(extra, content_type))

async def play(fault: Fault, request: web.BaseRequest, normal: Answer) -> web.StreamResponse:
    """Act out ``fault`` for ``request``, whose normal answer is ``normal``."""
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
        return respond(200, BAD_GATEWAY_HTML, fault.headers, "text/html")
    if fault.kind == "truncate":
        return await _truncate(request, normal)

    status, body, answer_headers = normal
    extra: Mapping[str, str] | None = answer_headers
    if fault.headers:
        extra = {**(answer_headers or {}), **fault.headers}
    if fault.status is None:
        return respond(status, body, extra)
    if fault.encoded_body is not None:
        body = fault.encoded_body
    elif fault.status >= 400:
        body = default_error_body(fault.status)
    elif fault.status in (204, 304):
        body = b""
    return respond(fault.status, body, extra)

async def _truncate(request: web.BaseRequest, normal: Answer) -> web.StreamResponse:
    """The headers of ``normal`` with its full Content-Length, half the body, an abort."""
    status, body, extra = normal
    response = web.StreamResponse(status=status, headers=headers(extra))
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
