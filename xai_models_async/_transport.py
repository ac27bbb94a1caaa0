"""One HTTP attempt: send a GET on the shared session, read the bytes, map the status.

Every aiohttp, asyncio and OS failure becomes an error of this library here, so nothing
above this module sees a foreign exception. Nothing here knows about retries or caching.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import time
from collections.abc import Iterator, Mapping
from typing import NamedTuple
from uuid import uuid4

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from xai_models_async._errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
)
from xai_models_async._wire import status_error

logger = logging.getLogger("xai_models_async")

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# asyncio.TimeoutError is the builtin TimeoutError only from Python 3.11 on.
_TIMEOUTS = (TimeoutError, asyncio.TimeoutError)
_MAX_REDIRECTS = 5
#: How much of an error body is read and kept on the exception: error bodies are a
#: sentence or two, and a proxy's HTML page or a hostile body must not fill memory.
ERROR_BODY_LIMIT = 64 * 1024


class Response(NamedTuple):
    """A 2xx answer, fully read (the connection is already back in the pool)."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    request_id: str | None


def join(base_url: URL, path: str) -> URL:
    """``base_url`` + an already percent-encoded ``path``, re-encoding nothing."""
    return base_url.with_path(base_url.raw_path.rstrip("/") + path, encoded=True)


async def send(
    session: aiohttp.ClientSession,
    url: URL,
    path: str,
    *,
    headers: Mapping[str, str],
    timeout: aiohttp.ClientTimeout,
    attempt: int,
    limit: int,
) -> Response:
    """GET ``url`` (whose encoded path is ``path``, for messages) once; raise an
    ``APIError`` for anything but a 2xx, and for a 2xx body over ``limit`` bytes
    (decompressed; the read stops there).

    Same-origin redirects are followed (at most five); a redirect to another origin is
    refused, so the API key never leaves the configured origin.
    """
    debug = logger.isEnabledFor(logging.DEBUG)
    started = time.perf_counter() if debug else 0.0
    for _ in range(_MAX_REDIRECTS + 1):
        try:
            # raise_for_status=False: an application's own session may default to True.
            async with session.get(
                url, headers=headers, timeout=timeout, allow_redirects=False,
                raise_for_status=False,
            ) as resp:
                status = resp.status
                try:
                    if not 200 <= status < 300:
                        body = await _read_prefix(resp, ERROR_BODY_LIMIT)
                    elif ((length := resp.content_length) is not None and length <= limit
                          and "Content-Encoding" not in resp.headers):
                        # The parser reads exactly Content-Length bytes, known to fit.
                        body = await resp.read()
                    else:
                        body = await _read_limited(resp, limit, path, attempt)
                except aiohttp.ClientPayloadError as exc:
                    raise _cut_short(resp, path, attempt) from exc
                resp_headers = resp.headers
                reason = resp.reason
        except BaseException as exc:  # mapped below; CancelledError re-raised there
            error = _connection_error(exc, path, attempt)
            if debug and isinstance(error, APIError):
                logger.debug("GET %s failed in %.1f ms (attempt %d): %s", path,
                             (time.perf_counter() - started) * 1000, attempt, error.message)
            if error is exc:
                raise  # ours already, CancelledError and friends: untouched
            raise error from exc
        request_id = resp_headers.get("x-request-id")
        if debug:
            logger.debug(
                "GET %s -> %d in %.1f ms (attempt %d, request id %s)",
                path, status, (time.perf_counter() - started) * 1000, attempt, request_id,
            )
        if 200 <= status < 300:
            return Response(status, resp_headers, body, request_id)
        if status in _REDIRECTS and "Location" in resp_headers:
            target = _redirect_target(url, resp_headers["Location"])
            if target is not None and _origin(target) == _origin(url):
                url = target
                path = target.raw_path
                continue
            raise APIStatusError(
                f"redirected to {_safe_origin(target)}; not followed, so that the API key is "
                "not sent to another origin (check the base URL)",
                status_code=status, headers=resp_headers, body=None,
                method="GET", path=path, attempts=attempt, request_id=request_id,
            )
        raise status_error(status, reason, resp_headers, body, path=path, attempt=attempt,
                           now=time.time())
    raise APIConnectionError(
        f"more than {_MAX_REDIRECTS} redirects", retryable=False,
        method="GET", path=path, attempts=attempt,
    )


