"""Every exception this library raises, and the parser for xAI's error bodies.

The tree::

    XAIError                          base of everything raised here (also misuse: no key,
     |                                closed client, client used from a second event loop)
     +-- APIError                     something went wrong talking to the API
          +-- APIStatusError          the server answered with a non-2xx status
          |    +-- BadRequestError            400
          |    |                              (a 400 that says the API key is wrong raises
          |    |                               AuthenticationError instead, status 400 kept)
          |    +-- AuthenticationError        401, or 400 "Incorrect API key"
          |    +-- PermissionDeniedError      403 (e.g. a team without credits)
          |    +-- NotFoundError              404 (unknown model id)
          |    +-- ConflictError              409
          |    +-- UnprocessableEntityError   422
          |    +-- RateLimitError             429 (``exhausted`` is True for spent credits)
          |    +-- InternalServerError        >= 500
          +-- APIConnectionError      no usable answer: refused, reset, TLS, truncated body
          |    +-- APITimeoutError    one attempt exceeded its timeout, or the retry deadline
          +-- APIResponseValidationError
                                      a 2xx body that is not JSON or does not fit the Struct

``ValueError`` is raised, before any request, for arguments that can never be valid (an
empty model id, a negative concurrency).

Every ``APIError`` names the request (``method``, ``path``), carries ``attempts`` (how many
HTTP attempts were made) and ``request_id`` where the server sent ``x-request-id``. The API
key never appears in any message: header values are never put in messages and any
``xai-...`` token found in a server message is masked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import msgspec
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
    "XAIError",
]


class XAIError(Exception):
    """Base class of every exception raised by ``xai_models_async``."""


class APIError(XAIError):
    """A request to the xAI API failed. ``method`` and ``path`` name it."""

    method: str
    path: str
    attempts: int
    request_id: str | None

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        attempts: int = 1,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path
        self.attempts = attempts
        self.request_id = request_id

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments and a CIMultiDict of headers defeat the default pickling
        # of exceptions; errors must cross process boundaries (executors, task queues).
        state = dict(self.__dict__)
        headers = state.get("headers")
        if headers is not None:
            state["headers"] = list(headers.items())
        return (_rebuild, (type(self), state))

    def __str__(self) -> str:
        text = self._describe()
        if self.attempts > 1:
            text += f" (after {self.attempts} attempts)"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text

    def _describe(self) -> str:
        return f"{self.method} {self.path}: {self.message}"


def _rebuild(cls: type[APIError], state: dict[str, Any]) -> APIError:
    error = cls.__new__(cls)
    headers = state.get("headers")
    if headers is not None:
        state["headers"] = CIMultiDictProxy(CIMultiDict(headers))
    error.__dict__.update(state)
    error.args = (state.get("message", ""),)
    return error


class APIConnectionError(APIError):
    """No usable answer came back: connection refused or reset, DNS or TLS failure,
    the server closed the connection, or the body arrived truncated.

    ``retryable`` is False for failures that another attempt cannot fix (TLS and
    certificate errors, invalid URLs). The original exception is ``__cause__``.
    """

    def __init__(self, message: str, *, retryable: bool = True, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retryable = retryable


class APITimeoutError(APIConnectionError):
    """An attempt took longer than its timeout, or retries ran past the policy deadline."""


class APIResponseValidationError(APIError):
    """The server answered 2xx with a body that is not JSON or does not fit the expected
    Struct. The message carries msgspec's path to the bad value, e.g. ``$.models[0].created``.
    ``body`` holds (the start of) the raw bytes."""

    def __init__(self, message: str, *, body: bytes = b"", status_code: int = 200,
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.body = body
        self.status_code = status_code


class APIStatusError(APIError):
    """The server answered with a non-2xx status.

    ``status_code``: the HTTP status. ``code``: the machine code from the body, as sent
    (a sentence, a kebab-case word or a number; ``None`` if absent). ``message``: the human
    message, URL-decoded. ``headers``: the response headers. ``body``: the parsed JSON body,
    or the raw text when it was not JSON. ``retry_after``: the server's requested wait in
    seconds, when it sent one. ``from_server`` is False for the ``NotFoundError`` that
    ``resolve`` and ``Catalog.find`` raise themselves (``status_code`` 404, ``code``
    ``"not_found"``, no request id).
    """

    status_code: int

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | int | None = None,
        headers: Mapping[str, str] | None = None,
        body: object = None,
        retry_after: float | None = None,
        from_server: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.from_server = from_server
        self.status_code = status_code
        self.code = code
        self.headers: Mapping[str, str] = CIMultiDictProxy(CIMultiDict(headers or {}))
        self.body = body
        self.retry_after = retry_after

    def _describe(self) -> str:
        if not self.from_server:  # raised by resolve()/Catalog.find, no HTTP status seen
            return f"{self.method} {self.path}: {self.message}"
        text = f"{self.method} {self.path} -> HTTP {self.status_code}: {self.message}"
        if self.code is not None and str(self.code) not in self.message:
            text += f" (code: {self.code})"
        if self.retry_after is not None:
            text += f" (server asked to wait {self.retry_after:g} s)"
        return text


class BadRequestError(APIStatusError):
    """HTTP 400: the request was invalid."""


class AuthenticationError(APIStatusError):
    """HTTP 401, or the HTTP 400 that xAI sends for a wrong API key (``status_code`` stays
    400 then). Check ``XAI_API_KEY``."""


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the key may not do this (xAI sends it to teams without credits)."""


