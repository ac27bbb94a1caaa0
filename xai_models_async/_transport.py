"""One HTTP attempt: send a GET on the shared session, read the bytes, map the status.

Every aiohttp, asyncio and OS failure becomes an error of this library here, so nothing
above this module sees a foreign exception. Nothing here knows about retries or caching.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Mapping
from typing import NamedTuple

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from xai_models_async._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    parse_error_body,
    status_error_class,
)
from xai_models_async._retry import parse_retry_after

logger = logging.getLogger("xai_models_async")

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# asyncio.TimeoutError is the builtin TimeoutError only from Python 3.11 on.
_TIMEOUTS = (TimeoutError, asyncio.TimeoutError)
_MAX_REDIRECTS = 5


class Response(NamedTuple):
    """A 2xx answer, fully read (the connection is already back in the pool)."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    request_id: str | None


def origin(url: URL) -> tuple[str, str | None, int | None]:
    return (url.scheme, url.host, url.port)


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
) -> Response:
    """GET ``url`` (whose encoded path is ``path``, for messages) once; raise an
    ``APIError`` for anything but a 2xx.

    Same-origin redirects are followed (at most five); a redirect to another origin is
    refused, so the API key never leaves the configured origin.
    """
    debug = logger.isEnabledFor(logging.DEBUG)
    started = time.perf_counter() if debug else 0.0
    home: tuple[str, str | None, int | None] | None = None  # computed on a redirect only
    for _ in range(_MAX_REDIRECTS + 1):
        try:
            # raise_for_status=False: an application's own session may default to True.
            async with session.get(
                url, headers=headers, timeout=timeout, allow_redirects=False,
                raise_for_status=False,
            ) as resp:
                body = await resp.read()
                status = resp.status
                resp_headers = resp.headers
                reason = resp.reason
        except BaseException as exc:  # mapped below; CancelledError re-raised there
            error = _connection_error(exc, path, attempt)
            if error is exc:
                raise  # CancelledError and friends, untouched
            if debug and isinstance(error, APIError):
                logger.debug("GET %s failed in %.1f ms (attempt %d): %s", path,
                             (time.perf_counter() - started) * 1000, attempt, error.message)
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
            if home is None:
                home = origin(url)
            if target is not None and origin(target) == home:
                url = target
                continue
            raise APIStatusError(
                f"redirected to {_safe_origin(target)}; not followed, so that the API key is "
                "not sent to another origin (check the base URL)",
                status_code=status, headers=resp_headers, body=None,
                method="GET", path=path, attempts=attempt, request_id=request_id,
            )
        raise status_error(status, reason, resp_headers, body, path=path, attempt=attempt)
    raise APIConnectionError(
        f"more than {_MAX_REDIRECTS} redirects", retryable=False,
        method="GET", path=path, attempts=attempt,
    )


def status_error(
    status: int,
    reason: str | None,
    headers: Mapping[str, str],
    body: bytes,
    *,
    path: str,
    attempt: int,
    now: float | None = None,
) -> APIStatusError:
    """The typed error for a non-2xx answer, with the server's message and code."""
    parsed = parse_error_body(body, status, reason)
    cls = status_error_class(status, parsed.message)
    return cls(
        parsed.message,
        status_code=status,
        code=parsed.code,
        headers=headers,
        body=parsed.parsed,
        retry_after=parse_retry_after(headers, time.time() if now is None else now),
        method="GET",
        path=path,
        attempts=attempt,
        request_id=headers.get("x-request-id"),
    )


def _redirect_target(url: URL, location: str) -> URL | None:
    try:
        return url.join(URL(location))
    except (ValueError, TypeError):
        return None


def _safe_origin(url: URL | None) -> str:
    if url is None or not url.host:
        return "an unreadable location"
    return f"{url.scheme}://{url.host}" + (f":{url.port}" if url.explicit_port else "")


def timed_out(path: str, attempt: int) -> APITimeoutError:
    """The error of an attempt that ran past its ``total`` time."""
    return APITimeoutError(_TIMED_OUT, retryable=True, method="GET", path=path,
                           attempts=attempt)


_TIMED_OUT = "the attempt timed out before a full answer arrived"


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
    # ServerTimeoutError (sock_read/connect) and the plain TimeoutError of `total`.
    if isinstance(exc, _TIMEOUTS):
        return error(_TIMED_OUT)
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return error(f"invalid URL: {exc}", retryable=False)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return error(f"the response body was cut short ({exc})")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return error("the server closed the connection without answering")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return error(f"cannot connect to {exc.host}:{exc.port} ({exc.os_error.strerror or exc})")
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return error(f"{type(exc).__name__}: {exc}")
    # Anything else (a bug in a trace hook, a header aiohttp refuses) is still reported as
    # ours, but another attempt cannot fix it.
    return error(f"unexpected {type(exc).__name__}: {exc}", retryable=False)