def _cut_short(resp: aiohttp.ClientResponse, path: str, attempt: int) -> APIConnectionError:
    """A truncated body, said in HTTP terms: how much arrived (aiohttp's own error reads
    "400, message=..." where 400 is an internal code, not an HTTP status)."""
    received = resp.content.total_raw_bytes
    expected = resp.content_length
    of = f" of {expected:,}" if expected is not None else ""
    return APIConnectionError(
        f"the response body was cut short: the connection closed after {received:,}{of} "
        "bytes", method="GET", path=path, attempts=attempt,
        request_id=resp.headers.get("x-request-id"),
    )


async def _read_limited(
    resp: aiohttp.ClientResponse, limit: int, path: str, attempt: int
) -> bytes:
    """The whole body, or an error as soon as it passes ``limit`` bytes: compressed or
    chunked bodies are read piece by piece, so that a small gzip "bomb" stops at the limit
    instead of being inflated whole (resp.read() lifts aiohttp's decompression limit)."""
    length = resp.content_length
    if length is not None and length > limit and "Content-Encoding" not in resp.headers:
        raise _too_large(resp, limit, path, attempt, f"its Content-Length is {length:,}")
    chunks = []
    size = 0
    content = resp.content
    while chunk := await content.readany():
        size += len(chunk)
        if size > limit:
            raise _too_large(resp, limit, path, attempt, f"more than {limit:,} bytes arrived")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_prefix(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """At most about ``limit`` bytes of an error body; the rest is left unread (the
    connection is then closed rather than reused)."""
    chunks = []
    size = 0
    content = resp.content
    while size < limit and (chunk := await content.readany()):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:limit]


def _too_large(
    resp: aiohttp.ClientResponse, limit: int, path: str, attempt: int, why: str
) -> APIResponseValidationError:
    return APIResponseValidationError(
        f"the response body is larger than max_response_bytes={limit:,} ({why}); "
        "not read further",
        status_code=resp.status, method="GET", path=path, attempts=attempt,
        request_id=resp.headers.get("x-request-id"),
    )


def _origin(url: URL) -> tuple[str, str | None, int | None]:
    return (url.scheme, url.host, url.port)


def _redirect_target(url: URL, location: str) -> URL | None:
    try:
        return url.join(URL(location))
    except (ValueError, TypeError):
        return None


def _safe_origin(url: URL | None) -> str:
    if url is None or not url.host:
        return "an unreadable location"
    return f"{url.scheme}://{url.host}" + (f":{url.port}" if url.explicit_port else "")


def timed_out(path: str, attempt: int, seconds: float | None) -> APITimeoutError:
    """The error of an attempt that ran past its ``total`` time of ``seconds``."""
    limit = f" within {seconds:g} s" if seconds is not None else ""
    return APITimeoutError(
        f"the attempt timed out: no full answer arrived{limit} (the per-attempt timeout)",
        retryable=True, method="GET", path=path, attempts=attempt,
    )


def _connection_error(exc: BaseException, path: str, attempt: int) -> BaseException:
    """Map a failure of one attempt to this library's error (cancellation passes through)."""
    if isinstance(exc, APIError) or not isinstance(exc, Exception):
        return exc  # ours already, or CancelledError / KeyboardInterrupt / SystemExit

    def error(message: str, *, retryable: bool = True) -> APIConnectionError:
        cls = APITimeoutError if isinstance(exc, _TIMEOUTS) else APIConnectionError
        return cls(message, retryable=retryable, method="GET", path=path, attempts=attempt)

    # TLS first: ClientSSLError is a ClientConnectorError, and must never be retried.
    if isinstance(exc, (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch,
                        ssl.SSLError)):
        return error(f"TLS error: {exc}", retryable=False)
    # ServerTimeoutError (sock_read/connect) and a plain TimeoutError.
    if isinstance(exc, _TIMEOUTS):
        return timed_out(path, attempt, None)
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return error(f"invalid URL: {exc}", retryable=False)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return error("the response body was cut short: the connection closed before it "
                     "was complete")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return error("the server closed the connection without answering")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return error(f"cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc})")
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return error(f"{type(exc).__name__}: {exc}")
    # Anything else (a bug in a trace hook, a header aiohttp refuses) is still reported as
    # ours, but another attempt cannot fix it.
    return error(f"unexpected {type(exc).__name__}: {exc}", retryable=False)


def request_ids() -> Iterator[str]:
    """Values for ``x-client-request-id``: a random UUID4 with a call counter in its 48
    node bits, unique per call and far cheaper than ``uuid4()`` on every request."""
    prefix = str(uuid4())[:24]  # all but the 12 hex digits of "node"
    return (f"{prefix}{n & 0xFFFF_FFFF_FFFF:012x}" for n in itertools.count())