class NotFoundError(APIStatusError):
    """HTTP 404: no such model, or the team has no access to it. ``suggestions`` may list
    close matches (filled by ``resolve``)."""

    suggestions: tuple[str, ...] = ()


class ConflictError(APIStatusError):
    """HTTP 409."""


class UnprocessableEntityError(APIStatusError):
    """HTTP 422."""


class RateLimitError(APIStatusError):
    """HTTP 429. ``exhausted`` is True when the body says credits or a spending limit are
    used up: waiting will not help, so such an error is never retried."""

    @property
    def exhausted(self) -> bool:
        return is_credit_exhaustion(self.message, self.code)


class InternalServerError(APIStatusError):
    """HTTP 500 or above (529 means xAI is overloaded)."""


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

_WRONG_KEY = re.compile(r"api[ _-]?key", re.IGNORECASE)
_WRONG_KEY_HINT = re.compile(r"incorrect|invalid|wrong|malformed|missing|no api key", re.I)
# Money words only: xAI's generic 429 code is gRPC's "Some resource has been exhausted",
# which is an ordinary rate limit and must still be retried.
_EXHAUSTED = re.compile(
    r"credit|spending[ _-]?limit|insufficient[ _-]?(?:balance|funds)|billing|"
    r"out of funds|payment required",
    re.IGNORECASE,
)
_SECRET = re.compile(r"xai-[A-Za-z0-9_\-]{6,}")
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_MAX_MESSAGE = 500


def status_error_class(status: int, message: str) -> type[APIStatusError]:
    """The exception class for an HTTP status and the server's message."""
    if status == 400 and _WRONG_KEY.search(message) and _WRONG_KEY_HINT.search(message):
        return AuthenticationError
    cls = _STATUS_CLASSES.get(status)
    if cls is not None:
        return cls
    if status >= 500:
        return InternalServerError
    return APIStatusError


def is_credit_exhaustion(message: str, code: object = None) -> bool:
    """Does a 429's message or code say the money, not the rate, ran out?"""
    return bool(_EXHAUSTED.search(message) or (code is not None and _EXHAUSTED.search(str(code))))


class ErrorBody(msgspec.Struct, frozen=True):
    """What :func:`parse_error_body` found: a message (never empty), the code if any, and the
    parsed JSON (or the text) for ``APIStatusError.body``."""

    message: str
    code: str | int | None
    parsed: object


def parse_error_body(body: bytes, status: int, reason: str | None = None) -> ErrorBody:
    """Read either xAI error shape, or anything else a server or proxy sends.

    ``{"code": "...", "error": "message"}`` and ``{"error": {"message", "type", "code"}}``
    are understood; a URL-encoded message is decoded; an HTML page is reduced to its text;
    an empty body falls back to the HTTP reason. Never raises.
    """
    parsed: object = None
    message: str | None = None
    code: str | int | None = None
    text = body.decode("utf-8", "replace").strip() if body else ""
    if text:
        try:
            parsed = _decode_json(body, text)
        except (msgspec.DecodeError, RecursionError):  # msgspec: ~1,000 levels deep
            parsed = text
            message = text  # not JSON: HTML from a proxy, plain text, a cut-off body
        else:
            if isinstance(parsed, dict):
                message, code = _from_mapping(parsed)
            elif isinstance(parsed, str) and parsed:
                message = parsed
    if message:
        message = _clean(message)
    if not message:
        reason_text = reason or "no reason given"
        message = f"HTTP {status} {reason_text} (empty or unreadable error body)"
    return ErrorBody(message=message, code=code, parsed=parsed if parsed is not None else text)


def _decode_json(body: bytes, text: str) -> object:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        # One invalid UTF-8 byte should not cost the parsed message: retry on the text
        # with the bad bytes replaced (the same text, when it was not JSON at all).
        return msgspec.json.decode(text.encode())


def _from_mapping(obj: dict[Any, Any]) -> tuple[str | None, str | int | None]:
    err = obj.get("error")
    code = _as_code(obj.get("code"))
    message: str | None = None
    if isinstance(err, dict):
        message = _as_text(err.get("message"))
        if code is None:
            code = _as_code(err.get("code"))
        if code is None:
            code = _as_code(err.get("type"))
    elif err is not None:
        message = _as_text(err)
    if message is None:
        message = _as_text(obj.get("message")) or _as_text(obj.get("detail"))
    if message is None and isinstance(code, str):
        message = code
    return message, code


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, (int, float, bool)):
        return str(value)
    try:
        return msgspec.json.encode(value).decode()
    except (TypeError, msgspec.EncodeError):
        return None


def _as_code(value: object) -> str | int | None:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, int)):
        return value if value != "" else None
    return None


def _clean(message: str) -> str:
    if _PERCENT_ESCAPE.search(message):
        # xAI has sent messages URL-encoded ("Incorrect%20API%20key"); a bare "100%" has no
        # escape and is left alone.
        message = unquote(message)
    if "<" in message and ">" in message:
        message = _TAGS.sub(" ", message)
    message = _SPACE.sub(" ", message).strip()
    message = mask_secrets(message)
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    return message


def mask_secrets(text: str) -> str:
    """Replace anything that looks like an xAI API key with a masked form."""
    return _SECRET.sub(lambda m: m.group(0)[:6] + "***", text)
