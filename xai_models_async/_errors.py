"""Every exception this library raises, and the parser for xAI's error bodies.

The tree::

    XAIError                          base of everything raised here (also misuse: no key,
     |                                client used from a second event loop)
     +-- ClientClosedError            the client was closed before or during the call
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
                                      a 2xx body that is not JSON, does not fit the Struct,
                                      or is larger than ``max_response_bytes``

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

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
    "XAIError",
    "status_error_class",
]


class XAIError(Exception):
    """Base class of every exception raised by ``xai_models_async``."""


class ClientClosedError(XAIError):
    """The ``AsyncClient`` was closed: before the call, or while it waited to retry (a
    call sleeping before a retry is woken at once by ``close()``)."""


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


# Money words only: xAI's generic 429 code is gRPC's "Some resource has been exhausted",
# which is an ordinary rate limit and must still be retried.
_EXHAUSTED = re.compile(
    r"credit|spending[ _-]?limit|insufficient[ _-]?(?:balance|funds)|billing|"
    r"out of funds|payment required",
    re.IGNORECASE,
)


def is_credit_exhaustion(message: str, code: object = None) -> bool:
    """Does a 429's message or code say the money, not the rate, ran out?"""
    return bool(_EXHAUSTED.search(message) or (code is not None and _EXHAUSTED.search(str(code))))


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
